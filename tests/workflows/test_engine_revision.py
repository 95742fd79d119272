"""A new ticket starts on the current engine revision and asks Temporal no patch (no marker,
no TemporalChangeVersion upsert: fewer history events and visibility writes per ticket);
a ticket started before revisions (its input carries none) asks its patches as it did,
and both reach their first notice the same way. From revision 2 the assignment notice is
a local activity of the dispatching workflow task; revision 1 sent it as an activity.
Replays of every kind are in test_replay.py (histories -v10 on revision 2, -v8 on
revision 1, the earlier ones before revisions)."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from cityops.domain.alarms import alarm_intake
from cityops.domain.models import ENGINE_REVISION, AlarmEvent, TicketIntake
from cityops.service import tickets
from cityops.workflows import search_attributes as sa
from cityops.workflows.ticket import TicketWorkflow
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
