"""A maintenance window that starts and ends, in the time-skipping server: the alarm intake
(the real one, on a migrated and seeded register) opens a ticket for a manhole cover that
moves before the works start, swallows and counts the events while they run, and opens
tickets again once the window has ended (docs/incidents.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from cityops.db.audit import AlarmEventRow, AlarmOutcome
from cityops.db.silences import add_silence, get_silence, hits_of
from cityops.domain.models import AlarmEvent
from cityops.domain.silences import SilenceSpec, SilenceState
from cityops.service.alarms import AlarmIntake
from cityops.workflows.ticket import TicketWorkflow
from tests.api.stack import seeded_organisation
from tests.conftest import eventually
from tests.workflows.harness import Harness

PREFIX = "MHC-WORKS-"


def cover(n: int, at: datetime) -> AlarmEvent:
    return AlarmEvent.model_validate(
        {
            "event_id": f"works-{n}",
            "device_id": f"{PREFIX}{n}",
            "sensor_type": "manhole_cover",
            "metric": "displacement",
            "value": 6.5,
            "status": "firing",
            "lat": 31.03009,
            "lon": 121.640407,
            "occurred_at": at,
            "attributes": {"site": "安澜路与鹏程路交叉口东侧机动车道"},
        }
    )


async def now(env: WorkflowEnvironment) -> datetime:
    return (await env.get_current_time()).astimezone(UTC)


async def test_a_window_silences_while_it_runs_and_tickets_open_after_it_ends(
    env: WorkflowEnvironment, h: Harness, tmp_path: Path
) -> None:
    org = seeded_organisation(tmp_path)
    intake = AlarmIntake(env.client, h.task_queue, org.engine)
    start = await now(env)
    window = add_silence(
        org.engine,
        SilenceSpec(
            device_prefix=PREFIX,
            starts_at=start + timedelta(hours=1),
            ends_at=start + timedelta(hours=3),
            reason="道路开挖（管线迁改）",
            created_by="P-T15-1",
        ),
        start,
    )
    intake.windows.invalidate()

    # Before the works: the window is pending, the cover's movement opens a ticket.
    [before] = await intake.ingest([cover(0, await now(env))])
    assert before.outcome is AlarmOutcome.NEW_TICKET and before.silence_id is None

    await env.sleep(timedelta(hours=1, minutes=5))  # the works have started
    during = await intake.ingest([cover(1, await now(env)), cover(2, await now(env))])
    assert [r.outcome for r in during] == [AlarmOutcome.IN_WINDOW] * 2
    assert {r.silence_id for r in during} == {window.silence_id}
    counted = get_silence(org.engine, window.silence_id)
    assert counted is not None and counted.events_silenced == 2
    # Recorded, not dropped: each is in the alarm audit log as in_window, with no ticket,
    # and the window's hits name them.
    with Session(org.engine) as session:
        rows = {
            row.event_id: row
            for row in session.exec(
                select(AlarmEventRow).where(col(AlarmEventRow.device_id).startswith(PREFIX))
            )
        }
    assert {e: (r.outcome, r.ticket_id) for e, r in rows.items() if e != "works-0"} == {
        "works-1": (AlarmOutcome.IN_WINDOW.value, None),
        "works-2": (AlarmOutcome.IN_WINDOW.value, None),
    }
    assert [hit.event_id for hit in hits_of(org.engine, window.silence_id)] == [
        "works-1",
        "works-2",
    ]
    assert counted.state(await now(env)) is SilenceState.ACTIVE

    await env.sleep(timedelta(hours=2))  # past the window's end
    intake.windows.invalidate()
    [after] = await intake.ingest([cover(3, await now(env))])
    assert after.outcome is AlarmOutcome.NEW_TICKET and after.ticket_id is not None
    ended = get_silence(org.engine, window.silence_id)
    assert ended is not None and ended.state(await now(env)) is SilenceState.EXPIRED
    assert ended.events_silenced == 2  # nothing after the end is counted against it

    assert after.workflow_id is not None
    handle = env.client.get_workflow_handle(after.workflow_id, run_id=after.run_id)

    async def dispatched() -> None:
        status = await handle.query(TicketWorkflow.status)
        assert status.scenario_id == "PS03" and status.assignee_id is not None

    await eventually(dispatched)
