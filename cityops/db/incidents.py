"""The incident register beyond alarm storms: citizens' reports linked to open incidents,
and the incident as one record (id, scenario, place, street, tickets, first and last
report, sources).

The tables are `incidents` and `incident_tickets` (db/audit.py). Whether a ticket is
open is read from the ticket register (`tickets`, written by the workflow at every stage
change), named here as a bare table so this layer imports nothing above it. A ticket
not yet in the register counts as open for `UNREGISTERED_GRACE` after it was linked
(its workflow records it within a second or two).

Synchronous database calls; async callers run them in a thread.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, column, or_, table
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from cityops.db.audit import (
    AlarmEventRow,
    AlarmOutcome,
    GroupKey,
    IncidentRow,
    IncidentTicketRow,
    incident_id_for,
)
from cityops.domain.incidents import (
    SENSOR_SOURCES,
    Incident,
    IncidentTicket,
    LinkBasis,
    LinkDecision,
    OpenReport,
    TicketRole,
    normalise_address,
)
from cityops.domain.stages import Source, Stage

UNREGISTERED_GRACE = timedelta(hours=1)
PLACE = "place"  # group_by of an incident opened by a citizen's report
FINAL_STAGES = frozenset(stage.value for stage in Stage if stage.is_final)

_register = table(
    "tickets",
    column("ticket_id"),
    column("stage"),
    column("source"),
    column("street_code"),
    column("text"),
)


@dataclass(frozen=True)
class NewReport:
    """A ticket being linked: what the register keeps of it."""

    ticket_id: str
    scenario_id: str
    source: Source
    at: datetime
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    street_code: str | None = None
    device_id: str | None = None

    @property
    def address_key(self) -> str | None:
        return normalise_address(self.address)


@dataclass(frozen=True)
class _Registered:
    stage: str
    source: str | None
    street_code: str | None
    text: str | None


def _registered(session: Session, ticket_ids: Iterable[str]) -> dict[str, _Registered]:
    ids = sorted(set(ticket_ids))
    found: dict[str, _Registered] = {}
    for start in range(0, len(ids), 500):
        query = core_select(
            _register.c.ticket_id,
            _register.c.stage,
            _register.c.source,
            _register.c.street_code,
            _register.c.text,
        ).where(_register.c.ticket_id.in_(ids[start : start + 500]))
        for ticket_id, stage, source, street, text in session.execute(query):
            found[ticket_id] = _Registered(stage, source, street, text)
    return found


def _is_open(
    ticket_id: str, linked_at: datetime, known: dict[str, _Registered], at: datetime
) -> bool:
    row = known.get(ticket_id)
    if row is None:
        return at - _aware(linked_at) < UNREGISTERED_GRACE
    return row.stage not in FINAL_STAGES


def _aware(value: datetime) -> datetime:
    """Instants are stored in UTC; a driver that hands them back naive means UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def open_reports(
    engine: Engine, scenario_id: str, at: datetime, max_age: timedelta
) -> list[OpenReport]:
    """Every report of the scenario, within `max_age` before `at`, whose ticket is open:
    the points and addresses of incidents' tickets, and alarm tickets in no incident."""
    since = (at - max_age).astimezone(UTC)
    with Session(engine) as session:
        linked = list(
            session.exec(
                select(IncidentTicketRow, IncidentRow)
                .join(IncidentRow, col(IncidentRow.incident_id) == IncidentTicketRow.incident_id)
                .where(IncidentRow.scenario_id == scenario_id, col(IncidentRow.opened_at) >= since)
            )
        )
        alarms = list(
            session.exec(
                select(AlarmEventRow).where(
                    AlarmEventRow.scenario_id == scenario_id,
                    AlarmEventRow.outcome == AlarmOutcome.NEW_TICKET.value,
                    col(AlarmEventRow.occurred_at) >= since,
                    col(AlarmEventRow.ticket_id).is_not(None),
                )
            )
        )
        ticket_ids = [link.ticket_id for link, _ in linked] + [a.ticket_id or "" for a in alarms]
        known = _registered(session, ticket_ids)
    reports: dict[str, OpenReport] = {}
    for alarm in alarms:
        ticket_id = alarm.ticket_id or ""
        if not _is_open(ticket_id, alarm.received_at, known, at):
            continue
        payload = json.loads(alarm.payload)
        reports[ticket_id] = OpenReport(
            ticket_id=ticket_id,
            source=Source.VIDEO if alarm.sensor_type == "video_ai" else Source.IOT,
            scenario_id=scenario_id,
            at=_aware(alarm.occurred_at),
            lat=payload.get("lat"),
            lon=payload.get("lon"),
            address_key=normalise_address((payload.get("attributes") or {}).get("site")),
        )
    for link, incident in linked:
        if not _is_open(link.ticket_id, link.linked_at, known, at):
            continue
        earlier = reports.get(link.ticket_id)
        source = link.source or (earlier.source if earlier else Source.IOT.value)
        reports[link.ticket_id] = OpenReport(
            ticket_id=link.ticket_id,
            source=Source(source),
            scenario_id=scenario_id,
            at=_aware(link.linked_at),
            incident_id=incident.incident_id,
            lat=link.lat if link.lat is not None else (earlier.lat if earlier else None),
            lon=link.lon if link.lon is not None else (earlier.lon if earlier else None),
            address_key=link.address_key or (earlier.address_key if earlier else None),
        )
    return list(reports.values())


def incident_of(engine: Engine, ticket_id: str) -> IncidentTicketRow | None:
    """The (first) incident link of a ticket, if it has one."""
    with Session(engine) as session:
        return session.exec(
            select(IncidentTicketRow)
            .where(IncidentTicketRow.ticket_id == ticket_id)
            .order_by(col(IncidentTicketRow.linked_at))
        ).first()


def place_incident_id(scenario_id: str, first_ticket_id: str, at: datetime) -> str:
    """The id of the incident a ticket opens: known before anything is written, so a
    ticket can carry it from its start."""
    group = GroupKey(scenario_id, PLACE, first_ticket_id, timedelta(0), None)
    return incident_id_for(group, at.astimezone(UTC))


def open_incident(engine: Engine, report: NewReport, max_age: timedelta) -> str:
    """A new incident whose first report is this ticket; its id."""
    incident_id = place_incident_id(report.scenario_id, report.ticket_id, report.at)
    with Session(engine) as session:
        if session.get(IncidentRow, incident_id) is None:
            session.add(
                IncidentRow(
                    incident_id=incident_id,
                    scenario_id=report.scenario_id,
                    group_by=PLACE,
                    group_key=report.ticket_id,
                    street_code=report.street_code,
                    opened_at=report.at.astimezone(UTC),
                    window_ends_at=report.at.astimezone(UTC) + max_age,
                    primary_ticket_id=report.ticket_id,
                    lat=report.lat,
                    lon=report.lon,
                    address=report.address,
                )
            )
            session.commit()
    _link(engine, incident_id, report, TicketRole.FIRST, None)
    return incident_id


def join_incident(
    engine: Engine, decision: LinkDecision, report: NewReport, max_age: timedelta
) -> tuple[str, str]:
    """Link the report to the incident of the open report it repeats, opening one around
    that report first when it had none (an alarm ticket alone). Returns the incident id
    and the ticket to tell: the incident's open primary ticket, else the one matched."""
    target = decision.target
    incident_id = target.incident_id
    if incident_id is None:
        incident_id = open_incident(
            engine,
            NewReport(
                ticket_id=target.ticket_id,
                scenario_id=target.scenario_id,
                source=target.source,
                at=target.at,
                lat=target.lat,
                lon=target.lon,
                street_code=report.street_code,
            ),
            max_age,
        )
    role = TicketRole(decision.kind.value)
    _link(engine, incident_id, report, role, decision.basis.value)
    return incident_id, primary_ticket(engine, decision, report.at)


def incident_for(decision: LinkDecision) -> str:
    """The incident a linked report joins: the matched report's, or the one opened
    around it."""
    target = decision.target
    return target.incident_id or place_incident_id(target.scenario_id, target.ticket_id, target.at)


def primary_ticket(engine: Engine, decision: LinkDecision, at: datetime) -> str:
    """The ticket a repeat report is told to: its incident's primary ticket while that
    is open (it carries the work), else the open report it matched."""
    target = decision.target
    if target.incident_id is None:
        return target.ticket_id
    with Session(engine) as session:
        incident = session.get(IncidentRow, target.incident_id)
        primary = incident.primary_ticket_id if incident else None
        if primary is None or primary == target.ticket_id:
            return target.ticket_id
        row = session.get(IncidentTicketRow, (target.incident_id, primary))
        known = _registered(session, [primary])
        if row is None or not _is_open(primary, row.linked_at, known, at):
            return target.ticket_id
        return primary


def _link(
    engine: Engine, incident_id: str, report: NewReport, role: TicketRole, basis: str | None
) -> None:
    with Session(engine) as session:
        if session.get(IncidentTicketRow, (incident_id, report.ticket_id)) is not None:
            return
        incident = session.get(IncidentRow, incident_id)
        if incident is not None:
            incident.ticket_count += 1
            session.add(incident)
        session.add(
            IncidentTicketRow(
                incident_id=incident_id,
                ticket_id=report.ticket_id,
                device_id=report.device_id,
                linked_at=report.at.astimezone(UTC),
                source=report.source.value,
                role=role.value,
                basis=basis,
                lat=report.lat,
                lon=report.lon,
                address_key=report.address_key,
            )
        )
        session.commit()


# ----------------------------------------------------------------------------- reading


def incident_view(engine: Engine, incident_id: str, at: datetime) -> Incident | None:
    with Session(engine) as session:
        incident = session.get(IncidentRow, incident_id)
        if incident is None:
            return None
        links = list(
            session.exec(
                select(IncidentTicketRow)
                .where(IncidentTicketRow.incident_id == incident_id)
                .order_by(col(IncidentTicketRow.linked_at))
            )
        )
        known = _registered(session, [link.ticket_id for link in links])
    return _view(incident, links, known, at, with_tickets=True)


def list_incident_views(
    engine: Engine,
    at: datetime,
    *,
    street_code: str | None = None,
    scenario_id: str | None = None,
    open_only: bool = False,
    limit: int = 50,
) -> list[Incident]:
    """Newest first. The street is the incident's own, or the register's street of one
    of its tickets (a site-grouped or citizens' incident learns it at dispatch)."""
    with Session(engine) as session:
        query = select(IncidentRow).order_by(col(IncidentRow.opened_at).desc())
        if scenario_id:
            query = query.where(IncidentRow.scenario_id == scenario_id)
        if street_code:
            in_street = (
                core_select(col(IncidentTicketRow.incident_id))
                .join(_register, _register.c.ticket_id == IncidentTicketRow.ticket_id)
                .where(_register.c.street_code == street_code)
            )
            query = query.where(
                or_(
                    col(IncidentRow.street_code) == street_code,
                    col(IncidentRow.incident_id).in_(in_street),
                )
            )
        # Open-only filters after reading: fetch more, so a page of open ones fills.
        incidents = list(session.exec(query.limit(limit * 4 if open_only else limit)))
        ids = [incident.incident_id for incident in incidents]
        links: dict[str, list[IncidentTicketRow]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            rows = session.exec(
                select(IncidentTicketRow)
                .where(col(IncidentTicketRow.incident_id).in_(ids[start : start + 500]))
                .order_by(col(IncidentTicketRow.linked_at))
            )
            for row in rows:
                links[row.incident_id].append(row)
        known = _registered(session, [r.ticket_id for rows in links.values() for r in rows])
    views = [_view(i, links[i.incident_id], known, at, with_tickets=False) for i in incidents]
    if open_only:
        views = [view for view in views if view.open]
    return views[:limit]


def _view(
    incident: IncidentRow,
    links: Sequence[IncidentTicketRow],
    known: dict[str, _Registered],
    at: datetime,
    *,
    with_tickets: bool,
) -> Incident:
    tickets = [_ticket(link, known, at) for link in links]
    sources = sorted({t.source for t in tickets if t.source is not None})
    streets = [known[t.ticket_id].street_code for t in tickets if t.ticket_id in known]
    street = incident.street_code or next((code for code in streets if code), None)
    times = [t.linked_at for t in tickets] or [incident.opened_at]
    first_sensor = next((t for t in tickets if t.source in SENSOR_SOURCES), None)
    first_citizen = next((t for t in tickets if t.source not in SENSOR_SOURCES), None)
    return Incident(
        incident_id=incident.incident_id,
        scenario_id=incident.scenario_id,
        group_by=incident.group_by,
        group_key=incident.group_key,
        street_code=street,
        address=incident.address,
        lat=incident.lat,
        lon=incident.lon,
        primary_ticket_id=incident.primary_ticket_id,
        opened_at=incident.opened_at,
        window_ends_at=incident.window_ends_at,
        first_report_at=min(times),
        last_report_at=max(times),
        sources=sources,
        ticket_count=incident.ticket_count,
        repeat_calls=sum(1 for t in tickets if t.role is TicketRole.REPEAT_CALL),
        known_from_sensors=(
            first_sensor is not None
            and first_citizen is not None
            and first_sensor.linked_at <= first_citizen.linked_at
        ),
        open=any(t.open for t in tickets),
        tickets=tickets if with_tickets else [],
    )


def _ticket(link: IncidentTicketRow, known: dict[str, _Registered], at: datetime) -> IncidentTicket:
    registered = known.get(link.ticket_id)
    source = link.source or (registered.source if registered else None)
    if source is None and link.device_id is not None:
        source = Source.IOT.value
    role = link.role or (TicketRole.GROUPED.value if link.device_id else TicketRole.FIRST.value)
    return IncidentTicket(
        ticket_id=link.ticket_id,
        role=TicketRole(role),
        source=Source(source) if source else None,
        device_id=link.device_id,
        basis=LinkBasis(link.basis) if link.basis else None,
        linked_at=link.linked_at,
        stage=registered.stage if registered else None,
        open=_is_open(link.ticket_id, link.linked_at, known, at),
        text=registered.text if registered else None,
    )
