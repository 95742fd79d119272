"""A real browser opens the supervisor's dashboard (served by uvicorn on a free port) and
the offline report file: Debian's headless Chromium (/usr/bin/chromium, with
fonts-noto-cjk for the Chinese text; .ci/run installs both) runs plotly and the test
reads the DOM it built: the charts are drawn, and the figures and times are there."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import typer
import uvicorn
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from cityops.api.app import create_app
from cityops.cli import cityview_cmd
from cityops.config import Settings
from tests.api.stack import Organisation
from tests.register.fixtures import seeded_register

CHROMIUM = "/usr/bin/chromium"
WINDOW = "from=2026-12-01&to=2026-12-02"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def chromium(url: str, *extra: str) -> str:
    """The DOM after the page's scripts ran (virtual time lets plotly finish drawing)."""
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1300,2400", "--virtual-time-budget=15000", *extra, url],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout


def drawn_charts(dom: str) -> set[str]:
    """Ids of plotly charts that rendered bars: each chart's part of the DOM (up to the next
    chart) holds plotly's svg with bar points in it."""
    parts = re.split(r'(?=id="chart-[a-z-]+")', dom)
    drawn = set()
    for part in parts[1:]:
        chart_id = re.match(r'id="(chart-[a-z-]+)"', part)
        if chart_id and 'class="main-svg"' in part and 'class="point"' in part:
            drawn.add(chart_id.group(1))
    return drawn


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Organisation:
    return seeded_register(tmp_path_factory.mktemp("browser"))


@pytest.fixture
def server(dev_env: WorkflowEnvironment, org: Organisation) -> Iterator[str]:
    port = _free_port()
    settings = Settings(database_url=org.url, public_url=f"http://127.0.0.1:{port}")

    async def provide() -> Client:
        return dev_env.client  # the dashboard reads the database only

    app = create_app(settings, provide, locator=None)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/dashboard/plotly.min.js", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_the_dashboard_draws_its_charts_and_shows_the_figures(server: str, tmp_path: Path) -> None:
    dom = chromium(f"{server}/dashboard?{WINDOW}", "--dump-dom")
    assert drawn_charts(dom) == {"chart-per-hour", "chart-scores", "chart-league", "chart-slowest"}
    assert re.search(r'id="kpi-received">\s*7\s*<', dom)
    assert re.search(r'id="kpi-overdue-now">\s*2\s*<', dom)
    assert "闭环处置率" in dom and "2026-12-01 00:00 (UTC+8)" in dom
    assert f'href="{server}/tickets/D"' in dom  # the overdue ticket links to its page

    street = chromium(f"{server}/dashboard?{WINDOW}&street=T02", "--dump-dom")
    assert re.search(r'id="kpi-received">\s*2\s*<', street) and "T02" in street

    shot = tmp_path / "dashboard.png"
    chromium(f"{server}/dashboard?{WINDOW}", f"--screenshot={shot}")
    assert shot.stat().st_size > 50_000  # a page with charts and text, not a blank one


def test_the_report_file_works_offline_in_the_browser(
    org: Organisation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", org.url)
    cli = typer.Typer()
    cityview_cmd.register(cli, typer.Typer())
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", "--from", "2026-12-01", "--to", "2026-12-02",
                                      "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    # No network for the browser: everything the page needs is in the file.
    offline = ["--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]
    dom = chromium(out.as_uri(), "--dump-dom", *offline)
    assert drawn_charts(dom) == {"chart-per-hour", "chart-scores", "chart-league", "chart-slowest"}
    assert re.search(r'id="kpi-closed-loop">\s*28\.6%\s*<', dom)
    assert "张江镇城运分中心" in dom and "超期工单" in dom
