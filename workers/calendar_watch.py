"""The loud start-up warning when the working calendar is confirmed for too few days.

Every long-running process calls ``announce_calendar(process)`` as it starts: the
worker, the API and ``cityops up``. While fewer than 60 days ahead are confirmed
(rules/calendar_coverage.py) it logs ``calendar_not_confirmed`` at error level and
prints a framed banner on stderr, which ``cityops up`` shows on the terminal and the
children write to their logs. The API's ``GET /health`` carries the same fact for
monitoring, computed on every request.
"""

from __future__ import annotations

import sys
import textwrap
from datetime import date, datetime
from typing import TextIO

import structlog

from cityops.domain.zones import SHANGHAI
from cityops.rules.calendar import WorkingHours
from cityops.rules.calendar_coverage import CalendarCoverage, calendar_coverage
from cityops.rules.calendar_loader import project_working_hours

log = structlog.get_logger(__name__)
_RULE = "!" * 78


def shanghai_today() -> date:
    return datetime.now(SHANGHAI).date()


def current_coverage(
    today: date | None = None, hours: WorkingHours | None = None
) -> CalendarCoverage:
    """The project's calendar coverage as seen today in Shanghai (or on ``today``)."""
    return calendar_coverage(hours or project_working_hours(), today or shanghai_today())


def announce_calendar(
    process: str,
    today: date | None = None,
    hours: WorkingHours | None = None,
    stream: TextIO | None = None,
) -> CalendarCoverage:
    """Log the calendar's coverage; shout when it is short. Returns what it found."""
    coverage = current_coverage(today, hours)
    facts = {
        "process": process,
        "confirmed_through": coverage.confirmed_through.isoformat(),
        "days_ahead": coverage.days_ahead,
        "min_days_ahead": coverage.min_days_ahead,
        "source": coverage.source,
    }
    warning = coverage.warning()
    if warning is None:
        log.info("calendar_confirmed", **facts)
        return coverage
    log.error("calendar_not_confirmed", warning=warning, **facts)
    print(banner(warning), file=stream or sys.stderr, flush=True)
    return coverage


def banner(warning: str) -> str:
    """The warning framed so it stands out among log lines."""
    lines = textwrap.wrap(warning, width=len(_RULE) - 3)
    return "\n".join([_RULE, *(f"!! {line}" for line in lines), _RULE])
