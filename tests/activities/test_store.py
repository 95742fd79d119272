"""The ticket register on SQLite and PostgreSQL, through the migrations `cityops up` runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select
from temporalio.testing import ActivityEnvironment

from cityops.activities.store import StoreActivities, TicketEventRow, TicketRow
from cityops.domain.models import TicketIntake, TicketRecord
from cityops.domain.stages import Source, Stage, Tier
from cityops.org.migrate import upgrade

RECEIVED = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
INTAKE = TicketIntake(
    ticket_id="PD1", source=Source.HOTLINE, text="井盖不见了", received_at=RECEIVED
)


def record(stage: Stage, event: str, minutes: int) -> TicketRecord:
    return TicketRecord(
        ticket_id="PD1", workflow_id="ticket-PD1", stage=stage, intake=INTAKE, scenario_id="PS03",
        street_code="T01", assignee_id="P-T01-3", tier=Tier.STREET, event=event,
        at=RECEIVED + timedelta(minutes=minutes),
    )  # fmt: skip


def test_records_update_one_row_and_log_each_event_once(database_url: str, engine: Engine) -> None:
    upgrade(database_url)
    activity = StoreActivities(engine)
    env = ActivityEnvironment()
    env.run(activity.record_ticket, record(Stage.AWAITING_ACCEPT, "dispatched", 1))
    env.run(activity.record_ticket, record(Stage.CLOSED, "closed", 90))
    env.run(activity.record_ticket, record(Stage.CLOSED, "closed", 90))  # a retried activity

    with Session(engine) as session:
        row = session.get(TicketRow, "PD1")
        assert row is not None and row.stage == "closed" and row.street_code == "T01"
        events = session.exec(select(TicketEventRow.event).order_by(col(TicketEventRow.at))).all()
        assert list(events) == ["dispatched", "closed"]
        assert session.exec(select(func.count()).select_from(TicketRow)).one() == 1
