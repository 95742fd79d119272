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
