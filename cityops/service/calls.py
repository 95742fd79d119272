"""Calls that are not work orders, over a Temporal client: submit one, and its three
actions (rate, reply, convert) through the CallWorkflow's update definitions, on the same
bounded path as a work order's actions (`tickets.run_update`: no worker, 503 at once; a
busy worker, 15 s). Errors are service/tickets.py's (TicketError and below)."""

from __future__ import annotations

from temporalio.client import Client

from cityops.domain.calls import CallIntake, ConvertInput, KindAdvice, RateInput, ReplyInput
from cityops.domain.masking import redact_text
from cityops.domain.models import TicketIntake, TicketStatus
from cityops.domain.stages import CallKind
from cityops.rules.calls import default_call_rules
from cityops.rules.classify import classify
from cityops.rules.load import default_rules
from cityops.service.tickets import Submitted, WorkerWatch, run_update, start_numbered
from cityops.workflows import search_attributes as sa
from cityops.workflows.call import CallWorkflow

KIND_ZH = {
    CallKind.COMPLAINT: "投诉",
    CallKind.CONSULTATION: "咨询",
    CallKind.REFERRAL: "转办外单位",
    CallKind.SUGGESTION: "建议表扬",
}


def suggest_kind(text: str) -> KindAdvice:
    """What the rules make of the caller's words, with the top 3 scenarios the agent may
    pick from as the service code; the agent decides."""
    intake = TicketIntake.model_validate(
        {"ticket_id": "suggest", "source": "hotline", "text": text, "received_at": _EPOCH}
    )
    classification = classify(intake, default_rules())
    suggestion = default_call_rules().suggest(classification, text)
    return KindAdvice(**dict(suggestion), candidates=classification.candidates)


_EPOCH = "2000-01-01T00:00:00+00:00"


async def submit_call(client: Client, call: CallIntake, task_queue: str) -> Submitted:
    """Start the call's workflow under the ticket-number scheme of any ticket: the same
    hotline number submitted again, as any kind, is the same ticket."""
    intake = call.intake
    # The UI's list line: the caller's name and any phone-like number masked.
    said = redact_text(intake.text, names=[intake.caller_name], phones=[intake.caller_phone])
    summary = f"{intake.ticket_id} · {KIND_ZH[call.kind]} · {said[:40]}"
    return await start_numbered(
        client,
        CallWorkflow.run,
        call,
        intake,
        task_queue,
        summary.rstrip(" ·"),
        sa.initial(intake, call.kind),
    )


async def rate(
    client: Client, ticket_id: str, request: RateInput, workers: WorkerWatch | None = None
) -> TicketStatus:
    return await run_update(client, ticket_id, CallWorkflow.rate, request, workers, _WORK_ORDER)


async def reply(
    client: Client, ticket_id: str, request: ReplyInput, workers: WorkerWatch | None = None
) -> TicketStatus:
    return await run_update(client, ticket_id, CallWorkflow.reply, request, workers, _WORK_ORDER)


async def convert(
    client: Client, ticket_id: str, request: ConvertInput, workers: WorkerWatch | None = None
) -> TicketStatus:
    return await run_update(client, ticket_id, CallWorkflow.convert, request, workers, _WORK_ORDER)


# What a ticket that has none of a call's actions is.
_WORK_ORDER = "a work order, not a call"
