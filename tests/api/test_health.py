"""`GET /health` and the API's start-up warning about the working calendar (issue 10).
"Today" and the calendar are pinned through the app's dependencies: no Temporal needed,
nothing depends on the date the suite runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from structlog.testing import capture_logs
from temporalio.client import Client

from cityops.api import routes_health
from cityops.api.app import create_app
from cityops.config import Settings
from cityops.rules.calendar import OFFICIAL, WorkingHours

LAST = OFFICIAL.last_day


class NoTemporal(Exception):
    pass


async def _no_temporal() -> Client:
    raise NoTemporal


@pytest.fixture(autouse=True)
def _keep_captured_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    # The app configures structlog at start; that would replace capture_logs' processors.
    monkeypatch.setattr("cityops.api.app.configure_logging", lambda *args, **kwargs: None)


def _app(tmp_path: Path, today: date, hours: WorkingHours | None = None) -> FastAPI:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}"), _no_temporal)
    app.dependency_overrides[routes_health.get_today] = lambda: today
    app.dependency_overrides[routes_health.get_working_hours] = lambda: hours or WorkingHours()
    return app


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = _app(tmp_path, LAST - timedelta(days=20))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield app, c


async def test_health_flags_a_calendar_confirmed_for_too_few_days(
    http: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = http
    response = await client.get("/health")
    assert response.status_code == 200  # the API itself serves: alert on the field
    body = response.json()
    assert body["status"] == "degraded"
    assert body["calendar_short"] is True
    assert body["calendar_days_ahead"] == 20
    assert body["calendar"]["confirmed_through"] == LAST.isoformat()
    assert body["calendar"]["min_days_ahead"] == 60
    assert f"NOT CONFIRMED AFTER {LAST}" in body["warning"]


async def test_health_is_ok_once_next_year_is_listed(
    http: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = http
    listed = WorkingHours(confirmed_through=date(LAST.year + 1, 12, 31))
    app.dependency_overrides[routes_health.get_working_hours] = lambda: listed
    body = (await client.get("/health")).json()
    assert (body["status"], body["calendar_short"], body["warning"]) == ("ok", False, None)
    assert body["calendar"]["confirmed_through"] == f"{LAST.year + 1}-12-31"


async def test_the_api_warns_at_start_when_the_calendar_is_short(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = _app(tmp_path, LAST - timedelta(days=30))
    with capture_logs() as logs, pytest.raises(NoTemporal):
        async with app.router.lifespan_context(app):
            pass  # pragma: no cover - the provider refuses first
    warned = [entry for entry in logs if entry["event"] == "calendar_not_confirmed"]
    assert warned and warned[0]["process"] == "api" and warned[0]["days_ahead"] == 30
    assert warned[0]["log_level"] == "error"
    assert f"NOT CONFIRMED AFTER {LAST}" in capsys.readouterr().err


async def test_the_api_starts_quietly_with_a_long_calendar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = _app(tmp_path, date(LAST.year, 1, 2))
    with capture_logs() as logs, pytest.raises(NoTemporal):
        async with app.router.lifespan_context(app):
            pass  # pragma: no cover
    assert [e["event"] for e in logs if e["event"].startswith("calendar")] == ["calendar_confirmed"]
    assert "NOT CONFIRMED" not in capsys.readouterr().err
