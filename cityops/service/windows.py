"""Maintenance windows at the alarm intake: which firing events a window swallows.

`Windows.silencing` answers from a cache of the windows that can still matter (not
ended, ending less than `LOOKBACK` ago), re-read from the register every `TTL` and at
once after this process adds or ends one (`invalidate`). A window created in another
process (the API while MQTT intake runs apart) applies within `TTL`.

Only firing events are swallowed: a `resolved` event still reaches an open ticket, so
a ticket opened before the works can close by sensor recovery.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from cityops.db.silences import SilenceHitRow, record_hits, silences_active_between
from cityops.domain.models import AlarmEvent
from cityops.domain.silences import Silence, silencing
from cityops.rules.incidents import IncidentRules, default_incident_rules

TTL = 5.0  # seconds
LOOKBACK = timedelta(days=7)  # late events of a window that ended up to a week ago
AHEAD = timedelta(days=366)


class Windows:
    def __init__(self, engine: Engine, rules: IncidentRules | None = None) -> None:
        self._engine = engine
        self._protected = (rules or default_incident_rules()).protected
        self._cache: list[Silence] = []
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._read_at = None

    async def silencing(self, event: AlarmEvent, scenario_id: str | None) -> Silence | None:
        if event.status != "firing":
            return None
        windows = await self._windows()
        return silencing(windows, event, scenario_id, event.occurred_at, self._protected)

    async def _windows(self) -> list[Silence]:
        async with self._lock:
            if self._read_at is None or time.monotonic() - self._read_at > TTL:
                now = datetime.now(UTC)
                self._cache = await asyncio.to_thread(
                    silences_active_between, self._engine, now - LOOKBACK, now + AHEAD
                )
                self._read_at = time.monotonic()
            return self._cache

    def record(self, hits: Sequence[tuple[AlarmEvent, str, str | None]]) -> None:
        """Count each swallowed event against its window (event, silence id, scenario)."""
        record_hits(
            self._engine,
            [
                SilenceHitRow(
                    silence_id=silence_id,
                    event_id=event.event_id,
                    device_id=event.device_id,
                    scenario_id=scenario_id,
                    occurred_at=event.occurred_at.astimezone(UTC),
                )
                for event, silence_id, scenario_id in hits
            ],
        )
