"""Reading the register back as `EventRecord`s for the pure figures.

`load_records(engine, start, end, as_of)` returns the events (up to ``as_of``) of every
ticket received in ``[start, end)`` and of every ticket still open at ``as_of``, which is
what the KPIs of that window need. Instants come back aware, in UTC.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, and_, or_, select

from cityops.domain.stages import Source, Stage
from cityops.register.records import EventRecord
from cityops.register.tables import TicketEventRow, TicketRow, utc, utc_or_none
from cityops.register.write import EVENTS, TICKETS


def _tickets_needed(start: datetime, end: datetime, as_of: datetime):  # type: ignore[no-untyped-def]
    received = TICKETS.c.received_at
    closed = TICKETS.c.closed_at
    return select(TICKETS.c.ticket_id).where(
        received <= as_of,
        or_(
            and_(received >= start, received < end),
            closed.is_(None),
            closed > as_of,
        ),
    )


def load_records(
    engine: Engine, start: datetime, end: datetime, as_of: datetime
) -> list[EventRecord]:
    """The register events the figures of this window need, oldest first."""
    needed = _tickets_needed(start, end, as_of).subquery()
    query = (
        select(
            EVENTS,
            TICKETS.c.source.label("t_source"),
            TICKETS.c.received_at.label("t_rec"),
            TICKETS.c.address.label("t_address"),
        )
        .join(TICKETS, TICKETS.c.ticket_id == EVENTS.c.ticket_id)
        .where(EVENTS.c.ticket_id.in_(select(needed.c.ticket_id)), EVENTS.c.at <= as_of)
        .order_by(EVENTS.c.ticket_id, EVENTS.c.at, EVENTS.c.seq, EVENTS.c.id)
    )
    records: list[EventRecord] = []
    with engine.connect() as connection:
        first_of: set[str] = set()
        for row in connection.execute(query).mappings():
            ticket_id = row["ticket_id"]
            records.append(
                EventRecord(
                    ticket_id=ticket_id,
                    event=row["event"],
                    stage=Stage(row["stage"]),
                    at=utc(row["at"]),
                    source=Source(row["source"] or row["t_source"]),
                    received_at=utc(row["received_at"] or row["t_rec"]),
                    seq=row["seq"],
                    from_stage=Stage(row["from_stage"]) if row["from_stage"] else None,
                    actor=row["actor"],
                    scenario_id=row["scenario_id"],
                    category_id=row["category_id"],
                    dimension=row["dimension"],
                    priority=row["priority"],
                    street_code=row["street_code"],
                    station_code=row["station_code"],
                    tier=row["tier"],
                    assignee_id=row["assignee_id"],
                    accept_deadline=utc_or_none(row["accept_deadline"]),
                    resolve_deadline=utc_or_none(row["resolve_deadline"]),
                    paused=bool(row["paused"]),
                    address=row["t_address"] if ticket_id not in first_of else None,
                )
            )
            first_of.add(ticket_id)
    return records


__all__ = ["TicketEventRow", "TicketRow", "load_records"]


def ticket_place(engine: Engine, ticket_id: str) -> tuple[str | None, str | None] | None:
    """The street and station of a ticket's latest route as the register holds it (the
    row every register write leaves), or None when the register has no such ticket."""
    query = select(TICKETS.c.street_code, TICKETS.c.station_code).where(
        TICKETS.c.ticket_id == ticket_id
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return None if row is None else (row[0], row[1])


def station_workflows(
    engine: Engine,
    station: str,
    *,
    stage: str | None = None,
    scenario: str | None = None,
    source: str | None = None,
    limit: int = 50,
) -> list[str]:
    """The workflow ids of a station's tickets (its latest route), newest received first:
    what a station key may list, filtered and limited in SQL."""
    query = select(TICKETS.c.workflow_id).where(TICKETS.c.station_code == station)
    for column, value in (
        (TICKETS.c.stage, stage),
        (TICKETS.c.scenario_id, scenario),
        (TICKETS.c.source, source),
    ):
        if value is not None:
            query = query.where(column == value)
    query = query.order_by(TICKETS.c.received_at.desc(), TICKETS.c.ticket_id.desc()).limit(limit)
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(query)]
