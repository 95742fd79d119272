"""The ticket register in the relational store: one row per ticket, one per event.

Temporal holds the live state; this is the durable register for reports and the
audit log ("every event is stored"). Writes are idempotent so a retried activity
never duplicates a row.

Callers' personal data never lands here in clear: the phone and name go sealed into
``caller_contacts`` (privacy/register.py), and the complaint text is kept with the
caller's name and any phone-like number masked (domain/masking.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, select
from temporalio import activity

from cityops.db.engine import get_engine
from cityops.domain.masking import redact_text
from cityops.domain.models import TicketRecord
from cityops.privacy.keys import KeyRing, load_keyring
from cityops.privacy.register import CallerContactRow, contact_row


class TicketRow(SQLModel, table=True):
    __tablename__ = "tickets"

    ticket_id: str = Field(primary_key=True, max_length=64)
    workflow_id: str = Field(index=True, max_length=200)
    source: str = Field(max_length=16)
    stage: str = Field(index=True, max_length=32)
    scenario_id: str | None = Field(default=None, index=True, max_length=8)
    street_code: str | None = Field(default=None, index=True, max_length=8)
    assignee_id: str | None = Field(default=None, max_length=64)
    tier: str | None = Field(default=None, max_length=16)
    text: str | None = None
    address: str | None = None
    received_at: datetime
    updated_at: datetime


class TicketEventRow(SQLModel, table=True):
    __tablename__ = "ticket_events"
    __table_args__ = (
        UniqueConstraint("ticket_id", "event", "stage", "at", name="uq_ticket_event"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(index=True, max_length=64)
    event: str = Field(max_length=64)
    stage: str = Field(max_length=32)
    at: datetime


def save_record(engine: Engine, record: TicketRecord, ring: KeyRing) -> None:
    intake = record.intake
    with Session(engine) as session:
        row = session.get(TicketRow, record.ticket_id)
        if row is None:
            row = TicketRow(
                ticket_id=record.ticket_id,
                workflow_id=record.workflow_id,
                source=intake.source.value,
                stage=record.stage.value,
                text=redact_text(
                    intake.text, names=[intake.caller_name], phones=[intake.caller_phone]
                )
                or None,
                address=intake.address,
                received_at=intake.received_at,
                updated_at=record.at,
            )
            if session.get(CallerContactRow, record.ticket_id) is None:
                contact = contact_row(ring, intake, record.at)
                if contact is not None:
                    session.add(contact)
        row.stage = record.stage.value
        row.scenario_id = record.scenario_id
        row.street_code = record.street_code
        row.assignee_id = record.assignee_id
        row.tier = record.tier.value if record.tier else None
        row.updated_at = record.at
        session.add(row)
        exists = session.exec(
            select(TicketEventRow).where(
                TicketEventRow.ticket_id == record.ticket_id,
                TicketEventRow.event == record.event,
                TicketEventRow.stage == record.stage.value,
                TicketEventRow.at == record.at,
            )
        ).first()
        if exists is None:
            session.add(
                TicketEventRow(
                    ticket_id=record.ticket_id,
                    event=record.event,
                    stage=record.stage.value,
                    at=record.at,
                )
            )
        session.commit()


class StoreActivities:
    def __init__(self, engine: Engine | None = None, ring: KeyRing | None = None) -> None:
        self._engine = engine
        self._ring = ring

    @activity.defn(name="record_ticket")
    def record_ticket(self, record: TicketRecord) -> None:
        if self._ring is None:
            self._ring = load_keyring()
        save_record(self._engine or get_engine(), record, self._ring)
