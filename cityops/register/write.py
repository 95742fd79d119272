"""Writing the register: events in, one transaction a batch, idempotently.

A retried or duplicated write of the same `event_key` adds nothing. Events of one ticket
may arrive out of order (the workflow starts its writes without waiting for each), so
the ticket's projection row takes an event's facts only when its `seq` is the highest
seen: the row's stage is always the stage after the ticket's latest event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, or_, update
from sqlalchemy.dialects import postgresql, sqlite

from cityops.domain.register import RegisterEvent
from cityops.register.tables import TicketEventRow, TicketRow

EVENTS: Table = TicketEventRow.__table__  # type: ignore[attr-defined]
TICKETS: Table = TicketRow.__table__  # type: ignore[attr-defined]


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _insert(engine: Engine, table: Table) -> Any:
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    if engine.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"the register supports SQLite and PostgreSQL, not {engine.dialect}")


def event_values(event: RegisterEvent) -> dict[str, Any]:
    """The ``ticket_events`` row of an event."""
    return {
        "event_key": event.event_key,
        "ticket_id": event.ticket_id,
        "seq": event.seq,
        "event": event.event,
        "stage": event.to_stage.value,
        "from_stage": event.from_stage.value if event.from_stage else None,
        "actor": event.actor,
        "acted_by": event.acted_by,
        "detail": event.detail or None,
        "at": _utc(event.at),
        "source": event.source.value,
        "received_at": _utc(event.received_at),
        "scenario_id": event.scenario_id,
        "category_id": event.category_id,
        "dimension": event.dimension.value if event.dimension else None,
        "priority": event.priority.value if event.priority else None,
        "street_code": event.street_code,
        "station_code": event.station_code,
        "tier": event.tier.value if event.tier else None,
        "assignee_id": event.assignee_id,
        "accept_deadline": _utc(event.accept_deadline),
        "resolve_deadline": _utc(event.resolve_deadline),
        "paused": event.paused,
        "overdue": event.overdue,
    }


_SNAPSHOT = (
    "source", "received_at", "scenario_id", "category_id", "dimension", "priority",
    "street_code", "station_code", "assignee_id", "tier", "accept_deadline", "resolve_deadline",
)  # fmt: skip


def _ticket_values(event: RegisterEvent) -> dict[str, Any]:
    """The ``tickets`` row as this event leaves it: the event's snapshot of the ticket."""
    values = event_values(event)
    at = values["at"]
    return {
        "workflow_id": event.workflow_id,
        "stage": values["stage"],
        **{name: values[name] for name in _SNAPSHOT},
        "updated_at": at,
        "closed_at": at if event.to_stage.is_final else None,
        "last_seq": event.seq,
    }


def write_event(engine: Engine, event: RegisterEvent) -> bool:
    """Store one event; True when it was new. Safe to repeat and to run concurrently."""
    return write_events(engine, [event]) == 1


def write_events(engine: Engine, events: Sequence[RegisterEvent]) -> int:
    """Store events of one or more tickets in one transaction; how many were new. Safe to
    repeat and to run concurrently. An insert per event (its rowcount says whether it
    was new), then one upsert per ticket, from its latest event in the batch (the row is
    that event's snapshot, and an older one never overwrites a newer), then the text and
    address from the events that carry them."""
    if not events:
        return 0
    latest: dict[str, RegisterEvent] = {}
    for event in events:
        if event.ticket_id not in latest or latest[event.ticket_id].seq < event.seq:
            latest[event.ticket_id] = event
    with engine.begin() as connection:
        inserted = 0
        for event in events:  # one statement each: rowcount tells which were new
            inserted += connection.execute(
                _insert(engine, EVENTS)
                .values(event_values(event))
                .on_conflict_do_nothing(index_elements=["event_key"])
            ).rowcount
        for event in latest.values():
            _upsert_ticket(engine, connection, event)
        for event in events:
            if event.address is not None or event.text is not None:
                connection.execute(
                    update(TICKETS)
                    .where(
                        and_(
                            TICKETS.c.ticket_id == event.ticket_id,
                            TICKETS.c.text.is_(None),
                            TICKETS.c.address.is_(None),
                        )
                    )
                    .values(text=event.text, address=event.address)
                )
    return inserted


def _upsert_ticket(engine: Engine, connection: Connection, event: RegisterEvent) -> None:
    ticket = _ticket_values(event)
    statement = _insert(engine, TICKETS).values(ticket_id=event.ticket_id, **ticket)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["ticket_id"],
            set_={name: getattr(statement.excluded, name) for name in ticket},
            where=or_(TICKETS.c.last_seq.is_(None), TICKETS.c.last_seq < event.seq),
        )
    )
