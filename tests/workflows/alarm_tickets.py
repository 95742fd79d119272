"""Alarm tickets in the time-skipping tests: device events, signal-with-start on the
device's workflow id as the alarm intake does it, and polling a ticket's status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from cityops.domain.alarms import alarm_intake, alarm_workflow_id
from cityops.domain.models import AlarmEvent, TicketStatus
from cityops.workflows import search_attributes as sa
from cityops.workflows.ticket import ALARM_EVENT_SIGNAL, TicketWorkflow
from tests.conftest import eventually
from tests.workflows.harness import Harness


def device_event(
    event_id: str, status: str, *, device: str, sensor: str, metric: str
) -> AlarmEvent:
    video = sensor == "video_ai"
    return AlarmEvent.model_validate(
        {
            "event_id": event_id,
            "device_id": device,
            "sensor_type": sensor,
            "metric": metric,
            "value": 0.9 if video else 95,
            "status": status,
            "lat": 31.2051,
            "lon": 121.6003,
            "occurred_at": datetime.now(UTC),
            "attributes": {"site": "碧波路690号", **({"detection": metric} if video else {})},
        }
    )


async def start_alarm(
    h: Harness, event: AlarmEvent, received: datetime
) -> WorkflowHandle[Any, Any]:
    """As the alarm intake does: signal-with-start on the device's workflow id."""
    ticket = alarm_intake(event, received)
    return await h.client.start_workflow(
        TicketWorkflow.run,
        ticket,
        id=alarm_workflow_id(event.device_id, event.metric),
        task_queue=h.task_queue,
        start_signal=ALARM_EVENT_SIGNAL,
        start_signal_args=[event],
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        search_attributes=sa.initial(ticket),
    )


async def state(handle: WorkflowHandle[Any, Any]) -> TicketStatus:
    status: TicketStatus = await handle.query(TicketWorkflow.status)
    return status


async def until(handle: WorkflowHandle[Any, Any], check: Any) -> TicketStatus:
    async def probe() -> TicketStatus:
        status = await state(handle)
        assert check(status), status.stage
        return status

    return await eventually(probe)
