"""The ticket register in the relational store (`cityops.register`).

Temporal holds the live state; the register is the durable record for reports and the
audit log ("every event is stored"), kept as long as the operator configures. Writes are
idempotent so a retried activity never duplicates a row.

`record_event` takes one history entry of a ticket (`RegisterEvent`); the workflow starts
it for every entry. `record_ticket` is the earlier writer (a row at dispatch and one at
closing), kept for tickets started before the register that replay as they ran.

Callers' personal data never lands here in clear: the phone and name go sealed into
``caller_contacts`` (privacy/register.py), and the complaint text is kept with the
caller's name and any phone-like number masked (domain/masking.py).
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio import activity

from cityops.db.engine import get_engine
from cityops.domain.masking import redact_text
from cityops.domain.models import TicketRecord
from cityops.domain.register import RECORD_EVENT, RECORD_EVENTS, RegisterEvent
from cityops.privacy.keys import KeyRing, load_keyring
from cityops.privacy.register import CallerContactRow, contact_row, sealed_contact
from cityops.register.tables import TicketEventRow, TicketRow
from cityops.register.write import write_events

__all__ = ["StoreActivities", "TicketEventRow", "TicketRow", "save_record"]


def save_record(engine: Engine, record: TicketRecord, ring: KeyRing) -> None:
    """The earlier writer: the ticket row, and one event row keyed by (event, stage, at)."""
    intake = record.intake
    key = f"{record.ticket_id}/{record.event}/{record.stage.value}/{record.at.isoformat()}"
    at, received_at = record.at.astimezone(UTC), record.intake.received_at.astimezone(UTC)
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
                received_at=received_at,
                updated_at=at,
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
    def __init__(self, engine: Engine | None = None, ring: KeyRing | None = None) -> None:
        self._engine = engine
        self._ring = ring

    @activity.defn(name="record_ticket")
    def record_ticket(self, record: TicketRecord) -> None:
        save_record(self._engine or get_engine(), record, self._keyring())

    @activity.defn(name=RECORD_EVENT)
    def record_event(self, event: RegisterEvent) -> None:
        self.record_events([event])

    @activity.defn(name=RECORD_EVENTS)
    def record_events(self, events: list[RegisterEvent]) -> None:
        """The entries a workflow task added, in one transaction (tickets started with the
        plan-at-intake change batch them; earlier ones write one entry at a time)."""
        engine = self._engine or get_engine()
        # The register keeps the complaint with the caller masked; the caller's phone and
        # name go sealed into caller_contacts, never in clear.
        write_events(engine, [_masked(event) for event in events])
        callers = [e for e in events if e.caller_phone or e.caller_name]
        if not callers:
            return
        with Session(engine) as session:
            for event in callers:
                if session.get(CallerContactRow, event.ticket_id) is None:
                    session.add(
                        sealed_contact(
                            self._keyring(),
                            event.ticket_id,
                            event.caller_phone,
                            event.caller_name,
                            event.at,
                        )
                    )
                    session.flush()
            session.commit()

    def _keyring(self) -> KeyRing:
        if self._ring is None:
            self._ring = load_keyring()
        return self._ring


def _masked(event: RegisterEvent) -> RegisterEvent:
    """The event as the register keeps it: the text with the caller masked, no contact."""
    names, phones = [event.caller_name], [event.caller_phone]
    text = redact_text(event.text, names=names, phones=phones) or None if event.text else None
    return event.model_copy(update={"text": text, "caller_phone": None, "caller_name": None})
