"""The actions of a call that is no work order, over HTTP: the caller's rating of a
consultation, a department's reply to a suggestion, the conversion of a consultation or
referral into a work order; and the kind the rules suggest for a caller's words.

Each action is the CallWorkflow update of the same name. Statuses as for any ticket
action (routes_tickets.py): 409 when the call refuses it (wrong kind, stage or person;
a work order; a closed record), 404 for an unknown number, 422 for a malformed body.
"""

from typing import Annotated

from fastapi import APIRouter, Depends

from cityops.api.auth import require
from cityops.api.context import AppContext, get_context
from cityops.api.identity import body_model, message_from, scoped_status, shown_to
from cityops.api.keys import Caller, Role
from cityops.api.openapi_docs import responses
from cityops.api.routes_tickets import TicketNumber, ticket_errors
from cityops.domain.calls import ConvertInput, KindAdvice, RateInput, ReplyInput
from cityops.domain.models import TicketStatus
from cityops.domain.submission import KindQuestion
from cityops.service import calls

router = APIRouter(prefix="/api/v1/tickets", tags=["calls"])
Context = Annotated[AppContext, Depends(get_context)]
# The bodies: the messages without acted_by, the person optional (the key's person acts).
RateBody = body_model(RateInput)
ReplyBody = body_model(ReplyInput)
ConvertBody = body_model(ConvertInput)


@router.post("/kind-suggestion", response_model=KindAdvice, responses=responses(401, 403, 422))
async def suggest_kind(
    body: KindQuestion, _: Annotated[Caller, Depends(require(Role.HOTLINE_AGENT))]
) -> KindAdvice:
    """What the rules make of the words (complaint, consultation, suggestion) and the
    three likeliest scenarios; the agent decides the kind and may pick a scenario as the
    `service_code` at submission."""
    return calls.suggest_kind(body.text)


@router.post(
    "/{ticket_id}/rate",
    response_model=TicketStatus,
    responses=responses(401, 403, 404, 409, 422, 503),
)
async def rate(
    ticket_id: TicketNumber,
    body: RateBody,  # type: ignore[valid-type]
    context: Context,
    caller: Annotated[Caller, Depends(require(Role.HOTLINE_AGENT))],
) -> TicketStatus:
    """The caller's one-question rating of a consultation answered on the spot."""
    message = message_from(body, RateInput, caller)
    with ticket_errors():
        await scoped_status(context, caller, ticket_id)
        return shown_to(
            caller, await calls.rate(context.client, ticket_id, message, context.workers)
        )


@router.post(
    "/{ticket_id}/reply",
    response_model=TicketStatus,
    responses=responses(401, 403, 404, 409, 422, 503),
)
async def reply(
    ticket_id: TicketNumber,
    body: ReplyBody,  # type: ignore[valid-type]
    context: Context,
    caller: Annotated[Caller, Depends(require(Role.RESPONDER))],
) -> TicketStatus:
    """The department's reply to a suggestion (its owner, an earlier owner or above)."""
    message = message_from(body, ReplyInput, caller)
    with ticket_errors():
        await scoped_status(context, caller, ticket_id)
        return shown_to(
            caller, await calls.reply(context.client, ticket_id, message, context.workers)
        )


@router.post(
    "/{ticket_id}/convert",
    response_model=TicketStatus,
    responses=responses(401, 403, 404, 409, 422, 503),
)
async def convert(
    ticket_id: TicketNumber,
    body: ConvertBody,  # type: ignore[valid-type]
    context: Context,
    caller: Annotated[Caller, Depends(require(Role.HOTLINE_AGENT))],
) -> TicketStatus:
    """A consultation or referral that needs action after all becomes a work order under
    the same number (stage converted; the work order's run follows at once)."""
    message = message_from(body, ConvertInput, caller)
    with ticket_errors():
        await scoped_status(context, caller, ticket_id)
        return shown_to(
            caller, await calls.convert(context.client, ticket_id, message, context.workers)
        )
