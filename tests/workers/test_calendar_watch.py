"""The start-up warning every process gives when the working calendar runs out soon
(the worker, the API and `cityops up` call announce_calendar). "Today" is pinned."""

from __future__ import annotations

import io
from datetime import date, timedelta

from structlog.testing import capture_logs

from cityops.rules.calendar import OFFICIAL, WorkingHours
from cityops.workers.calendar_watch import announce_calendar

LAST = OFFICIAL.last_day


def test_a_short_calendar_is_logged_as_an_error_and_framed_on_stderr() -> None:
    stream = io.StringIO()
    with capture_logs() as logs:
        coverage = announce_calendar("worker", LAST - timedelta(days=28), WorkingHours(), stream)
    assert coverage.short
    (entry,) = [e for e in logs if e["event"] == "calendar_not_confirmed"]
    assert entry["log_level"] == "error"
    assert (entry["process"], entry["days_ahead"], entry["min_days_ahead"]) == ("worker", 28, 60)
    assert entry["confirmed_through"] == LAST.isoformat()
    banner = stream.getvalue().splitlines()
    assert banner[0] == banner[-1] == "!" * 78
    assert all(line.startswith("!! ") and len(line) <= 78 for line in banner[1:-1])
    assert f"NOT CONFIRMED AFTER {LAST}" in " ".join(banner)


def test_a_calendar_listed_a_year_ahead_starts_quietly() -> None:
    stream = io.StringIO()
    hours = WorkingHours(confirmed_through=date(LAST.year + 1, 12, 31))
    with capture_logs() as logs:
        coverage = announce_calendar("up", LAST - timedelta(days=28), hours, stream)
    assert not coverage.short
    assert [e["event"] for e in logs] == ["calendar_confirmed"]
    assert stream.getvalue() == ""
