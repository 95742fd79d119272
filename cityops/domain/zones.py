"""The city's time zone: deadlines, ticket numbers and pages are read in Shanghai time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
# China keeps no summer time, so a fixed offset is the same zone; it needs no tz database
# (workflow code formats with it inside the sandbox).
UTC8 = timezone(timedelta(hours=8), "UTC+8")
ZONE_MARK = "(UTC+8)"


def shown(at: datetime, *, seconds: bool = False) -> str:
    """An instant as people read it: Shanghai time with the zone marked,
    e.g. ``2026-12-03 15:30 (UTC+8)``."""
    pattern = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return f"{at.astimezone(UTC8):{pattern}} {ZONE_MARK}"
