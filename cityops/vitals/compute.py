"""Vital signs: each catalogue indicator computed over register facts and alarm records,
coloured by its thresholds, and summarised as scores. Pure: no database, no clock.

A dimension's score starts at 100 and loses 10 for each of its indicators in red and 3
for each in yellow (never below 0), so one gas alarm at 30 %LEL shows, however many other
indicators are green. An indicator without data (no alarm of that kind in the window, a
rate with nothing to divide) is `no_data` and costs nothing. The city's (or a street's)
score is the mean of its three dimension scores.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cityops.domain.stages import Dimension
from cityops.register.kpis import figures, proactive_tickets, shanghai
from cityops.register.records import TicketFacts
from cityops.rules.indicators import (
    AlarmPeak,
    AlarmsFiring,
    AlarmsRefiring,
    Better,
    Indicator,
    KpiValue,
    NewTickets,
    OpenTickets,
    OverdueTickets,
    RepeatPlaces,
    StalledTickets,
    Thresholds,
)

PENALTY = {"green": 0.0, "yellow": 3.0, "red": 10.0, "no_data": 0.0}


@dataclass(frozen=True)
class AlarmRecord:
    """One alarm event from the alarm log, with the street of the ticket it went to."""

    device_id: str
    sensor_type: str
    metric: str
    status: str  # firing | resolved
    occurred_at: datetime
    value: float | None = None
    detection: str | None = None
    street_code: str | None = None


@dataclass
class _Scope:
    """The tickets and alarms of the district or of one street, indexed once."""

    tickets: list[TicketFacts]
    alarms: list[AlarmRecord]
    by_scenario: dict[str, list[TicketFacts]] = field(default_factory=dict)
    by_dimension: dict[str, list[TicketFacts]] = field(default_factory=dict)
    by_metric: dict[tuple[str, str], list[AlarmRecord]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for ticket in self.tickets:
            if ticket.is_work_order:
                self.by_scenario.setdefault(ticket.scenario_id or "", []).append(ticket)
                self.by_dimension.setdefault(ticket.dimension or "", []).append(ticket)
        for alarm in self.alarms:
            self.by_metric.setdefault((alarm.sensor_type, alarm.metric), []).append(alarm)

    def orders(self, scenario: str | None, dimension: str | None) -> list[TicketFacts]:
        if scenario is not None:
            return self.by_scenario.get(scenario, [])
        if dimension is not None:
            return self.by_dimension.get(dimension, [])
        return [t for t in self.tickets if t.is_work_order]


def _alarms(
    scope: _Scope, compute: AlarmsFiring | AlarmsRefiring | AlarmPeak, since: datetime, at: datetime
) -> list[AlarmRecord]:
    return [
        a
        for a in scope.by_metric.get((compute.sensor_type, compute.metric), [])
        if since < a.occurred_at <= at
        and (compute.detection is None or a.detection == compute.detection)
    ]


def value_of(indicator: Indicator, scope: _Scope, at: datetime) -> float | None:
    """The indicator's value at `at` over the scope's tickets and alarms."""
    compute = indicator.compute
    window = indicator.window() or timedelta(0)
    since = at - window
    if isinstance(compute, OpenTickets):
        return float(
            sum(1 for t in scope.orders(compute.scenario, compute.dimension) if not t.is_final)
        )
    if isinstance(compute, OverdueTickets):
        return float(
            sum(1 for t in scope.orders(compute.scenario, compute.dimension) if t.is_overdue(at))
        )
    if isinstance(compute, StalledTickets):
        return float(
            sum(
                1
                for t in scope.orders(compute.scenario, compute.dimension)
                if t.stalled and not t.is_final
            )
        )
    if isinstance(compute, NewTickets):
        return float(
            sum(
                1
                for t in scope.orders(compute.scenario, compute.dimension)
                if since < t.received_at <= at
                and (compute.source is None or t.source == compute.source)
            )
        )
    if isinstance(compute, RepeatPlaces):
        places = Counter(
            (t.scenario_id, t.address)
            for t in scope.orders(compute.scenario, compute.dimension)
            if since < t.received_at <= at and t.address
        )
        return float(sum(1 for count in places.values() if count >= compute.min_tickets))
    if isinstance(compute, AlarmsFiring):
        latest: dict[str, AlarmRecord] = {}
        for alarm in sorted(_alarms(scope, compute, since, at), key=lambda a: a.occurred_at):
            latest[alarm.device_id] = alarm
        return float(sum(1 for a in latest.values() if a.status == "firing"))
    if isinstance(compute, AlarmsRefiring):
        firings = Counter(
            a.device_id for a in _alarms(scope, compute, since, at) if a.status == "firing"
        )
        return float(sum(1 for count in firings.values() if count >= compute.min_firings))
    if isinstance(compute, AlarmPeak):
        values = [
            a.value
            for a in _alarms(scope, compute, since, at)
            if a.status == "firing" and a.value is not None
        ]
        if not values:
            return None
        return max(values) if compute.worst == "max" else min(values)
    assert isinstance(compute, KpiValue)
    received = [
        t for t in scope.orders(None, compute.dimension) if since <= t.received_at <= at
    ] + [t for t in scope.tickets if not t.is_work_order and since <= t.received_at <= at]
    value = figures(received, [], at, proactive_tickets(received, {}))[compute.field]
    return float(value) if value is not None else None


def status_of(value: float | None, thresholds: Thresholds, better: Better) -> str:
    if value is None:
        return "no_data"
    if better is Better.LOWER:
        return (
            "red"
            if value >= thresholds.red
            else "yellow"
            if value >= thresholds.yellow
            else "green"
        )
    return "red" if value <= thresholds.red else "yellow" if value <= thresholds.yellow else "green"


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return round(statistics.fmean(values), 1) if values else None


def _summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    dimensions: dict[str, Any] = {}
    for dimension in Dimension:
        mine = [r for r in rows if r["dimension"] == dimension.value]
        counts = Counter(r["status"] for r in mine)
        dimensions[dimension.value] = {
            "score": max(0.0, 100.0 - sum(PENALTY[r["status"]] for r in mine)),
            **{s: counts.get(s, 0) for s in ("green", "yellow", "red", "no_data")},
        }
    scores = [d["score"] for d in dimensions.values() if d["score"] is not None]
    return {"score": _mean(scores), "dimensions": dimensions}


def evaluate(
    indicators: Sequence[Indicator], scope: _Scope, at: datetime, *, street: bool
) -> list[dict[str, Any]]:
    rows = []
    for indicator in indicators:
        thresholds = (
            indicator.street_thresholds or indicator.thresholds if street else indicator.thresholds
        )
        value = value_of(indicator, scope, at)
        rows.append(
            {
                "id": indicator.id,
                "name_zh": indicator.name_zh,
                "name_en": indicator.name_en,
                "dimension": indicator.dimension.value,
                "unit": indicator.unit,
                "value": round(value, 4) if value is not None else None,
                "status": status_of(value, thresholds, indicator.better),
                "better": indicator.better.value,
                "thresholds": {"yellow": thresholds.yellow, "red": thresholds.red},
            }
        )
    return rows


def vital_signs(
    indicators: Sequence[Indicator],
    tickets: Sequence[TicketFacts],
    alarms: Sequence[AlarmRecord],
    at: datetime,
    *,
    street: str | None = None,
    streets: Sequence[str] = (),
) -> dict[str, Any]:
    """The city's (or one street's) vital signs at `at`; for the district, also each
    street's score (a league table) over `streets`."""
    if street is not None:
        tickets = [t for t in tickets if t.street_code == street]
        alarms = [a for a in alarms if a.street_code == street]
    rows = evaluate(indicators, _Scope(list(tickets), list(alarms)), at, street=street is not None)
    result: dict[str, Any] = {
        "at": shanghai(at),
        "street": street,
        **_summary(rows),
        "counts": dict(Counter(r["status"] for r in rows)),
        "indicators": rows,
    }
    if street is None and streets:
        tickets_of: dict[str | None, list[TicketFacts]] = defaultdict(list)
        alarms_of: dict[str | None, list[AlarmRecord]] = defaultdict(list)
        for ticket in tickets:
            tickets_of[ticket.street_code].append(ticket)
        for alarm in alarms:
            alarms_of[alarm.street_code].append(alarm)
        league = {}
        for code in streets:
            scope = _Scope(tickets_of.get(code, []), alarms_of.get(code, []))
            street_rows = evaluate(indicators, scope, at, street=True)
            league[code] = {
                **_summary(street_rows),
                "red": sum(1 for r in street_rows if r["status"] == "red"),
                "yellow": sum(1 for r in street_rows if r["status"] == "yellow"),
            }
        result["streets"] = league
    return result
