"""Alarm events over HTTP and the dead letters of refused ones (incidents:
routes_incidents.py).

``POST /api/v1/alarms`` takes one event or a list (spec: alarm_event.md) and answers 200
with each event's outcome, in order: an invalid one is ``rejected`` with its index,
field and reason and stored as a dead letter; the others go through. Only a body that
is not JSON (or over 16 MiB) or not an event object or list is refused whole.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from cityops.api.auth import require
from cityops.api.bodies import json_body, unavailable
from cityops.api.context import AppContext, get_context
from cityops.api.keys import Caller, Role, ScopeKind
from cityops.api.openapi_docs import json_body as body_doc
from cityops.api.openapi_docs import responses
from cityops.db.audit import AlarmOutcome
from cityops.db.deadletters import Channel, DeadLetterRow, LetterStatus, list_letters
from cityops.domain.models import AlarmEvent
from cityops.service.alarms import (
    AlarmBatchInvalid,
    AlarmIntakeUnavailable,
    AlarmResult,
    Incoming,
    split_payload,
)

router = APIRouter(prefix="/api/v1", tags=["alarms"])
Context = Annotated[AppContext, Depends(get_context)]
Gateway = Annotated[Caller, Depends(require(Role.SENSOR_GATEWAY))]


class AlarmOutcomeOut(BaseModel):
    index: int | None = Field(description="The event's place in the batch (0 for one event)")
    event_id: str | None = Field(description="None for a rejected item without a usable id")
    outcome: AlarmOutcome
    ticket_id: str | None = None
    workflow_id: str | None = None
    scenario_id: str | None = None
    incident_id: str | None = None
    field: str | None = Field(default=None, description="rejected: the field that is wrong")
    reason: str | None = Field(default=None, description="rejected, triage, silenced: why")
    dead_letter_id: int | None = Field(
        default=None, description="rejected: the stored dead letter (GET /alarms/rejected)"
    )


class AlarmReceipt(BaseModel):
    received: int = Field(description="Items in the request")
    results: list[AlarmOutcomeOut]


class DeadLetterOut(BaseModel):
    letter_id: int
    channel: Channel
    origin: str
    item_index: int | None
    event_id: str | None
    field: str
    reason: str
    payload: str = Field(description="As received: the item's JSON, or the whole message")
    truncated: bool
    received_at: datetime
    times_received: int
    status: LetterStatus
    attempts: int
    replayed_at: datetime | None
    replay_outcome: str | None
    replay_ticket_id: str | None


def outcome_out(result: AlarmResult) -> AlarmOutcomeOut:
    return AlarmOutcomeOut(
        index=result.index,
        event_id=result.event_id,
        outcome=result.outcome,
        ticket_id=result.ticket_id,
        workflow_id=result.workflow_id,
        scenario_id=result.scenario_id,
        incident_id=result.incident_id,
        field=result.field,
        reason=result.reason,
        dead_letter_id=result.dead_letter_id,
    )


def origin_of(caller: Caller, where: str) -> str:
    """A dead letter's origin: where it came, and the key that sent it (last, so a key's
    own letters can be found: `GET /alarms/rejected` for a street key)."""
    return f"{where} key {caller.key_id}"


def scope_check(context: AppContext, caller: Caller) -> Callable[[AlarmEvent], str | None] | None:
    """For a street or station key: why an event lies outside the key's street (placed
    by its site and coordinates, as its ticket would be), or None. A station key is held
    to its station's street: an alarm's place names a street, not always a station."""
    street = caller.scope.street
    if street is None:
        return None

    def outside(event: AlarmEvent) -> str | None:
        place = context.alarms.locate(event)
        if place.street_code == street:
            return None
        where = (
            f"street {place.street_code}"
            if place.street_code
            else "no street of the district (neither site nor coordinates place it)"
        )
        return (
            f"this key posts for {caller.scope} only, and the event's site and coordinates "
            f"place it in {where}: kept as a dead letter, replay it with `cityops intake "
            "replay` once checked"
        )

    return outside


async def submit_items(
    context: AppContext, items: list[Incoming], channel: Channel, caller: Caller
) -> AlarmReceipt:
    """Shared by /alarms and the Alertmanager webhook. A street or station key's events
    outside its street are refused, each kept as a dead letter (nothing is dropped)."""
    try:
        results = await context.alarms.submit(
            items, channel, datetime.now(UTC), outside=scope_check(context, caller)
        )
    except AlarmIntakeUnavailable as exc:
        raise unavailable(f"{exc}; resend: repeats are recognised") from exc
    return AlarmReceipt(received=len(items), results=[outcome_out(r) for r in results])


@router.post(
    "/alarms",
    response_model=AlarmReceipt,
    responses=responses(401, 403, 413, 422, 503),
    openapi_extra=body_doc(
        AlarmEvent | list[AlarmEvent],
        "One alarm event, or a list of them (any length: taken in chunks of 1,000)",
    ),
)
async def post_alarms(request: Request, context: Context, caller: Gateway) -> AlarmReceipt:
    """Each event's outcome, in order; invalid ones are `rejected` and kept as dead letters."""
    payload = await json_body(request)
    try:
        raws = split_payload(payload)
    except AlarmBatchInvalid as exc:
        raise RequestValidationError(
            [{"loc": ["body"], "msg": str(exc), "type": "model_type"}]
        ) from exc
    origin = origin_of(caller, "POST /api/v1/alarms")
    items = [Incoming(raw, index, origin) for index, raw in enumerate(raws)]
    return await submit_items(context, items, Channel.HTTP, caller)


@router.get(
    "/alarms/rejected",
    response_model=list[DeadLetterOut],
    responses=responses(401, 403, 422),
)
async def get_rejected(
    context: Context,
    caller: Annotated[Caller, Depends(require(Role.SENSOR_GATEWAY))],
    status: Annotated[
        Literal["open", "replayed", "all"], Query(description="Which letters")
    ] = "open",
    channel: Channel | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadLetterOut]:
    """Refused events (dead letters), newest first: replay them with `cityops intake replay`.
    A dead letter has no street (a refused item may not be readable at all), so a street
    or station key sees the letters of what it posted itself, a district key all."""
    wanted = None if status == "all" else LetterStatus(status)
    own = None if caller.scope.kind is ScopeKind.DISTRICT else origin_of(caller, "")
    rows = list_letters(context.engine, wanted, channel, limit, origin_suffix=own)
    return [_letter_out(row) for row in rows]


def _letter_out(row: DeadLetterRow) -> DeadLetterOut:
    return DeadLetterOut.model_validate(row, from_attributes=True)
