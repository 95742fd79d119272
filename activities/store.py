"""The ticket register in the relational store (`cityops.register`).

Temporal holds the live state; the register is the durable record for reports and the
audit log ("every event is stored"), kept as long as the operator configures. Writes are
idempotent so a retried activity never duplicates a row.

`record_event` takes one history entry of a ticket (`RegisterEvent`); the workflow starts
it for every entry. `record_ticket` is the earlier writer (a row at dispatch and one at
closing), kept for tickets started before the register that replay as they ran.
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio import activity

from cityops.db.engine import get_engine
from cityops.domain.models import TicketRecord
from cityops.domain.register import RECORD_EVENT, RegisterEvent
from cityops.register.tables import TicketEventRow, TicketRow
from cityops.register.write import write_event

__all__ = ["StoreActivities", "TicketEventRow", "TicketRow", "save_record"]


def save_record(engine: Engine, record: TicketRecord) -> None:
    """The earlier writer: the ticket row, and one event row keyed by (event, stage, at)."""
    key = f"{record.ticket_id}/{record.event}/{record.stage.value}/{record.at.isoformat()}"
    at, received_at = record.at.astimezone(UTC), record.intake.received_at.astimezone(UTC)
    with Session(engine) as session:
        row = session.get(TicketRow, record.ticket_id)
        if row is None:
            row = TicketRow(
                ticket_id=record.ticket_id,
                workflow_id=record.workflow_id,
                source=record.intake.source.value,
                stage=record.stage.value,
                text=record.intake.text,
                address=record.intake.address,
                received_at=received_at,
                updated_at=at,
            )
        row.stage = record.stage.value
        row.scenario_id = record.scenario_id
        row.street_code = record.street_code
        row.assignee_id = record.assignee_id
        row.tier = record.tier.value if record.tier else None
        row.updated_at = at
        if record.stage.is_final:
            row.closed_at = at
        session.add(row)
        exists = session.exec(select(TicketEventRow).where(TicketEventRow.event_key == key)).first()
        if exists is None:
            session.add(
                TicketEventRow(
                    event_key=key,
                    ticket_id=record.ticket_id,
                    event=record.event,
                    stage=record.stage.value,
                    at=at,
                    source=record.intake.source.value,
                    received_at=received_at,
                    scenario_id=record.scenario_id,
                    street_code=record.street_code,
                    tier=record.tier.value if record.tier else None,
                    assignee_id=record.assignee_id,
                )
            )
        session.commit()


class StoreActivities:
    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine

    @activity.defn(name="record_ticket")
    def record_ticket(self, record: TicketRecord) -> None:
        save_record(self._engine or get_engine(), record)

    @activity.defn(name=RECORD_EVENT)
    def record_event(self, event: RegisterEvent) -> None:
        write_event(self._engine or get_engine(), event)
