"""The city's time zone: deadlines, ticket numbers and pages are read in Shanghai time."""

from __future__ import annotations

from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
