"""Reads rules/calendar.yaml into a WorkingHours; the only I/O of the SLA calendar.

Exceptions (one tree):

    CalendarConfigError(ValueError)   the file is missing, not YAML, or has a bad field
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from cityops.rules.calendar import WorkingHours

CALENDAR_FILE = Path(__file__).resolve().parent / "calendar.yaml"


class CalendarConfigError(ValueError):
    """The working-calendar file cannot be used; the message names the file and field."""


def load_working_hours(path: Path = CALENDAR_FILE) -> WorkingHours:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CalendarConfigError(f"{path}: cannot read: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise CalendarConfigError(f"{path}: not valid YAML: {error}") from error
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise CalendarConfigError(
            f"{path}: expected a mapping at the top, got {type(raw).__name__}"
        )
    try:
        return WorkingHours.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or '(top)'}: {issue['msg']}"
            for issue in error.errors()
        )
        raise CalendarConfigError(f"{path}: {problems}") from error


@lru_cache(maxsize=1)
def project_working_hours() -> WorkingHours:
    """The project's calendar, read once per process (workers call this at start-up)."""
    return load_working_hours()
