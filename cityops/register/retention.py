"""Keeping the register as long as the operator says (CITYOPS_REGISTER_RETENTION_DAYS).

`purge(engine, before)` deletes the tickets closed before `before`, with all their events;
a ticket still open is never purged, however old. Temporal's retention of workflow
histories is separate: the register outlives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, func, select

from cityops.register.write import EVENTS, TICKETS


@dataclass(frozen=True)
class Purged:
    tickets: int
    events: int


def purge(engine: Engine, before: datetime, *, dry_run: bool = False) -> Purged:
    """Delete tickets closed before `before` (and their events); count what went."""
    cutoff = before.astimezone(UTC)
    old = select(TICKETS.c.ticket_id).where(
        TICKETS.c.closed_at.is_not(None), TICKETS.c.closed_at < cutoff
    )
    with engine.begin() as connection:
        tickets = connection.execute(select(func.count()).select_from(old.subquery())).scalar_one()
        events = connection.execute(
            select(func.count()).select_from(EVENTS).where(EVENTS.c.ticket_id.in_(old))
        ).scalar_one()
        if not dry_run:
            connection.execute(delete(EVENTS).where(EVENTS.c.ticket_id.in_(old)))
            connection.execute(
                delete(TICKETS).where(
                    TICKETS.c.closed_at.is_not(None), TICKETS.c.closed_at < cutoff
                )
            )
    return Purged(int(tickets), int(events))
