"""The supervisor's KPIs: a pure function of register records (docs/kpis.md defines each).

    compute_kpis(records, KpiWindow(start, end, as_of), street=None, incidents={})

Which tickets count where:
- the *window* population: tickets received in ``[start, end)`` (and by ``as_of``);
  every rate and count except the two below is over it, as the tickets stood at ``as_of``;
- ``open_now`` and ``overdue_now`` are over every ticket open at ``as_of``, whenever received.

Dismissed calls are no work orders: they are counted apart (``non_work_orders``) and enter
no rate. A rate whose denominator is zero is ``None`` (JSON null). The output is plain
JSON-ready data, deterministic for the same records: a report of a past window can be
computed again and gives the same bytes.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cityops.domain.stages import CallbackResult, Dimension, Source, Stage
from cityops.domain.zones import SHANGHAI
from cityops.register.records import PROACTIVE_SOURCES, EventRecord, TicketFacts, fold_all

NON_WORK_ORDER_KINDS = ("dismissed", "consultation", "referral", "suggestion")
UNKNOWN = "unknown"  # the group of tickets without that fact (triage has no scenario)
SATISFIED = frozenset({CallbackResult.SATISFIED, CallbackResult.BASICALLY_SATISFIED})
BREAKDOWNS: dict[str, Callable[[TicketFacts], str | None]] = {
    "by_street": lambda t: t.street_code,
    "by_station": lambda t: t.station_code,
    "by_scenario": lambda t: t.scenario_id,
    "by_category": lambda t: t.category_id,
    "by_dimension": lambda t: t.dimension,
}
RATES = (
    "proactive_discovery_rate",
    "closed_loop_rate",
    "accepted_on_time_rate",
    "resolved_on_time_rate",
    "reopen_rate",
    "return_rate",
    "extension_rate",
    "satisfaction_rate",
)


@dataclass(frozen=True)
class KpiWindow:
    """Tickets received in [start, end), as they stood at as_of (at most end)."""

    start: datetime
    end: datetime
    as_of: datetime

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ValueError("from: must be before to")
        if self.as_of > self.end:
            raise ValueError("as_of: must not be after to")

    def holds(self, received_at: datetime) -> bool:
        return self.start <= received_at < self.end and received_at <= self.as_of


def shanghai(value: datetime) -> str:
    """An instant as ISO 8601 in Shanghai time, offset marked (+08:00)."""
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _median_minutes(durations: list[float]) -> float | None:
    return round(statistics.median(durations) / 60, 1) if durations else None


def proactive_tickets(tickets: Iterable[TicketFacts], incidents: Mapping[str, str]) -> set[str]:
    """Tickets found proactively: from a sensor, camera or grid inspector, or joined to an
    incident that such a source opened before the ticket came in."""
    tickets = list(tickets)
    first_proactive: dict[str, datetime] = {}
    for ticket in tickets:
        incident = incidents.get(ticket.ticket_id)
        if incident is not None and ticket.source in PROACTIVE_SOURCES:
            seen = first_proactive.get(incident)
            if seen is None or ticket.received_at < seen:
                first_proactive[incident] = ticket.received_at
    found = set()
    for ticket in tickets:
        incident = incidents.get(ticket.ticket_id)
        sensor_first = incident is not None and incident in first_proactive
        if ticket.source in PROACTIVE_SOURCES or (
            sensor_first and first_proactive[incident] <= ticket.received_at  # type: ignore[index]
        ):
            found.add(ticket.ticket_id)
    return found


def figures(
    window_tickets: list[TicketFacts],
    open_tickets: list[TicketFacts],
    as_of: datetime,
    proactive: set[str],
) -> dict[str, Any]:
    """The KPI fields for one group: `window_tickets` received in the window,
    `open_tickets` open at `as_of`."""
    orders = [t for t in window_tickets if t.is_work_order]
    others = Counter(t.non_work_order_kind for t in window_tickets if not t.is_work_order)
    dispatched = [t for t in orders if t.dispatched_at is not None]
    accepted = [t for t in orders if t.accepted_at is not None]
    accept_due = [
        t
        for t in dispatched
        if t.first_accept_deadline is not None
        and (t.accepted_at is not None or t.first_accept_deadline <= as_of)
    ]
    accepted_on_time = [
        t
        for t in accept_due
        if t.accepted_at is not None
        and t.first_accept_deadline is not None
        and t.accepted_at <= t.first_accept_deadline
    ]
    resolve_due = [
        t
        for t in accepted
        if t.resolved_at is not None
        or t.stage is Stage.CLOSED_UNFIXED
        or (t.resolve_deadline is not None and t.resolve_deadline <= as_of and not t.paused)
    ]
    resolved_on_time = [t for t in resolve_due if t.resolved_at is not None and t.resolved_on_time]
    resolved = [t for t in orders if t.resolutions]
    closed = [t for t in orders if t.stage is Stage.CLOSED]
    called_back = [t for t in orders if t.callback is not None]
    by_source = {source.value: 0 for source in Source}
    for ticket in orders:
        by_source[ticket.source.value] += 1
    open_orders = [t for t in open_tickets if t.is_work_order]
    return {
        "received": len(orders),
        "by_source": by_source,
        "non_work_orders": {
            "received": sum(others.values()),
            **{kind: others.get(kind, 0) for kind in NON_WORK_ORDER_KINDS},
        },
        "proactive_discovery_rate": _rate(
            sum(1 for t in orders if t.ticket_id in proactive), len(orders)
        ),
        "closed_loop_rate": _rate(len(closed), len(orders)),
        "closed": len(closed),
        "closed_unfixed": sum(1 for t in orders if t.stage is Stage.CLOSED_UNFIXED),
        "accepted_on_time_rate": _rate(len(accepted_on_time), len(accept_due)),
        "resolved_on_time_rate": _rate(len(resolved_on_time), len(resolve_due)),
        "reopen_rate": _rate(sum(1 for t in resolved if t.reopens), len(resolved)),
        "return_rate": _rate(sum(1 for t in dispatched if t.returns), len(dispatched)),
        "extension_rate": _rate(sum(1 for t in accepted if t.extensions), len(accepted)),
        "satisfaction_rate": _rate(
            sum(1 for t in called_back if t.callback in SATISFIED), len(called_back)
        ),
        "median_minutes_to_accept": _median_minutes(
            [
                (t.accepted_at - t.dispatched_at).total_seconds()
                for t in accepted
                if t.dispatched_at is not None and t.accepted_at is not None
            ]
        ),
        "median_minutes_to_resolve": _median_minutes(
            [(t.resolved_at - t.received_at).total_seconds() for t in orders if t.resolved_at]
        ),
        "open_now": len(open_orders),
        "triage_now": sum(1 for t in open_orders if t.stage is Stage.TRIAGE),
        "overdue_now": sum(1 for t in open_orders if t.is_overdue(as_of)),
        "denominators": {
            "received": len(orders),
            "accept_due": len(accept_due),
            "resolve_due": len(resolve_due),
            "resolved": len(resolved),
            "dispatched": len(dispatched),
            "accepted": len(accepted),
            "called_back": len(called_back),
        },
    }


def compute_kpis(
    records: Iterable[EventRecord],
    window: KpiWindow,
    *,
    street: str | None = None,
    incidents: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Every KPI for the district (or one street), and the same fields per street,
    station, scenario, category and dimension. Pure: same records, same answer."""
    tickets = [
        t
        for t in fold_all(records, window.as_of)
        if t.received_at <= window.as_of and (street is None or t.street_code == street)
    ]
    return kpis_of(tickets, window, street=street, incidents=incidents)


def kpis_of(
    tickets: list[TicketFacts],
    window: KpiWindow,
    *,
    street: str | None = None,
    incidents: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`compute_kpis` over tickets already folded at ``window.as_of``."""
    in_window = [t for t in tickets if window.holds(t.received_at)]
    open_now = [t for t in tickets if not t.is_final]
    proactive = proactive_tickets(tickets, incidents or {})
    result: dict[str, Any] = {
        "window": {
            "from": shanghai(window.start),
            "to": shanghai(window.end),
            "as_of": shanghai(window.as_of),
            "street": street,
            "timezone": "Asia/Shanghai (UTC+8)",
        },
        **figures(in_window, open_now, window.as_of, proactive),
    }
    for name, key_of in BREAKDOWNS.items():
        groups: dict[str, tuple[list[TicketFacts], list[TicketFacts]]] = {}
        if name == "by_dimension":
            groups = {dimension.value: ([], []) for dimension in Dimension}
        for ticket in in_window:
            groups.setdefault(key_of(ticket) or UNKNOWN, ([], []))[0].append(ticket)
        for ticket in open_now:
            groups.setdefault(key_of(ticket) or UNKNOWN, ([], []))[1].append(ticket)
        result[name] = {
            key: figures(group_window, group_open, window.as_of, proactive)
            for key, (group_window, group_open) in sorted(groups.items())
        }
    return result
