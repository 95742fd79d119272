"""Alarm events over HTTP, and the incidents that group several devices' tickets.

``POST /api/v1/alarms`` takes one event or a list of up to 1,000 (spec:
alarm_event.md). The whole batch is validated first: one bad event is a 422 naming
its index and field, and nothing of that batch is delivered or recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from cityops.api.auth import require
from cityops.api.context import AppContext, get_context
from cityops.api.keys import Caller, Role
from cityops.db.audit import incident_tickets, list_incidents
from cityops.service.alarms import (
    AlarmBatchInvalid,
    AlarmIntakeUnavailable,
    AlarmResult,
    parse_batch,
)

router = APIRouter(prefix="/api/v1", tags=["alarms"])
Context = Annotated[AppContext, Depends(get_context)]
Gateway = Annotated[Caller, Depends(require(Role.SENSOR_GATEWAY))]
AnyRole = Annotated[Caller, Depends(require(*Role))]


class AlarmOutcomeOut(BaseModel):
    event_id: str
    outcome: str
    ticket_id: str | None
    workflow_id: str | None
    scenario_id: str | None
    incident_id: str | None


class AlarmReceipt(BaseModel):
    received: int
    results: list[AlarmOutcomeOut]


class IncidentOut(BaseModel):
    incident_id: str
    scenario_id: str
    group_by: str
    group_key: str
    street_code: str | None
    opened_at: datetime
    window_ends_at: datetime
    ticket_count: int
    tickets: list[dict[str, Any]] | None = None


def body_location(loc: list[Any]) -> list[Any]:
    return ["body", *loc]


async def ingest_payload(
    context: AppContext, payload: Any, where: Callable[[list[Any]], list[Any]] = body_location
) -> AlarmReceipt:
    """Validate, deliver and record; shared by /alarms and the Alertmanager webhook.
    `where` turns an event error location into one in the caller's request body."""
    received = datetime.now(UTC)
    try:
        events = parse_batch(payload)
    except AlarmBatchInvalid as exc:
        raise RequestValidationError([{**e, "loc": where(e["loc"])} for e in exc.errors]) from exc
    try:
        results = await context.alarms.ingest(events, received)
    except AlarmIntakeUnavailable as exc:
        raise HTTPException(503, f"{exc}; resend the batch: repeats are recognised") from exc
    return AlarmReceipt(received=len(events), results=[_out(r) for r in results])


def _out(result: AlarmResult) -> AlarmOutcomeOut:
    return AlarmOutcomeOut(
        event_id=result.event_id,
        outcome=result.outcome.value,
        ticket_id=result.ticket_id,
        workflow_id=result.workflow_id,
        scenario_id=result.scenario_id,
        incident_id=result.incident_id,
    )


@router.post("/alarms", response_model=AlarmReceipt)
async def post_alarms(
    context: Context,
    _: Gateway,
    payload: Annotated[Any, Body(description="One alarm event, or a list of up to 1,000")],
) -> AlarmReceipt:
    return await ingest_payload(context, payload)


@router.get("/incidents", response_model=list[IncidentOut], tags=["incidents"])
async def get_incidents(
    context: Context,
    _: AnyRole,
    street: Annotated[str | None, Query(max_length=8, description="e.g. T01")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[IncidentOut]:
    rows = list_incidents(context.engine, street, limit)
    return [IncidentOut.model_validate(row, from_attributes=True) for row in rows]


@router.get("/incidents/{incident_id}", response_model=IncidentOut, tags=["incidents"])
async def get_incident(incident_id: str, context: Context, _: AnyRole) -> IncidentOut:
    found = incident_tickets(context.engine, incident_id)
    if found is None:
        raise HTTPException(404, f"no incident {incident_id}")
    incident, links = found
    out = IncidentOut.model_validate(incident, from_attributes=True)
    return out.model_copy(
        update={
            "tickets": [
                {
                    "ticket_id": link.ticket_id,
                    "device_id": link.device_id,
                    "linked_at": link.linked_at.isoformat(),
                }
                for link in links
            ]
        }
    )
