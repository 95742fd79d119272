"""A new ticket starts on the current engine revision and asks Temporal no patch (no marker,
no TemporalChangeVersion upsert: fewer history events and visibility writes per ticket);
a ticket started before revisions (its input carries none) asks its patches as it did,
and both reach their first notice the same way. From revision 2 the assignment notice is
a local activity of the dispatching workflow task; revision 1 sent it as an activity.
Replays of every kind are in test_replay.py (histories -v10 on revision 2, -v8 on
revision 1, the earlier ones before revisions)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from cityops.domain.alarms import alarm_intake
from cityops.domain.models import ENGINE_REVISION, AlarmEvent, TicketIntake
from cityops.service import tickets
from cityops.workflows import search_attributes as sa
from cityops.workflows.ticket import TicketWorkflow
from tests.conftest import eventually
from tests.workflows.harness import Harness, intake


async def _patch_events(handle: WorkflowHandle[TicketWorkflow, object]) -> tuple[int, int]:
    """Patch markers, and upserts of TemporalChangeVersion, in the ticket's history."""
    markers = upserts = 0
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            markers += event.marker_recorded_event_attributes.marker_name == "core_patch"
        if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            upserts += "TemporalChangeVersion" in fields.indexed_fields
    return markers, upserts


async def _notice_activities(handle: WorkflowHandle[TicketWorkflow, object]) -> int:
    """send_notice scheduled as an activity task (not a local activity) in the history."""
    scheduled = 0
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attributes = event.activity_task_scheduled_event_attributes
            scheduled += attributes.activity_type.name == "send_notice"
    return scheduled


async def _started_on(
    h: Harness, ticket_id: str, *, engine: int
) -> WorkflowHandle[TicketWorkflow, object]:
    """A ticket started on an older revision than the intake stamps (which `submit`
    would overwrite), once it has told its assignee."""
    older = intake(ticket_id, scenario="SC01", received_at=datetime.now(UTC), engine=engine)
    handle = await h.client.start_workflow(
        TicketWorkflow.run,
        older,
        id=tickets.workflow_id_for(ticket_id),
        task_queue=h.task_queue,
        search_attributes=sa.initial(older),
    )
    await h.settled(ticket_id)
    assert h.notifier.kinds() == ["assigned"]
    return handle


async def test_a_new_ticket_asks_no_patch(env: WorkflowEnvironment, h: Harness) -> None:
    handle = await h.start(intake("ER-1", scenario="SC01", received_at=datetime.now(UTC)))
    assert (await h.status("ER-1")).assignee_id is not None
    assert h.notifier.kinds() == ["assigned"]
    assert await _patch_events(handle) == (0, 0)
    # The assignment notice went out as a local activity: no activity task for it.
    assert await _notice_activities(handle) == 0


async def test_a_revision_1_ticket_sends_its_assignment_as_an_activity(
    env: WorkflowEnvironment, h: Harness
) -> None:
    handle = await _started_on(h, "ER-R1", engine=1)
    assert await _patch_events(handle) == (0, 0)
    assert await _notice_activities(handle) == 1


async def test_an_alarm_ticket_starts_on_the_current_revision() -> None:
    event = AlarmEvent.model_validate(
        {
            "event_id": "ER-A1",
            "device_id": "MHC-ER-1",
            "sensor_type": "manhole_cover",
            "metric": "tilt_deg",
            "value": 30.0,
            "status": "firing",
            "occurred_at": datetime.now(UTC),
            "lat": 31.2051,
            "lon": 121.6003,
        }
    )
    assert alarm_intake(event, datetime.now(UTC)).engine == ENGINE_REVISION
    held = TicketIntake.model_validate(
        {"ticket_id": "X", "source": "hotline", "received_at": datetime.now(UTC)}
    )
    assert held.engine == 0  # what a ticket started before revisions decodes to
    assert held.on_current_engine().engine == ENGINE_REVISION


async def test_a_ticket_from_before_revisions_asks_its_patches(
    env: WorkflowEnvironment, h: Harness
) -> None:
    # Started as the intake started tickets before revisions: no engine in the input.
    handle = await _started_on(h, "ER-0", engine=0)
    markers, upserts = await _patch_events(handle)
    assert markers >= 2 and upserts == markers  # plan-at-intake and bounded-state at least


async def test_a_local_notice_that_fails_is_sent_as_an_activity_asking_the_log(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """Every channel down for the local attempt: one attempt, then the notice is an
    activity as before revisions, which asks the delivery log first (the local attempt
    may have reached some), and the ticket goes on to its accept clock."""
    h.notifier.local_down = True
    handle = await h.start(intake("ER-LD", scenario="SC01", received_at=datetime.now(UTC)))
    await h.until(lambda: bool(h.notifier.notices))
    status = await h.settled("ER-LD")
    assert h.notifier.local_attempts == 1
    [notice] = h.notifier.notices
    assert notice.kind.value == "assigned" and notice.after_local_attempt
    assert await _notice_activities(handle) == 1
    assert "notice_retried" in [entry.event for entry in status.history]
    assert status.accept_deadline is not None


async def test_a_slow_local_notice_does_not_hold_the_workflow_task(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """A channel slower than the local attempt's 5 s: the attempt is given up inside the
    workflow task's 10 s and the notice goes out as an activity."""
    h.notifier.local_delay = 8.0
    handle = await h.client.start_workflow(
        TicketWorkflow.run,
        slow := intake("ER-LS", scenario="SC01", received_at=datetime.now(UTC)),
        id=tickets.workflow_id_for("ER-LS"),
        task_queue=h.task_queue,
        search_attributes=sa.initial(slow),
    )
    await asyncio.sleep(6)  # past the local attempt's 5 s (a query waits on the task)
    await h.until(lambda: bool(h.notifier.notices))
    assert h.notifier.local_attempts == 1
    assert [n.after_local_attempt for n in h.notifier.notices] == [True]
    assert await _notice_activities(handle) == 1
    async for event in handle.fetch_history_events():  # the task was never held open
        assert event.event_type != EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT


async def test_a_worker_refuses_a_ticket_on_a_revision_it_does_not_know(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """A newer intake than the worker: the workflow task fails (and is retried until a
    worker that knows the revision takes it); the ticket is not run the older way."""
    newer = intake("ER-NEW", scenario="SC01", received_at=datetime.now(UTC))
    newer = newer.model_copy(update={"engine": ENGINE_REVISION + 1})
    handle = await h.client.start_workflow(
        TicketWorkflow.run,
        newer,
        id=tickets.workflow_id_for("ER-NEW"),
        task_queue=h.task_queue,
        search_attributes=sa.initial(newer),
    )

    async def task_failed() -> None:
        failures = [
            e.workflow_task_failed_event_attributes.failure.message
            async for e in handle.fetch_history_events()
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
        ]
        assert failures and f"engine revision {ENGINE_REVISION + 1}" in failures[0]

    await eventually(task_failed)
    assert h.notifier.notices == []
    await handle.terminate("test over")
