"""Alarm events over HTTP (incidents: routes_incidents.py).

``POST /api/v1/alarms`` takes one event or a list of up to 1,000 (spec:
alarm_event.md). The whole batch is validated first: one bad event is a 422 naming
its index and field, and nothing of that batch is delivered or recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from cityops.api.auth import require
from cityops.api.context import AppContext, get_context
from cityops.api.keys import Caller, Role
from cityops.service.alarms import (
    AlarmBatchInvalid,
    AlarmIntakeUnavailable,
    AlarmResult,
    parse_batch,
)

router = APIRouter(prefix="/api/v1", tags=["alarms"])
Context = Annotated[AppContext, Depends(get_context)]
Gateway = Annotated[Caller, Depends(require(Role.SENSOR_GATEWAY))]


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
