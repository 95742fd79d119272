"""`cityops kpi`, `vitals`, `report` and `register purge` as a supervisor runs them, on the
hand-made register in a migrated, seeded SQLite database."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from cityops.cli import cityview_cmd
from cityops.register.tables import TicketEventRow, TicketRow
from tests.api.stack import Organisation
from tests.register.fixtures import seeded_register

WINDOW = ["--from", "2026-12-01", "--to", "2026-12-02"]


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Organisation:
    return seeded_register(tmp_path_factory.mktemp("cityview"))


@pytest.fixture
def cli(org: Organisation, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("DATABASE_URL", org.url)
    monkeypatch.setenv("CITYOPS_PUBLIC_URL", "http://ops.example:8080")
    app = typer.Typer()
    cityview_cmd.register(app, typer.Typer())
    return app


def test_kpi_table_shows_the_rates_in_shanghai_time(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["kpi", *WINDOW])
    assert result.exit_code == 0, result.output
    assert "2026-12-01 00:00 (UTC+8)" in result.output
    assert re.search(r"received\s+7\s+\(hotline 4, grid 1, iot 1, video 1\)", result.output)
    assert re.search(r"closed_loop_rate\s+28\.6%", result.output)
    assert re.search(r"overdue_now\s+2", result.output)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--from", "2026-12-02", "--to", "2026-12-01"], "from:"),
        (["--from", "1 December"], "from:"),
        (["--to", "2026-12-01T25:00"], "to:"),
        ([*WINDOW, "--street", "X1"], "street:"),
    ],
)
def test_bad_input_is_an_error_naming_the_parameter(
    cli: typer.Typer, args: list[str], named: str
) -> None:
    for command in ("kpi", "report"):
        extra = ["--out", "unused.html"] if command == "report" else []
        result = CliRunner().invoke(cli, [command, *args, *extra])
        assert result.exit_code == 2
        assert f"error: {named}" in result.output


def test_vitals_prints_dimension_scores_and_red_indicators(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["vitals", "--at", "2026-12-02"])
    assert result.exit_code == 0, result.output
    assert "vital signs of the district at 2026-12-02 00:00 (UTC+8)" in result.output
    assert "alarm.gas_detector.lel_percent.peak" in result.output
    assert re.search(r"T01\s+score \d", result.output)


def test_report_is_one_self_contained_html_file(cli: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", *WINDOW, "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    # Nothing is loaded from elsewhere: no external script, stylesheet or font.
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?(https?:)?//""", html)
    assert "Plotly.newPlot" in html and len(html) > 3_000_000  # plotly.min.js inside
    for chart in ("chart-per-hour", "chart-scores", "chart-league", "chart-slowest"):
        assert f'id="{chart}"' in html
    assert "张江镇城运分中心" in html and "2026-12-01 14:10 (UTC+8)" in html
    assert 'href="http://ops.example:8080/tickets/D"' in html


def test_purge_keeps_open_tickets_and_removes_old_closed_ones(
    cli: typer.Typer, org: Organisation, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ten days before this is 1 December 12:00 Shanghai: A (closed 10:40) and K (30
    # November) go; B, E and H closed later that day; C D F G I are open and always stay.
    monkeypatch.setattr(cityview_cmd, "_now", lambda: datetime(2026, 12, 11, 4, tzinfo=UTC))
    dry = CliRunner().invoke(cli, ["register", "purge", "--older-than-days", "10", "--dry-run"])
    assert dry.exit_code == 0 and "would delete 2 tickets" in dry.output
    monkeypatch.setenv("CITYOPS_REGISTER_RETENTION_DAYS", "10")
    done = CliRunner().invoke(cli, ["register", "purge"])
    assert done.exit_code == 0, done.output
    assert "deleted 2 tickets closed before 2026-12-01 12:00 (UTC+8)" in done.output
    with Session(org.engine) as session:
        left = set(session.exec(select(TicketRow.ticket_id)).all())
        assert {"A", "K"}.isdisjoint(left) and set("BCDEFGHIJ") <= left
        orphans = session.exec(
            select(func.count())
            .select_from(TicketEventRow)
            .where(
                TicketEventRow.ticket_id.in_(["A", "K"])  # type: ignore[attr-defined]
            )
        ).one()
        assert orphans == 0
