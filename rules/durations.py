"""Parse the durations written in rule files: ISO 8601 ("PT5M") or short ("5m", "4h", "3d")."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import TypeAdapter

_SHORT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_ISO = TypeAdapter(timedelta)


def parse_duration(value: object) -> timedelta:
    """Accept a timedelta, seconds as a number, "5m"-style or ISO 8601; raise ValueError."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _SHORT.match(value)
        if match:
            return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
        try:
            return _ISO.validate_python(value)
        except ValueError:
            pass
    raise ValueError(f"not a duration: {value!r} (use e.g. '5m', '4h', '3d' or 'PT5M')")
