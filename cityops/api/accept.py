"""The one-tap accept endpoint behind the link in every notice: ``/a/{token}``.

GET shows a confirm page and changes nothing: mail scanners and chat link previews fetch
links on their own, and must not accept tickets for people. It looks at the live ticket
first (the injected ``get_link_check``): a link whose ticket no longer waits for its
person shows the stale page, one they used already the "already accepted" page, and
neither shows an accept button. POST performs the accept
through an injected action, so this router does not know how the Temporal client is
obtained. The app wires it with::

    app.include_router(accept.router)
    app.dependency_overrides[accept.get_accept_action] = lambda: my_accept

where ``my_accept(ticket_id, person_id)`` looks at the live ticket (``link_state``) and
runs the workflow's accept update, answering ``ACCEPTED`` or ``ALREADY_ACCEPTED``.

A link is bound to its ticket and its person, and works only while the ticket waits for
that person to accept: once it was transferred, escalated to someone else or closed, the
link is stale (410, a page that names nobody). Using it twice is harmless: the second
time it says "already accepted" (200). Its signed expiry follows the ticket's accept
deadline (activities/notify.py). Refused tokens get a clear Chinese/English page and
are logged.

Exceptions (one tree):

    AcceptRefused(Exception)   the ticket refused this accept; the message is shown
    └── LinkStale              the ticket no longer waits for this person to accept
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import jinja2
import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from cityops.api.openapi_docs import responses
from cityops.config import get_settings
from cityops.domain.models import TicketStatus
from cityops.domain.stages import Stage
from cityops.domain.tokens import (
    ACCEPT_PATH,
    AcceptClaim,
    TokenError,
    TokenExpired,
    TokenForged,
    TokenMalformed,
    TokenWrongPerson,
    verify_accept_token,
)

log = structlog.get_logger(__name__)


class AcceptOutcome(StrEnum):
    ACCEPTED = "accepted"
    ALREADY_ACCEPTED = "already_accepted"


AcceptAction = Callable[[str, str], Awaitable[AcceptOutcome]]
# What a link of (ticket, person) may do on the live ticket; raises when it cannot be told.
LinkCheck = Callable[[str, str], Awaitable["LinkState"]]
# The stages in which a ticket waits for its assignee to accept.
WAITING_FOR_ACCEPT = frozenset({Stage.AWAITING_ACCEPT, Stage.ESCALATED})
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
# The token is a credential in the URL: keep it out of caches and Referer headers.
_PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

router = APIRouter(tags=["accept"])


class AcceptRefused(Exception):
    """The ticket will not take this accept; str(error) is shown to the person."""


class LinkStale(AcceptRefused):
    """The ticket no longer waits for this link's person (moved, accepted by another,
    closed): the link is dead. Nothing about who has the ticket now is said."""


class LinkState(StrEnum):
    ACCEPT = "accept"  # the ticket waits for this person: accept it
    ALREADY = "already"  # this person accepted it already
    STALE = "stale"  # the ticket is no longer waiting for this person


def link_state(status: TicketStatus, person_id: str) -> LinkState:
    """What a link of `person_id` may do on the ticket as it is now."""
    if status.accepted_by is not None:
        return LinkState.ALREADY if status.accepted_by == person_id else LinkState.STALE
    if status.stage in WAITING_FOR_ACCEPT and status.assignee_id == person_id:
        return LinkState.ACCEPT
    return LinkState.STALE


@dataclass(frozen=True)
class _Wording:
    """What one page says, in Chinese first and English below."""

    status: int
    mood: str  # CSS class: confirm / ok / refused
    heading_zh: str
    heading_en: str
    message_zh: str
    message_en: str


_CONFIRM = _Wording(
    200,
    "confirm",
    "确认接单",
    "Confirm accept",
    "请确认由您接收并处置这张工单。",
    "Please confirm that you take on this ticket.",
)
_ACCEPTED = _Wording(
    200,
    "ok",
    "已接单",
    "Accepted",
    "接单成功，请按时限到场处置。",
    "You have accepted the ticket. Please handle it before the deadline.",
)
_ALREADY = _Wording(
    200,
    "ok",
    "已接单",
    "Already accepted",
    "您已接过这张工单，无需再次接单，请按时限处置。",
    "You accepted this ticket already; nothing more to do here. Handle it before the deadline.",
)
_STALE = _Wording(
    410,
    "refused",
    "链接已失效",
    "Link no longer valid",
    "这张工单已不再等待您接单（已转派、已升级、已被接单或已办结），此链接不再有效。"
    "请以最新的通知为准。",
    "This ticket no longer waits for you to accept it (transferred, escalated, accepted or "
    "closed), so this link no longer works. Follow your latest notice.",
)
_UNAVAILABLE = _Wording(
    503,
    "refused",
    "暂时无法接单",
    "Temporarily unavailable",
    "系统暂时无法处理接单，请稍后再点一次链接。",
    "Accepting is unavailable right now. Please open the link again shortly.",
)
_REFUSALS: dict[type[TokenError], _Wording] = {
    TokenMalformed: _Wording(
        400,
        "refused",
        "链接无效",
        "Invalid link",
        "这个接单链接不完整或已损坏，请从通知中重新打开。",
        "This accept link is incomplete or damaged. Open it again from the notice.",
    ),
    TokenForged: _Wording(
        403,
        "refused",
        "链接无法验证",
        "Link cannot be verified",
        "这个接单链接不是本系统签发的，或已被改动，不能用于接单。",
        "This accept link was not issued by this system or has been altered.",
    ),
    TokenExpired: _Wording(
        410,
        "refused",
        "链接已过期",
        "Link expired",
        "这个接单链接已过期，请在工单系统中接单，或联系派单人。",
        "This accept link has expired. Accept the ticket in the system or call the dispatcher.",
    ),
    TokenWrongPerson: _Wording(
        403,
        "refused",
        "不是您的接单链接",
        "Not your link",
        "这个接单链接属于其他人，不能代替他人接单。",
        "This accept link belongs to someone else; nobody can accept on another's behalf.",
    ),
}


def get_accept_action() -> AcceptAction | None:
    """Overridden by the app with the real accept; None means accepting is not wired."""
    return None


def get_link_check() -> LinkCheck | None:
    """Overridden by the app with a look at the live ticket; None: the confirm page is
    shown unchecked (the POST checks in any case)."""
    return None


def get_token_secret() -> str:
    return get_settings().secret


def get_now() -> datetime:
    return datetime.now(UTC)


Secret = Annotated[str, Depends(get_token_secret)]
Now = Annotated[datetime, Depends(get_now)]
Action = Annotated[AcceptAction | None, Depends(get_accept_action)]
Check = Annotated[LinkCheck | None, Depends(get_link_check)]


_LINK_PAGES = responses(400, 403, 503, html=True) | {
    410: {
        "description": "The link has expired, or the ticket no longer waits for its person",
        "content": {"text/html": {"schema": {"type": "string"}}},
    }
}


@router.get(
    ACCEPT_PATH + "{token}",
    response_class=HTMLResponse,
    responses=_LINK_PAGES,
    summary="The confirm page behind a one-tap accept link (changes nothing)",
)
async def confirm_accept(
    token: str, request: Request, secret: Secret, now: Now, check: Check
) -> HTMLResponse:
    """The confirm page only while the live ticket waits for the link's person; a link
    they used already says so, a stale one says it no longer works (no button either
    way). When the ticket cannot be asked, the page is shown: the POST checks again."""
    claim = _verify(token, secret, now, request)
    if isinstance(claim, HTMLResponse):
        return claim
    state = LinkState.ACCEPT
    if check is not None:
        try:
            state = await check(claim.ticket_id, claim.person_id)
        except LinkStale:
            state = LinkState.STALE
        except Exception:
            log.exception("accept_link_check_failed", ticket_id=claim.ticket_id)
    if state is LinkState.ALREADY:
        return _page(_ALREADY, claim)
    if state is LinkState.STALE:
        log.info("accept_link_stale_on_open", ticket_id=claim.ticket_id, person_id=claim.person_id)
        return _page(_STALE, claim)
    return _page(_CONFIRM, claim, confirm_action=str(request.url.path))


@router.post(
    ACCEPT_PATH + "{token}",
    response_class=HTMLResponse,
    responses=_LINK_PAGES | responses(409, html=True),
    summary="Accept the ticket the link names, as the person it names (no body)",
)
async def accept(
    token: str, request: Request, secret: Secret, now: Now, action: Action
) -> HTMLResponse:
    claim = _verify(token, secret, now, request)
    if isinstance(claim, HTMLResponse):
        return claim
    if action is None:
        log.error("accept_not_wired", ticket_id=claim.ticket_id, person_id=claim.person_id)
        return _page(_UNAVAILABLE, claim)
    try:
        outcome = await action(claim.ticket_id, claim.person_id)
    except LinkStale as stale:
        log.warning(
            "accept_link_stale",
            ticket_id=claim.ticket_id,
            person_id=claim.person_id,
            reason=str(stale),
        )
        return _page(_STALE, claim)
    except AcceptRefused as refused:
        log.warning(
            "accept_refused_by_ticket",
            ticket_id=claim.ticket_id,
            person_id=claim.person_id,
            reason=str(refused),
        )
        wording = _Wording(
            409,
            "refused",
            "未能接单",
            "Not accepted",
            str(refused) or "工单当前不能由您接单。",
            "The ticket cannot be accepted by you at this point.",
        )
        return _page(wording, claim)
    except Exception:
        # The workflow service is down or timed out: say so, and keep the link usable.
        log.exception("accept_failed", ticket_id=claim.ticket_id, person_id=claim.person_id)
        return _page(_UNAVAILABLE, claim)
    if outcome is AcceptOutcome.ALREADY_ACCEPTED:
        log.info("accept_link_used_again", ticket_id=claim.ticket_id, person_id=claim.person_id)
        return _page(_ALREADY, claim)
    log.info("accepted_by_link", ticket_id=claim.ticket_id, person_id=claim.person_id)
    return _page(_ACCEPTED, claim)


def _verify(token: str, secret: str, now: datetime, request: Request) -> AcceptClaim | HTMLResponse:
    try:
        return verify_accept_token(token, secret, now)
    except TokenError as error:
        refusal = _REFUSALS.get(type(error), _REFUSALS[TokenMalformed])
        known = error.claim if isinstance(error, TokenExpired) else None  # signed, so trusted
        log.warning(
            "accept_token_refused",
            reason=type(error).__name__,
            detail=str(error),
            token_prefix=token[:16],  # enough to find it in mail logs, not enough to reuse
            client=request.client.host if request.client else None,
            ticket_id=known.ticket_id if known else None,
            person_id=known.person_id if known else None,
        )
        return _page(refusal, known)


@lru_cache(maxsize=1)
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,  # ids come from tokens and workflow messages: escape them
        undefined=jinja2.StrictUndefined,
    )


def _page(
    wording: _Wording, claim: AcceptClaim | None, confirm_action: str | None = None
) -> HTMLResponse:
    html = (
        _templates()
        .get_template("accept_page.html.j2")
        .render(
            mood=wording.mood,
            heading_zh=wording.heading_zh,
            heading_en=wording.heading_en,
            message_zh=wording.message_zh,
            message_en=wording.message_en,
            ticket_id=claim.ticket_id if claim else None,
            person_id=claim.person_id if claim else None,
            confirm_action=confirm_action,
        )
    )
    headers = dict(_PRIVATE_HEADERS)
    if wording.status == 503:
        headers["Retry-After"] = "5"
    return HTMLResponse(html, status_code=wording.status, headers=headers)
