"""The register's two tables.

``tickets`` is a projection: one row per ticket, the facts of its latest event (the
highest ``last_seq``), so its stage is the workflow's. ``ticket_events`` is the log: one
row per history entry, unique by ``event_key``; each row carries the ticket's facts at
that moment, so KPIs are a pure function of these rows alone.

Times are stored in UTC (SQLite keeps them without an offset); `utc()` reads them back.
Rows written before the register (migration 0004) have no ``event_key`` of the new kind,
no actor and no ``seq``; they keep working as two events (dispatched, closed) per ticket.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Field, SQLModel


def utc(value: datetime) -> datetime:
    """A stored instant as an aware UTC datetime (SQLite drops the offset)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    return utc(value) if value is not None else None


class TicketRow(SQLModel, table=True):
    __tablename__ = "tickets"

    ticket_id: str = Field(primary_key=True, max_length=64)
    workflow_id: str = Field(index=True, max_length=200)
    source: str = Field(max_length=16)
    stage: str = Field(index=True, max_length=32)
    scenario_id: str | None = Field(default=None, index=True, max_length=8)
    category_id: str | None = Field(default=None, max_length=8)
    dimension: str | None = Field(default=None, max_length=16)
    priority: str | None = Field(default=None, max_length=4)
    street_code: str | None = Field(default=None, index=True, max_length=8)
    station_code: str | None = Field(default=None, index=True, max_length=32)
    assignee_id: str | None = Field(default=None, max_length=64)
    tier: str | None = Field(default=None, max_length=16)
    text: str | None = None
    address: str | None = None
    received_at: datetime = Field(index=True)
    updated_at: datetime
    closed_at: datetime | None = Field(default=None, index=True)
    accept_deadline: datetime | None = None
    resolve_deadline: datetime | None = None
    last_seq: int | None = None


class TicketEventRow(SQLModel, table=True):
    __tablename__ = "ticket_events"

    id: int | None = Field(default=None, primary_key=True)
    event_key: str = Field(unique=True, index=True, max_length=100)
    ticket_id: str = Field(index=True, max_length=64)
    seq: int | None = None
    event: str = Field(max_length=64)
    stage: str = Field(max_length=32)  # the stage after the event
    from_stage: str | None = Field(default=None, max_length=32)
    actor: str | None = Field(default=None, max_length=64)
    acted_by: str | None = Field(default=None, max_length=100)  # on the actor's behalf
    detail: str | None = Field(default=None, max_length=500)
    at: datetime = Field(index=True)
    source: str | None = Field(default=None, max_length=16)
    received_at: datetime | None = None
    scenario_id: str | None = Field(default=None, max_length=8)
    category_id: str | None = Field(default=None, max_length=8)
    dimension: str | None = Field(default=None, max_length=16)
    priority: str | None = Field(default=None, max_length=4)
    street_code: str | None = Field(default=None, max_length=8)
    station_code: str | None = Field(default=None, max_length=32)
    tier: str | None = Field(default=None, max_length=16)
    assignee_id: str | None = Field(default=None, max_length=64)
    accept_deadline: datetime | None = None
    resolve_deadline: datetime | None = None
    paused: bool = False
    overdue: bool = False
