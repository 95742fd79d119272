"""What an alarm ticket is called and starts from. Pure, so the intake and the workflow
(which opens the next ticket itself when a device fires again as its ticket closes) agree."""

from __future__ import annotations

import hashlib
from datetime import datetime

from cityops.domain.models import ENGINE_REVISION, AlarmEvent, TicketIntake
from cityops.domain.stages import Source
from cityops.domain.zones import SHANGHAI

ALARM_TICKET_PREFIX = "AL"


def alarm_workflow_id(device_id: str, metric: str) -> str:
    """One open ticket per device alarm: every run of this id is one ticket."""
    return f"alarm-{device_id}-{metric}"


def alarm_ticket_id(event: AlarmEvent) -> str:
    """AL + Shanghai date + a digest of the event that opened it: unique per run."""
    day = event.occurred_at.astimezone(SHANGHAI).strftime("%Y%m%d")
    digest = hashlib.sha256(event.event_id.encode()).hexdigest()[:8].upper()
    return f"{ALARM_TICKET_PREFIX}{day}{digest}"


def alarm_intake(event: AlarmEvent, received_at: datetime) -> TicketIntake:
    return TicketIntake(
        ticket_id=alarm_ticket_id(event),
        source=Source.VIDEO if event.sensor_type == "video_ai" else Source.IOT,
        address=event.site,
        lat=event.lat,
        lon=event.lon,
        received_at=received_at,
        alarm=event,
        engine=ENGINE_REVISION,
    )
