"""The alarm audit log and incidents: what came in, and what became of it.

`alarm_events` holds every readable alarm event exactly once (event_id is the key),
with the outcome of its intake: a new ticket, a triage ticket, joined an open ticket,
silenced. "Nothing lost" is checked by counting these rows and the dead letters
(db/deadletters.py) against events sent.

`incidents` link the tickets of several devices that the rules group (a rainstorm
floods many points of one street): each device keeps its own ticket, and the street
sub-center sees one incident listing them (`incident_tickets`).

All functions here are synchronous database calls; async callers run them in a thread.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Engine, Executable, func, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel, col, select


class AlarmOutcome(StrEnum):
    """What intake did with one alarm event."""

    NEW_TICKET = "new_ticket"  # opened a ticket for its device and metric
    TRIAGE = "triage"  # opened a ticket in the district's triage: unknown sensor, outside Pudong
    JOINED = "joined"  # the device's ticket was open: added to it as an event
    SILENCED = "silenced"  # a rule says no alarm (construction noise by day), or a resolved
    # event with nothing open to close: recorded, opens nothing
    DUPLICATE = "duplicate"  # event_id seen before: not recorded or delivered again
    IN_WINDOW = "in_window"  # inside a maintenance window (db/silences.py): counted, no ticket
    REJECTED = "rejected"  # could not be read: kept in the dead-letter table, not here
    # Rows written before the front door was reworked may still say:
    NO_SCENARIO = "no_scenario"  # (old) what SILENCED says now
    NO_OPEN_TICKET = "no_open_ticket"  # (old) a resolved event with no open ticket


class AlarmEventRow(SQLModel, table=True):
    __tablename__ = "alarm_events"

    event_id: str = Field(primary_key=True, max_length=128)
    device_id: str = Field(index=True, max_length=128)
    sensor_type: str = Field(max_length=64)
    metric: str = Field(max_length=64)
    status: str = Field(max_length=16)
    occurred_at: datetime
    received_at: datetime = Field(index=True)
    outcome: str = Field(index=True, max_length=16)
    scenario_id: str | None = Field(default=None, max_length=8)
    ticket_id: str | None = Field(default=None, index=True, max_length=64)
    workflow_id: str | None = Field(default=None, max_length=300)
    payload: str  # the event as received (JSON), for audit


class IncidentRow(SQLModel, table=True):
    __tablename__ = "incidents"

    incident_id: str = Field(primary_key=True, max_length=64)
    scenario_id: str = Field(index=True, max_length=8)
    group_by: str = Field(max_length=16)
    group_key: str = Field(index=True, max_length=200)
    street_code: str | None = Field(default=None, index=True, max_length=8)
    opened_at: datetime
    window_ends_at: datetime
    ticket_count: int = 0
    # Incidents of citizens' reports and of any source (db/incidents.py, migration 0010):
    primary_ticket_id: str | None = Field(default=None, max_length=64)
    lat: float | None = None
    lon: float | None = None
    address: str | None = Field(default=None, max_length=500)


class IncidentTicketRow(SQLModel, table=True):
    __tablename__ = "incident_tickets"

    incident_id: str = Field(primary_key=True, max_length=64)
    ticket_id: str = Field(primary_key=True, max_length=64)
    device_id: str | None = Field(default=None, max_length=128)  # None: not a device's ticket
    linked_at: datetime
    # How the ticket joined (db/incidents.py, migration 0010); None on rows from before.
    source: str | None = Field(default=None, max_length=16)
    role: str | None = Field(default=None, max_length=24)
    basis: str | None = Field(default=None, max_length=16)
    lat: float | None = None
    lon: float | None = None
    address_key: str | None = Field(default=None, index=True, max_length=200)


def seen_event_ids(engine: Engine, event_ids: Iterable[str]) -> set[str]:
    ids = list(event_ids)
    seen: set[str] = set()
    with Session(engine) as session:
        for start in range(0, len(ids), 500):  # stay under SQLite's variable limit
            chunk = ids[start : start + 500]
            rows = session.exec(
                select(AlarmEventRow.event_id).where(col(AlarmEventRow.event_id).in_(chunk))
            )
            seen.update(rows)
    return seen


def record_events(engine: Engine, rows: Sequence[AlarmEventRow]) -> None:
    """Insert rows, ignoring event_ids already present (a concurrent duplicate)."""
    if not rows:
        return
    values = [row.model_dump() for row in rows]
    table = AlarmEventRow.__table__  # type: ignore[attr-defined]
    dialect = engine.dialect.name
    statement: Executable
    # One statement with the rows as parameters (executemany): a statement built from the
    # rows' literal values cost more CPU to build and key for the cache than to run.
    if dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    elif dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    else:
        statement = insert(table)
    with engine.begin() as connection:
        connection.execute(statement, values)


def count_events(engine: Engine, outcome: AlarmOutcome | None = None) -> int:
    with Session(engine) as session:
        query = select(func.count()).select_from(AlarmEventRow)
        if outcome is not None:
            query = query.where(AlarmEventRow.outcome == outcome.value)
        return int(session.exec(query).one())


def events_of_ticket(engine: Engine, ticket_id: str) -> list[AlarmEventRow]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(AlarmEventRow)
                .where(AlarmEventRow.ticket_id == ticket_id)
                .order_by(col(AlarmEventRow.occurred_at))
            )
        )


@dataclass(frozen=True)
class GroupKey:
    """Which incident a new ticket belongs to: same scenario, same key, within the window."""

    scenario_id: str
    group_by: str
    key: str
    window: timedelta
    street_code: str | None


def link_to_incident(
    engine: Engine, group: GroupKey, ticket_id: str, device_id: str, at: datetime
) -> str:
    """Add the ticket to the open incident for its group, opening one if none is open.

    The window runs from the incident's first ticket: a storm that lasts longer than
    the window starts a second incident, so one never grows without bound.
    """
    with Session(engine) as session:
        incident = session.exec(
            select(IncidentRow)
            .where(
                IncidentRow.scenario_id == group.scenario_id,
                IncidentRow.group_by == group.group_by,
                IncidentRow.group_key == group.key,
                # An event up to one window before the first still belongs (late senders).
                col(IncidentRow.opened_at) <= at + group.window,
                col(IncidentRow.window_ends_at) > at,
            )
            .order_by(col(IncidentRow.opened_at).desc())
        ).first()
        if incident is None:
            incident = IncidentRow(
                incident_id=incident_id_for(group, at),
                scenario_id=group.scenario_id,
                group_by=group.group_by,
                group_key=group.key,
                street_code=group.street_code,
                opened_at=at,
                window_ends_at=at + group.window,
            )
        if session.get(IncidentTicketRow, (incident.incident_id, ticket_id)) is None:
            incident.ticket_count += 1
            session.add(
                IncidentTicketRow(
                    incident_id=incident.incident_id,
                    ticket_id=ticket_id,
                    device_id=device_id,
                    linked_at=at,
                )
            )
        session.add(incident)
        session.commit()
        return incident.incident_id


def incident_id_for(group: GroupKey, at: datetime) -> str:
    digest = hashlib.sha256(
        f"{group.scenario_id}|{group.group_by}|{group.key}|{at.isoformat()}".encode()
    )
    return f"IN{group.scenario_id}{digest.hexdigest()[:10].upper()}"


def list_incidents(
    engine: Engine, street_code: str | None = None, limit: int = 50
) -> list[IncidentRow]:
    with Session(engine) as session:
        query = select(IncidentRow).order_by(col(IncidentRow.opened_at).desc()).limit(limit)
        if street_code:
            query = query.where(IncidentRow.street_code == street_code)
        return list(session.exec(query))


def incident_tickets(
    engine: Engine, incident_id: str
) -> tuple[IncidentRow, list[IncidentTicketRow]] | None:
    with Session(engine) as session:
        incident = session.get(IncidentRow, incident_id)
        if incident is None:
            return None
        links = session.exec(
            select(IncidentTicketRow)
            .where(IncidentTicketRow.incident_id == incident_id)
            .order_by(col(IncidentTicketRow.linked_at))
        )
        return incident, list(links)
