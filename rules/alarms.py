"""Mapping alarm events to scenarios: sensor type, metric, video detection, time window.

Firing and resolved events of one device map to the same scenario, so the resolved
event can find and close the ticket the firing one opened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from cityops.domain.models import AlarmEvent
from cityops.rules.schema import AlarmRule


@dataclass(frozen=True)
class AlarmVerdict:
    scenario_id: str | None
    rule: str | None
    reason: str
    # A rule says this is no alarm (construction noise by day): nothing to do, not unknown.
    silent: bool = False


class AlarmMatcher:
    """Alarm rules indexed by sensor type; `verdict(event)` is pure."""

    def __init__(self, rules: Mapping[str, list[AlarmRule]]) -> None:
        self._by_sensor: dict[str, list[tuple[str, AlarmRule]]] = {}
        for sid, alarm_rules in rules.items():
            for rule in alarm_rules:
                self._by_sensor.setdefault(rule.sensor_type, []).append((sid, rule))

    @property
    def sensor_types(self) -> frozenset[str]:
        return frozenset(self._by_sensor)

    def verdict(self, event: AlarmEvent) -> AlarmVerdict:
        candidates = self._by_sensor.get(event.sensor_type)
        if not candidates:
            return AlarmVerdict(None, None, f"no alarm rule for sensor type {event.sensor_type!r}")
        outside_reason: str | None = None
        for sid, rule in candidates:
            if rule.metrics and event.metric not in rule.metrics:
                continue
            if rule.detection is not None and rule.detection != event.detection:
                continue
            window = rule.local_window
            if window is not None:
                local = event.occurred_at.astimezone(ZoneInfo(window.tz)).time()
                if not window.contains(local):
                    outside_reason = window.outside_reason
                    continue
            return AlarmVerdict(sid, rule.label, f"alarm rule {rule.label}")
        if outside_reason is not None:
            return AlarmVerdict(None, None, outside_reason, silent=True)
        what = event.detection if event.sensor_type == "video_ai" else event.metric
        return AlarmVerdict(None, None, f"no alarm rule for {event.sensor_type!r} with {what!r}")
