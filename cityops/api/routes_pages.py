"""``GET /tickets/{id}``: the page a notice links to (``{public_url}/tickets/{id}``).

Read-only and without a key, so a responder can open it from a chat message. It shows
the work order's state, place, tier, deadlines and the events of its history, and the
caller's phone masked (139****1234), but not the citizen's complaint text or full contact:
the full number is shown only by the keyed, logged reveal
(``POST /api/v1/tickets/{id}/reveal-phone``). It names nobody: no assignee, no person id,
not who did what (history details name people too), since a person id and a ticket
number are what an accept link binds. The assignee's own page (``/r/{token}``) and a
key's ``GET /api/v1/tickets/{id}`` show them.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import jinja2
import structlog
from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from markupsafe import escape

from cityops.api.context import AppContext, get_context
from cityops.api.openapi_docs import responses
from cityops.domain.limits import TICKET_NUMBER
from cityops.domain.zones import shown
from cityops.service import tickets
from cityops.service.tickets import TicketError, TicketNotFound, TicketUnavailable

router = APIRouter(tags=["pages"])
TEMPLATES = Path(__file__).resolve().parent / "templates"
log = structlog.get_logger(__name__)


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )


def _when(value: datetime | None) -> str:
    return shown(value) if value else "-"


@router.get(
    "/tickets/{ticket_id}", response_class=HTMLResponse, responses=responses(404, 503, html=True)
)
async def ticket_page(
    ticket_id: str, context: Annotated[AppContext, Depends(get_context)]
) -> HTMLResponse:
    missing = HTMLResponse(f"<p>没有这张工单 · no ticket {escape(ticket_id[:64])}</p>", 404)
    if not re.match(TICKET_NUMBER, ticket_id):
        return missing
    try:
        status = await tickets.status(context.client, ticket_id, workers=context.workers)
    except TicketNotFound:
        return missing
    except TicketUnavailable:
        return HTMLResponse(
            "<p>系统暂时不可用 · temporarily unavailable</p>", 503, headers={"Retry-After": "5"}
        )
    except TicketError:  # the ticket answers no query (e.g. its workflow task fails)
        log.warning("ticket_page_unreadable", ticket_id=ticket_id, exc_info=True)
        return HTMLResponse(
            "<p>这张工单暂时无法读取，已记录 · the ticket cannot be read now</p>",
            503,
            headers={"Retry-After": "5"},
        )
    page = _environment().get_template("ticket_page.html.j2").render(status=status, when=_when)
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})
