"""A call naming two problems becomes two tickets with one dispatcher action.

The rules record the other problem on the ticket (`Classification.secondary`); a
dispatcher or supervisor splits it off: a new ticket with its own number, the secondary
scenario as its service code, the same caller and place, and `split_from` linking it
to the original, which records the split (`TicketWorkflow.split_secondary`).

Order, so nothing acknowledged is dropped and a retry makes nothing twice:
1. who asks is looked up in the organisation (only a dispatcher or a supervisor);
2. the original's status: it must have a secondary issue not yet split;
3. the new ticket is started under a number derived from the original's, so a second
   attempt (a retry, or two dispatchers at once) finds the same ticket, never a second;
4. the original's update records the split; its validator is the authority (a second
   split of the same issue is refused there even if step 2 raced).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from temporalio.client import Client, RPCError, WorkflowUpdateFailedError

from cityops.domain.models import (
    SPLITTER_ROLES,
    SecondaryIssue,
    SplitInput,
    SplitOutcome,
    TicketIntake,
)
from cityops.domain.zones import SHANGHAI
from cityops.org.directory import UnknownPersonError
from cityops.org.store import load_or_demo
from cityops.service import tickets
from cityops.service.tickets import TicketRejected
from cityops.workflows.ticket import TicketWorkflow


@dataclass(frozen=True)
class Split:
    new_ticket_id: str
    created: bool  # False: an earlier attempt had started the new ticket already
    outcome: SplitOutcome


def split_ticket_id(original: TicketIntake) -> str:
    """PD + the original's Shanghai date + 8 characters derived from its number: the
    format of every PD number, and the same for every attempt at the same split."""
    day = original.received_at.astimezone(SHANGHAI).strftime("%Y%m%d")
    digest = hashlib.sha256(f"{original.ticket_id}/secondary".encode()).hexdigest()
    return f"PD{day}{digest[:8].upper()}"


def split_intake(original: TicketIntake, secondary: SecondaryIssue, at: datetime) -> TicketIntake:
    """The new ticket: the secondary problem's words and scenario, the same caller and place."""
    return TicketIntake(
        ticket_id=split_ticket_id(original),
        source=original.source,
        text=secondary.text,
        address=original.address,
        lat=original.lat,
        lon=original.lon,
        caller_name=original.caller_name,
        caller_phone=original.caller_phone,
        received_at=at,
        service_code=secondary.scenario.id,
        split_from=original.ticket_id,
    )


def role_of(person_id: str, engine: Engine | None) -> str:
    """The person's role in the organisation; TicketRejected for an unknown person."""
    try:
        return load_or_demo(engine).person(person_id).role.value
    except UnknownPersonError as exc:
        raise TicketRejected(f"no person {person_id} in the organisation") from exc


async def split_secondary(
    client: Client,
    ticket_id: str,
    by: str,
    task_queue: str,
    engine: Engine | None,
    *,
    acted_by: str | None = None,
) -> Split:
    """`by` splits it (a dispatcher or supervisor); `acted_by`: who did it on their behalf."""
    role = role_of(by, engine)
    if role not in SPLITTER_ROLES:
        raise TicketRejected(
            f"{by} is a {role}: only a dispatcher or a supervisor splits a secondary issue"
        )
    status = await tickets.status(client, ticket_id, include_history=False)
    secondary = status.classification.secondary if status.classification else None
    if secondary is None:
        raise TicketRejected(f"ticket {ticket_id} has no secondary issue to split")
    if status.split is not None:
        raise TicketRejected(
            f"the secondary issue of {ticket_id} was already split into ticket "
            f"{status.split.new_ticket_id}"
        )
    original = await original_intake(client, ticket_id)
    intake = split_intake(original, secondary, datetime.now(UTC))
    started = await tickets.submit(client, intake, task_queue)
    handle = await tickets.resolve_handle(client, ticket_id)
    request = SplitInput(by=by, by_role=role, new_ticket_id=intake.ticket_id, acted_by=acted_by)
    try:
        outcome = await handle.execute_update(TicketWorkflow.split_secondary, request)
    except WorkflowUpdateFailedError as exc:
        refusal = tickets.refused(ticket_id, exc, "a call, not a work order")
        raise TicketRejected(f"{refusal} (ticket {intake.ticket_id} exists for it)") from exc
    except RPCError as exc:
        raise tickets.rpc_error(ticket_id, exc) from exc
    return Split(intake.ticket_id, started.created, outcome)


async def original_intake(client: Client, ticket_id: str) -> TicketIntake:
    """The ticket's own intake: the input its run started with (caller and place are not
    part of the status)."""
    handle = await tickets.resolve_handle(client, ticket_id)
    try:
        async for event in handle.fetch_history_events(page_size=1):
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            decoded = await client.data_converter.decode(payloads, [TicketIntake])
            intake = decoded[0]
            assert isinstance(intake, TicketIntake)
            return intake
    except RPCError as exc:
        raise tickets.rpc_error(ticket_id, exc) from exc
    raise tickets.TicketNotFound(f"no ticket {ticket_id}")
