"""Tickets over HTTP: submit, read, list, and one POST per workflow update.

Every update route names its workflow update by its definition (`TicketWorkflow.accept`).
The workflow's validator refusing (wrong person, wrong stage) is 409 with its message; a
malformed body is 422 naming the field; an unknown ticket is 404; Temporal down is 503.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi import Path as FastApiPath
from pydantic import BaseModel, ConfigDict, Field

from cityops.api.auth import require
from cityops.api.bodies import unavailable
from cityops.api.context import AppContext, get_context
from cityops.api.identity import (
    Acting,
    acting,
    body_model,
    in_scope,
    message_from,
    named_person,
    not_found,
    scoped_status,
    shown_to,
    station_workflows_of,
    street_filter,
)
from cityops.api.keys import Caller, Role, ScopeKind
from cityops.api.openapi_docs import responses
from cityops.domain.models import (
    AcceptInput,
    CallbackInput,
    ContactInput,
    DismissInput,
    ExtensionDecision,
    ExtensionRequest,
    PauseInput,
    RecheckInput,
    ReconsiderationDecision,
    ReconsiderationRequest,
    ResolveInput,
    ResumeInput,
    ReturnInput,
    ReviewInput,
    RuleClosureInput,
    TicketStatus,
    TransferInput,
    TriageDecision,
    UrgeInput,
)
from cityops.domain.stages import CallKind, LinkKind, Source, Stage
from cityops.domain.submission import SubmitTicket
from cityops.service import calls, split, tickets
from cityops.service.tickets import (
    TicketNotFound,
    TicketRejected,
    TicketUnavailable,
    TicketUpdate,
)
from cityops.workflows.ticket import TicketWorkflow

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])
Context = Annotated[AppContext, Depends(get_context)]
AnyRole = Annotated[Caller, Depends(require(*Role))]
# Values that go into a Temporal list query: plain codes only, so no quoting tricks.
CODE = r"^[A-Za-z0-9_-]{1,32}$"
_WORKFLOW_ID = r"^[A-Za-z0-9_-]{1,200}$"
TicketNumber = Annotated[
    str,
    FastApiPath(max_length=64, pattern=r"^[A-Za-z0-9-]+$", description="e.g. PD20261128A1B2C3D4"),
]


class Submitted(BaseModel):
    ticket_id: str
    workflow_id: str
    created: bool = Field(description="False: this hotline number was submitted before")
    incident_id: str | None = Field(
        default=None, description="The incident the complaint belongs to (docs/incidents.md)"
    )
    link: LinkKind | None = Field(
        default=None,
        description="new: it opened the incident; repeat_call: citizens are calling again "
        "about an open ticket; known_from_sensors: a sensor or camera reported it first",
    )
    primary_ticket_id: str | None = Field(
        default=None, description="The open ticket that carries the work, for a linked report"
    )


class TicketSummary(BaseModel):
    ticket_id: str
    workflow_id: str
    status: str
    attributes: dict[str, Any]


@contextmanager
def ticket_errors() -> Iterator[None]:
    """Service errors as HTTP statuses, with the service's message."""
    try:
        yield
    except TicketNotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except TicketRejected as exc:
        raise HTTPException(409, str(exc)) from exc
    except TicketUnavailable as exc:
        raise unavailable(str(exc)) from exc


@router.post(
    "",
    status_code=201,
    response_model=Submitted,
    responses={
        200: {"model": Submitted, "description": "This hotline_id was submitted before"},
        **responses(401, 403, 422, 503),
    },
)
async def submit_ticket(
    body: SubmitTicket,
    response: Response,
    context: Context,
    caller: Annotated[Caller, Depends(require(Role.HOTLINE_AGENT))],
) -> Submitted:
    received = datetime.now(UTC)
    agent = body.agent or caller.person
    if body.agent is not None and caller.person is not None:
        agent = acting(caller, body.agent, "agent").person
    intake = body.intake(tickets.new_ticket_id(received, body.hotline_id), received)
    queue = context.settings.task_queue
    with ticket_errors():
        if body.kind is CallKind.COMPLAINT:
            result = await tickets.submit(
                context.client, intake, queue, context.engine, geography=context.geography
            )
        else:
            result = await calls.submit_call(context.client, body.call(intake, agent), queue)
    if not result.created:
        response.status_code = 200
    return Submitted(
        ticket_id=result.ticket_id,
        workflow_id=result.workflow_id,
        created=result.created,
        incident_id=result.incident_id,
        link=result.link,
        primary_ticket_id=result.primary_ticket_id,
    )


@router.get(
    "/{ticket_id}", response_model=TicketStatus, responses=responses(401, 403, 404, 422, 503)
)
async def get_ticket(ticket_id: TicketNumber, context: Context, caller: AnyRole) -> TicketStatus:
    """The ticket, if it lies in the key's scope (else 404, as for an unknown number);
    a sensor gateway's key reads no citizen's words."""
    with ticket_errors():
        status = await tickets.status(context.client, ticket_id, workers=context.workers)
    if not in_scope(caller, status):
        raise not_found(ticket_id)
    return shown_to(caller, status)


@router.get("", response_model=list[TicketSummary], responses=responses(401, 403, 409, 422, 503))
async def list_tickets(
    context: Context,
    caller: AnyRole,
    street: Annotated[
        str | None, Query(max_length=32, pattern=CODE, description="e.g. T01")
    ] = None,
    stage: Stage | None = None,
    scenario: Annotated[
        str | None, Query(max_length=32, pattern=CODE, description="e.g. PS03")
    ] = None,
    source: Source | None = None,
    kind: CallKind | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[TicketSummary]:
    """Tickets of the key's scope, newest first. A street key lists its street's; a
    station key its station's: the register's tickets of the station (their latest
    route), filtered by stage, scenario and source and limited in SQL, then read from
    the visibility store."""
    filters = {
        "TicketStreet": street_filter(caller, street),
        "TicketStage": stage.value if stage else None,
        "TicketScenario": scenario,
        "TicketSource": source.value if source else None,
        "TicketKind": kind.value if kind else None,
    }
    query = " AND ".join(f"{key} = '{value}'" for key, value in filters.items() if value)
    with ticket_errors():
        if caller.scope.kind is ScopeKind.STATION:
            rows = await _station_list(context, caller, query, stage, scenario, source, limit)
        else:
            rows = await tickets.list_tickets(context.client, query, limit)
    return [
        TicketSummary(
            ticket_id=r.ticket_id,
            workflow_id=r.workflow_id,
            status=r.status,
            attributes={
                k: v.isoformat() if isinstance(v, datetime) else v for k, v in r.attributes.items()
            },
        )
        for r in rows
    ]


async def _station_list(
    context: AppContext,
    caller: Caller,
    query: str,
    stage: Stage | None,
    scenario: str | None,
    source: Source | None,
    limit: int,
) -> list[tickets.TicketRow]:
    """A station key's page: the workflow ids from the register (newest received first),
    their rows from the visibility store in that order. `kind` (not in the register)
    is applied there; a station's tickets are work orders, so it rarely drops one."""
    wanted = await station_workflows_of(
        context,
        caller,
        stage=stage.value if stage else None,
        scenario=scenario,
        source=source.value if source else None,
        limit=limit,
    )
    if not wanted:
        return []
    # Workflow ids are `ticket-` and a ticket number (letters, digits, dashes): safe to quote.
    ids = ", ".join(
        f"'{workflow_id}'" for workflow_id in wanted if re.match(_WORKFLOW_ID, workflow_id)
    )
    scoped = f"WorkflowId IN ({ids})" + (f" AND {query}" if query else "")
    found = {
        row.workflow_id: row
        for row in await tickets.list_tickets(context.client, scoped, limit * 2)
    }
    return [found[workflow_id] for workflow_id in wanted if workflow_id in found]


class SplitRequest(BaseModel):
    """Split the ticket's secondary issue into a ticket of its own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    by: str | None = named_person(
        "The dispatcher or supervisor splitting it: the key's person when left out; another "
        "only with a key that may act for others"
    )


class SplitResponse(BaseModel):
    ticket_id: str = Field(description="The original ticket")
    new_ticket_id: str = Field(description="The ticket of the secondary issue")
    created: bool = Field(description="False: an earlier attempt had started it already")
    status: TicketStatus = Field(description="The original ticket, recording the split")


@router.post(
    "/{ticket_id}/split",
    response_model=SplitResponse,
    summary="Split the secondary issue of a call into its own ticket",
    responses=responses(401, 403, 404, 409, 422, 503),
)
async def split_ticket(
    ticket_id: Annotated[str, FastApiPath(min_length=1, max_length=64)],
    body: SplitRequest,
    context: Context,
    caller: Annotated[Caller, Depends(require())],
) -> SplitResponse:
    who: Acting = acting(caller, body.by, "by")
    with ticket_errors():
        await scoped_status(context, caller, ticket_id)
        done = await split.split_secondary(
            context.client,
            ticket_id,
            who.person,
            context.settings.task_queue,
            context.engine,
            acted_by=who.acted_by,
        )
    return SplitResponse(
        ticket_id=ticket_id,
        new_ticket_id=done.new_ticket_id,
        created=done.created,
        status=shown_to(caller, done.outcome.status),
    )


@dataclass(frozen=True)
class UpdateRoute:
    """POST /tickets/{id}/<path> runs `update` (named by its definition on the workflow, so
    a route can only name an update the workflow has) for `roles` besides supervisors."""

    path: str
    update: TicketUpdate[Any]
    body: type[BaseModel]
    roles: tuple[Role, ...]
    summary: str


UPDATES: list[UpdateRoute] = [
    UpdateRoute(
        "accept",
        TicketWorkflow.accept,
        AcceptInput,
        (Role.RESPONDER,),
        "Accept a ticket assigned to you",
    ),
    UpdateRoute(
        "return",
        TicketWorkflow.return_ticket,
        ReturnInput,
        (Role.RESPONDER,),
        "Return a ticket as not yours",
    ),
    UpdateRoute(
        "transfer", TicketWorkflow.transfer, TransferInput, (), "Hand a ticket to another unit"
    ),
    UpdateRoute(
        "extension",
        TicketWorkflow.request_extension,
        ExtensionRequest,
        (Role.RESPONDER,),
        "Ask for more time",
    ),
    UpdateRoute(
        "extension/decision",
        TicketWorkflow.decide_extension,
        ExtensionDecision,
        (Role.RESPONDER,),
        "Approve or reject a pending extension (the tier above)",
    ),
    UpdateRoute(
        "contact",
        TicketWorkflow.contact_citizen,
        ContactInput,
        (Role.RESPONDER,),
        "First contact made",
    ),
    UpdateRoute(
        "pause",
        TicketWorkflow.pause_clock,
        PauseInput,
        (Role.RESPONDER,),
        "Pause the resolve clock",
    ),
    UpdateRoute(
        "resume",
        TicketWorkflow.resume_clock,
        ResumeInput,
        (Role.RESPONDER,),
        "Resume the resolve clock",
    ),
    UpdateRoute(
        "resolve", TicketWorkflow.resolve, ResolveInput, (Role.RESPONDER,), "Report the fix"
    ),
    UpdateRoute(
        "callback",
        TicketWorkflow.callback,
        CallbackInput,
        (Role.HOTLINE_AGENT,),
        "Record the citizen's answer",
    ),
    UpdateRoute(
        "review",
        TicketWorkflow.review,
        ReviewInput,
        (Role.RESPONDER,),
        "Approve or reject the after-photo",
    ),
    UpdateRoute(
        "recheck",
        TicketWorkflow.recheck,
        RecheckInput,
        (Role.SENSOR_GATEWAY,),
        "Video re-detection result",
    ),
    UpdateRoute("urge", TicketWorkflow.urge, UrgeInput, (), "Urge (催办) the assignee"),
    UpdateRoute(
        "triage",
        TicketWorkflow.classify,
        TriageDecision,
        (),
        "Classify a ticket the rules could not",
    ),
    UpdateRoute(
        "dismiss",
        TicketWorkflow.dismiss,
        DismissInput,
        (),
        "Close a triage ticket that is no work order",
    ),
    UpdateRoute(
        "rule-closure",
        TicketWorkflow.rule_closure,
        RuleClosureInput,
        (),
        "Close a ticket that cannot be fixed",
    ),
    UpdateRoute(
        "reconsideration",
        TicketWorkflow.request_reconsideration,
        ReconsiderationRequest,
        (Role.RESPONDER,),
        "Ask the district to reconsider its binding ruling",
    ),
    UpdateRoute(
        "reconsideration/decision",
        TicketWorkflow.decide_reconsideration,
        ReconsiderationDecision,
        (Role.RESPONDER,),
        "Decide a reconsideration (the district)",
    ),
]


def _add_update_route(route: UpdateRoute) -> None:
    """The body is the message without acted_by and with the person optional: the key's
    person acts (docs/api.md, "Who may do what")."""
    body_type = body_model(route.body)

    async def run_update(
        ticket_id: TicketNumber,
        body: body_type,  # type: ignore[valid-type]  # one route per model, built here
        context: Context,
        caller: Annotated[Caller, Depends(require(*route.roles))],
    ) -> TicketStatus:
        message = message_from(body, route.body, caller)
        with ticket_errors():
            await scoped_status(context, caller, ticket_id)
            status = await tickets.update(
                context.client, ticket_id, route.update, message, context.workers
            )
        return shown_to(caller, status)

    run_update.__name__ = f"ticket_{getattr(route.update, '__name__', route.path)}"
    router.add_api_route(
        f"/{{ticket_id}}/{route.path}",
        run_update,
        methods=["POST"],
        response_model=TicketStatus,
        summary=route.summary,
        responses=responses(401, 403, 404, 409, 422, 503),
    )


for _route in UPDATES:
    _add_update_route(_route)
