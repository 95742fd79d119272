"""``POST /api/v1/tickets/{id}/reveal-phone``: the caller's full number, on purpose.

Notices, pages and status show the phone masked (139****1234). A responder who must call
the citizen asks for the full number here, saying who they are and why; the request is
written to ``phone_reveals`` (who: the key's person; ``api:<key id>``, and who acted for them
if it was someone else; why, when) before the number is answered. A key sees only the
tickets of its scope.
404 when the register holds no phone for the ticket, 410 when it was erased.

The workflow writes the register row just after the "assigned" notice goes out, so a
responder quick off the mark may ask a moment before it exists: the route waits up to
REVEAL_WAIT seconds for it before answering 404.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field

from cityops.api.auth import require
from cityops.api.context import AppContext, get_context
from cityops.api.identity import acting, named_person, scoped_status
from cityops.api.keys import Caller, Role
from cityops.api.openapi_docs import responses
from cityops.api.routes_tickets import ticket_errors
from cityops.domain.limits import RevealReason
from cityops.privacy.register import ContactErased, NoContact, reveal_phone

router = APIRouter(prefix="/api/v1/tickets", tags=["privacy"])
REVEAL_WAIT = 3.0
_POLL = 0.25
log = structlog.get_logger(__name__)


class RevealRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    by: str | None = named_person()
    reason: RevealReason = Field(description="Why you need the full number (kept)")


class RevealedContact(BaseModel):
    ticket_id: str
    caller_phone: str | None
    caller_name: str | None


@router.post(
    "/{ticket_id}/reveal-phone",
    response_model=RevealedContact,
    responses=responses(401, 403, 404, 410, 422, 503),
)
async def reveal(
    ticket_id: Annotated[str, Field(max_length=64)],
    body: RevealRequest,
    response: Response,
    context: Annotated[AppContext, Depends(get_context)],
    caller: Annotated[Caller, Depends(require(Role.RESPONDER, Role.HOTLINE_AGENT))],
) -> RevealedContact:
    who = acting(caller, body.by, "by")
    with ticket_errors():
        await scoped_status(context, caller, ticket_id)
    via = f"api:{caller.key_id}" + (f" by {who.acted_by}" if who.acted_by else "")
    waited = 0.0
    while True:
        try:
            contact = await asyncio.to_thread(
                reveal_phone,
                context.engine,
                context.ring,
                ticket_id,
                by=who.person,
                via=via[:80],
                reason=body.reason,
            )
            break
        except NoContact as exc:
            if waited >= REVEAL_WAIT:
                raise HTTPException(404, str(exc)) from exc
        except ContactErased as exc:
            raise HTTPException(410, str(exc)) from exc
        await asyncio.sleep(_POLL)
        waited += _POLL
    log.info(
        "caller_phone_revealed",
        ticket_id=ticket_id,
        by=who.person,
        acted_by=who.acted_by,
        key_id=caller.key_id,
    )
    response.headers["Cache-Control"] = "no-store"
    return RevealedContact(
        ticket_id=ticket_id, caller_phone=contact.phone, caller_name=contact.name
    )
