"""Calls reach the same ticket register as work orders (`record_ticket`), and the call
counts read back what the register stored, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from cityops.activities.store import StoreActivities, TicketEventRow, TicketRow
from cityops.domain.call_counts import call_counts
from cityops.domain.models import TicketIntake, TicketRecord
from cityops.domain.stages import CallKind, Source, Stage
from cityops.org.migrate import upgrade

RECEIVED = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def record(ticket: str, stage: Stage, event: str, minutes: int) -> TicketRecord:
    intake = TicketIntake(
        ticket_id=ticket, source=Source.HOTLINE, text="请问", received_at=RECEIVED
    )
    return TicketRecord(
        ticket_id=ticket,
        workflow_id=f"ticket-{ticket}",
        stage=stage,
        intake=intake,
        event=event,
        at=RECEIVED + timedelta(minutes=minutes),
    )


def test_call_events_in_the_register_are_counted(database_url: str, engine: Engine) -> None:
    upgrade(database_url)
    store = StoreActivities(engine)
    env = ActivityEnvironment()
    for item in (
        record("CA", Stage.ANSWERED, "answered", 0),
        record("CA", Stage.ANSWERED, "rated_satisfied", 1),
        record("CA", Stage.ANSWERED, "rated_satisfied", 1),  # a retried activity
        record("CB", Stage.ANSWERED, "answered", 2),
        record("CB", Stage.CONVERTED, "converted", 30),
        record("CB", Stage.AWAITING_ACCEPT, "dispatched", 30),
        record("RA", Stage.REFERRED, "referred", 3),
        record("SA", Stage.RECORDED, "recorded", 4),
    ):
        env.run(store.record_ticket, item)

    with Session(engine) as session:
        rows = list(session.exec(select(TicketEventRow)))
        converted = session.get(TicketRow, "CB")
        assert converted is not None and converted.stage == Stage.AWAITING_ACCEPT.value
    day = RECEIVED.replace(hour=0)
    # SQLite hands instants back without their offset; the register's rows are UTC.
    for row in rows:
        row.at = row.at.replace(tzinfo=UTC) if row.at.tzinfo is None else row.at
    counts = call_counts(rows, day, day + timedelta(days=1))
    assert counts.by_kind[CallKind.CONSULTATION] == 2
    assert (counts.calls, counts.converted, counts.consultations_rated) == (4, 1, 1)
    assert counts.consultation_satisfaction_rate == 1.0
    assert counts.referral_rate == 0.25
    assert counts.work_orders == 1
