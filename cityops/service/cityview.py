"""The supervisor's city view over the application database: KPIs, vital signs and the
figures of the report and dashboard. Shared by the CLI and the API, so both answer the
same JSON for the same question; the arithmetic itself is pure (register/kpis.py,
vitals/compute.py).

Inputs are checked here, and a bad one raises `CityViewInputError` naming the parameter:
a malformed instant, a window whose start is not before its end, an unknown street.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, select

from cityops.db.audit import AlarmEventRow, IncidentTicketRow
from cityops.domain.zones import SHANGHAI
from cityops.org.store import load_or_demo
from cityops.register.kpis import KpiWindow, kpis_of, shanghai
from cityops.register.read import load_records
from cityops.register.records import TicketFacts, floored, fold_all
from cityops.register.tables import utc
from cityops.register.write import TICKETS
from cityops.rules.indicators import default_indicators
from cityops.vitals.compute import AlarmRecord, vital_signs

MAX_INPUT = 40  # characters of an instant or a street code
VITALS_LOOKBACK = timedelta(days=7)  # the longest window in the indicator catalogue
DEFAULT_WINDOW = timedelta(days=1)


class CityViewInputError(ValueError):
    """A bad parameter; the message starts with its name."""

    def __init__(self, param: str, problem: str) -> None:
        super().__init__(f"{param}: {problem}")
        self.param = param


def parse_instant(value: str, param: str) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is Shanghai time."""
    text = value.strip()
    if len(text) > MAX_INPUT:
        raise CityViewInputError(param, f"at most {MAX_INPUT} characters")
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise CityViewInputError(
            param,
            f"not an ISO 8601 date or time: {text!r} (e.g. 2026-12-01 or 2026-12-01T08:00+08:00)",
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=SHANGHAI)


def window_of(start: str | None, end: str | None, now: datetime) -> KpiWindow:
    """The window [from, to) and the instant it is read at: `to`, or now if that is earlier.
    Without `to` the window ends now; without `from` it is the day before `to`."""
    end_at = parse_instant(end, "to") if end else now
    start_at = parse_instant(start, "from") if start else end_at - DEFAULT_WINDOW
    if start_at >= end_at:
        raise CityViewInputError(
            "from", f"{shanghai(start_at)} is not before to ({shanghai(end_at)})"
        )
    return KpiWindow(start_at.astimezone(UTC), end_at.astimezone(UTC), min(now, end_at))


@lru_cache(maxsize=4)
def _streets(engine: Engine) -> dict[str, str]:
    return {unit.code: unit.name for unit in load_or_demo(engine).streets()}


def streets(engine: Engine) -> dict[str, str]:
    """Street and town codes of the organisation, with their names."""
    return dict(_streets(engine))


def check_street(engine: Engine, street: str | None) -> str | None:
    if street is None or street == "":
        return None
    code = street.strip().upper()
    if len(code) > MAX_INPUT or code not in _streets(engine):
        known = ", ".join(sorted(_streets(engine)))
        raise CityViewInputError(
            "street", f"unknown street or town code {street[:40]!r} (known: {known})"
        )
    return code


def incident_links(engine: Engine, ticket_ids: set[str]) -> dict[str, str]:
    """Which incident each ticket joined (alarm tickets grouped by the intake)."""
    if not ticket_ids:
        return {}
    links: dict[str, str] = {}
    table = IncidentTicketRow.__table__  # type: ignore[attr-defined]
    ids = sorted(ticket_ids)
    with engine.connect() as connection:
        for start in range(0, len(ids), 500):
            rows = connection.execute(
                select(table.c.ticket_id, table.c.incident_id).where(
                    table.c.ticket_id.in_(ids[start : start + 500])
                )
            )
            links.update({ticket: incident for ticket, incident in rows})
    return links


def load_tickets(
    engine: Engine, window: KpiWindow, resolution: timedelta | None = None
) -> list[TicketFacts]:
    """The window's tickets from the register; with a `resolution`, every instant floored
    to it (the simulated day reads to the minute: see docs/simulation.md)."""
    records = load_records(engine, window.start, window.end, window.as_of)
    if resolution is not None:
        records = [floored(record, resolution) for record in records]
    return fold_all(records, window.as_of)


def kpis(engine: Engine, window: KpiWindow, street: str | None = None) -> dict[str, Any]:
    """The KPI JSON of `cityops kpi` and `GET /api/v1/kpis`."""
    tickets = load_tickets(engine, window)
    if street is not None:
        tickets = [t for t in tickets if t.street_code == street]
    links = incident_links(engine, {t.ticket_id for t in tickets})
    return kpis_of(tickets, window, street=street, incidents=links)


def load_alarms(engine: Engine, since: datetime, at: datetime) -> list[AlarmRecord]:
    """Alarm events that occurred in (since, at], with the street of their ticket."""
    events = AlarmEventRow.__table__  # type: ignore[attr-defined]
    query = (
        select(events, TICKETS.c.street_code)
        .outerjoin(TICKETS, TICKETS.c.ticket_id == events.c.ticket_id)
        # received_at is indexed; a platform may deliver an event up to a day late.
        .where(events.c.received_at > since - timedelta(days=1), events.c.received_at <= at)
    )
    records = []
    with engine.connect() as connection:
        for row in connection.execute(query).mappings():
            occurred = utc(row["occurred_at"])
            if not since < occurred <= at:
                continue
            payload = _payload(row["payload"])
            value = payload.get("value")
            attributes = payload.get("attributes") or {}
            records.append(
                AlarmRecord(
                    device_id=row["device_id"],
                    sensor_type=row["sensor_type"],
                    metric=row["metric"],
                    status=row["status"],
                    occurred_at=occurred,
                    value=float(value)
                    if isinstance(value, int | float) and not isinstance(value, bool)
                    else None,
                    detection=str(attributes["detection"])
                    if isinstance(attributes, dict) and attributes.get("detection")
                    else None,
                    street_code=row["street_code"],
                )
            )
    return records


def _payload(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def vitals(
    engine: Engine, at: datetime, street: str | None = None, resolution: timedelta | None = None
) -> dict[str, Any]:
    """The vital-signs JSON of `cityops vitals` and `GET /api/v1/vital-signs`."""
    window = KpiWindow(at - VITALS_LOOKBACK, at, at)
    tickets = load_tickets(engine, window, resolution)
    alarms = load_alarms(engine, at - VITALS_LOOKBACK, at)
    return vital_signs(
        default_indicators(),
        tickets,
        alarms,
        at,
        street=street,
        streets=sorted(_streets(engine)) if street is None else (),
    )


# --------------------------------------------------------------------------- report figures


@dataclass(frozen=True)
class OverdueTicket:
    ticket_id: str
    scenario_id: str | None
    street_code: str | None
    address: str | None
    stage: str
    resolve_deadline: datetime
    overdue_minutes: int


def hourly_by_source(tickets: list[TicketFacts], window: KpiWindow) -> dict[str, Any]:
    """Tickets received per hour of the window (Shanghai hours), per source."""
    hours: list[datetime] = []
    cursor = window.start.astimezone(SHANGHAI).replace(minute=0, second=0, microsecond=0)
    while cursor < window.end and len(hours) < 24 * 62:
        hours.append(cursor)
        cursor += timedelta(hours=1)
    counts: Counter[tuple[str, datetime]] = Counter()
    for ticket in tickets:
        if window.holds(ticket.received_at):
            hour = ticket.received_at.astimezone(SHANGHAI).replace(
                minute=0, second=0, microsecond=0
            )
            counts[(ticket.source.value, hour)] += 1
    sources = sorted({source for source, _ in counts})
    return {
        "hours": [h.strftime("%Y-%m-%d %H:00") for h in hours],
        "series": {s: [counts[(s, h)] for h in hours] for s in sources},
    }


def top_overdue(tickets: list[TicketFacts], at: datetime, limit: int = 20) -> list[OverdueTicket]:
    overdue = [t for t in tickets if t.is_overdue(at) and t.resolve_deadline is not None]
    overdue.sort(key=lambda t: (t.resolve_deadline, t.ticket_id))
    return [
        OverdueTicket(
            ticket_id=t.ticket_id,
            scenario_id=t.scenario_id,
            street_code=t.street_code,
            address=t.address,
            stage=t.stage.value,
            resolve_deadline=t.resolve_deadline,  # type: ignore[arg-type]
            overdue_minutes=int((at - t.resolve_deadline).total_seconds() // 60),  # type: ignore[operator]
        )
        for t in overdue[:limit]
    ]


def report_figures(
    engine: Engine,
    window: KpiWindow,
    street: str | None = None,
    resolution: timedelta | None = None,
) -> dict[str, Any]:
    """Everything the HTML report and the dashboard show, as JSON-ready data (instants
    floored to `resolution` when given)."""
    tickets = load_tickets(engine, window, resolution)
    if street is not None:
        tickets = [t for t in tickets if t.street_code == street]
    links = incident_links(engine, {t.ticket_id for t in tickets})
    kpi = kpis_of(tickets, window, street=street, incidents=links)
    signs = vitals(engine, window.as_of, street, resolution)
    names = streets(engine)
    league = [
        {
            "street": code,
            "name": names.get(code, code),
            "received": figures["received"],
            "closed_loop_rate": figures["closed_loop_rate"],
            "accepted_on_time_rate": figures["accepted_on_time_rate"],
            "resolved_on_time_rate": figures["resolved_on_time_rate"],
            "open_now": figures["open_now"],
            "overdue_now": figures["overdue_now"],
            "vital_score": signs.get("streets", {}).get(code, {}).get("score"),
        }
        for code, figures in kpi["by_street"].items()
        if code in names
    ]
    league.sort(key=lambda row: (-(row["overdue_now"]), row["street"]))
    slowest = sorted(
        (
            {
                "scenario": sid,
                "median_minutes_to_resolve": f["median_minutes_to_resolve"],
                "received": f["received"],
                "overdue_now": f["overdue_now"],
            }
            for sid, f in kpi["by_scenario"].items()
            if f["median_minutes_to_resolve"] is not None
        ),
        key=lambda row: (-row["median_minutes_to_resolve"], row["scenario"]),
    )[:10]
    return {
        "window": kpi["window"],
        "kpis": kpi,
        "vital_signs": {k: v for k, v in signs.items() if k != "indicators"}
        | {"red_indicators": [r for r in signs["indicators"] if r["status"] == "red"]},
        "hourly": hourly_by_source(tickets, window),
        "league": league,
        "slowest_scenarios": slowest,
        "overdue": [
            {
                "ticket_id": o.ticket_id,
                "scenario": o.scenario_id,
                "street": o.street_code,
                "address": o.address,
                "stage": o.stage,
                "resolve_deadline": shanghai(o.resolve_deadline),
                "overdue_minutes": o.overdue_minutes,
            }
            for o in top_overdue(tickets, window.as_of)
        ],
    }


__all__ = [
    "CityViewInputError",
    "check_street",
    "kpis",
    "parse_instant",
    "report_figures",
    "vitals",
    "window_of",
]
