"""``GET /health``: is this API up, and is anything coming that needs a person.

No key, answered even while the app is still connecting to Temporal. Always HTTP 200
while the process serves; ``status`` is ``degraded`` and ``calendar_short`` true while
the working calendar is confirmed for fewer than 60 days ahead (issue 10), so a
monitoring system alerts on the field, not on the status code, and a load balancer
does not take the API out of service for a calendar that needs listing.

There is no Prometheus ``/metrics`` endpoint yet: scrape this JSON (e.g. with a JSON
exporter) and alert on ``calendar_short == true`` or ``calendar_days_ahead < 60``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from cityops.rules.calendar import WorkingHours
from cityops.rules.calendar_coverage import CalendarCoverage, calendar_coverage
from cityops.rules.calendar_loader import project_working_hours
from cityops.workers.calendar_watch import shanghai_today

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "degraded"] = Field(description="degraded: a check below needs a person")
    calendar_short: bool = Field(
        description="True while fewer than calendar.min_days_ahead days are confirmed: alert"
    )
    calendar_days_ahead: int = Field(description="Days after today the calendar is confirmed")
    calendar: CalendarCoverage
    warning: str | None = None


def get_today() -> date:
    """Today in Shanghai; tests override it."""
    return shanghai_today()


def get_working_hours() -> WorkingHours:
    return project_working_hours()


@router.get("/health", response_model=Health)
def health(
    today: Annotated[date, Depends(get_today)],
    hours: Annotated[WorkingHours, Depends(get_working_hours)],
) -> Health:
    coverage = calendar_coverage(hours, today)
    return Health(
        status="degraded" if coverage.short else "ok",
        calendar_short=coverage.short,
        calendar_days_ahead=coverage.days_ahead,
        calendar=coverage,
        warning=coverage.warning(),
    )
