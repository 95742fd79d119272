"""Ticket operations over a Temporal client: what the CLI and the HTTP API both call.

Exceptions::

    TicketError                  base: anything a caller should show to a person
    ├── TicketNotFound           no ticket with that number
    ├── TicketRejected           the workflow refused the request (validator); message says why
    └── TicketUnavailable        Temporal could not be reached or timed out, or no worker
                                 is polling the task queue (reads and actions need one)

Every call is bounded: an answer comes within a few seconds (``CALL_TIMEOUT``), never
after Temporal's own 30 s query timeout. Reads and actions that need a worker check
first that one has polled the task queue lately (``WorkerWatch``), so with every
worker down they fail at once instead of waiting.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    RPCError,
    WorkflowExecution,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from cityops.domain.alarms import ALARM_TICKET_PREFIX
from cityops.domain.calls import CONVERSION_MEMO, Conversion
from cityops.domain.masking import redact_text
from cityops.domain.models import Classification, StatusInput, TicketIntake, TicketStatus
from cityops.domain.stages import CallKind, LinkKind
from cityops.domain.zones import SHANGHAI
from cityops.rules.classify import classify
from cityops.rules.load import default_rules
from cityops.service import incidents
from cityops.workflows import search_attributes as sa
from cityops.workflows.call import CALL_WORKFLOW, CallWorkflow
from cityops.workflows.ticket import TicketWorkflow

if TYPE_CHECKING:
    from cityops.service.geography import Geography

M = TypeVar("M", bound=BaseModel)
# Standard logging, not structlog's stdout printer: the CLI prints the ticket number there.
log = logging.getLogger(__name__)
R = TypeVar("R")
CALL_TIMEOUT = 5.0  # seconds: Temporal that has not answered by then is treated as down
RPC_TIMEOUT = timedelta(seconds=CALL_TIMEOUT)
# An action waits for a live worker to run it (the worker watch has seen one): a busy
# worker gets longer than a read before the caller is told to check the ticket.
UPDATE_TIMEOUT = timedelta(seconds=15)
# A worker long-polls its queue about once a minute when idle; none seen for longer: down.
WORKER_SILENCE = timedelta(seconds=90)
# A ticket update named by its definition on the workflow, e.g. `TicketWorkflow.accept`:
# a misspelt or removed update fails type checking and import, not a user's request.
TicketUpdate = UpdateMethodMultiParam[[TicketWorkflow, M], TicketStatus]


class TicketError(Exception):
    """Base of every error a ticket operation raises."""


class TicketNotFound(TicketError):
    pass


class TicketRejected(TicketError):
    pass


class TicketUnavailable(TicketError):
    pass


@dataclass(frozen=True)
class Submitted:
    ticket_id: str
    workflow_id: str
    created: bool  # False when the same hotline number was submitted before
    # A complaint's incident (docs/incidents.md): new, a repeat call, or known from sensors
    incident_id: str | None = None
    link: LinkKind | None = None
    primary_ticket_id: str | None = None  # the open ticket a repeat report joined


@dataclass(frozen=True)
class TicketRow:
    ticket_id: str
    workflow_id: str
    status: str
    attributes: dict[str, Any]
    started_at: datetime | None = None
    closed_at: datetime | None = None


def workflow_id_for(ticket_id: str) -> str:
    return f"ticket-{ticket_id}"


def new_ticket_id(received_at: datetime, external_id: str | None = None) -> str:
    """PD + Shanghai date + 8 random characters; or HL + a digest of the hotline's own
    number, so the same hotline ticket always gets the same number (idempotent submission)."""
    if external_id:
        return f"HL{hashlib.sha256(external_id.encode()).hexdigest()[:10].upper()}"
    day = received_at.astimezone(SHANGHAI).strftime("%Y%m%d")
    return f"PD{day}{secrets.token_hex(4).upper()}"


def static_summary(intake: TicketIntake, classification: Classification) -> str:
    """The one line the Temporal UI lists: number, scenario (as the rules read it at
    intake; the workflow's own classification is in its details) and the place, with
    any phone-like number masked: no caller's contact in the list a supervisor scans;
    for a ticket held for triage by intake, why."""
    scenario = classification.scenario
    what = f"{scenario.id} {scenario.name_zh}" if scenario else "待分类"
    place = redact_text(
        intake.address or (intake.alarm.site if intake.alarm else None),
        names=[intake.caller_name],
        phones=[intake.caller_phone],
    )
    line = f"{intake.ticket_id} · {what} · {place[:60]}".rstrip(" ·")
    if scenario is None and intake.triage_reason:
        line += f" · {intake.triage_reason[:80]}"
    return line


async def bounded(call: Awaitable[R], what: str) -> R:
    """The call's answer within CALL_TIMEOUT, or TicketUnavailable. (The client retries an
    unreachable server on its own, past any rpc_timeout: this bounds the whole.)"""
    try:
        return await asyncio.wait_for(call, CALL_TIMEOUT)
    except TimeoutError as exc:
        raise TicketUnavailable(
            f"Temporal did not answer {what} within {CALL_TIMEOUT:.0f} s"
        ) from exc


class WorkerWatch:
    """Whether some worker has polled a task queue lately; a yes is trusted for 2 s, a no is
    asked again each time (a worker may just have started)."""

    def __init__(self, client: Client, task_queue: str, namespace: str = "default") -> None:
        self._client = client
        self._task_queue = task_queue
        self._namespace = namespace
        self._checked_at = -1e9
        self._alive = False

    async def ensure(self) -> None:
        """Return if a worker is there; else TicketUnavailable, at once."""
        if not self._alive or time.monotonic() - self._checked_at > 2.0:
            self._alive = await self._poll()
            self._checked_at = time.monotonic()
        if not self._alive:
            raise TicketUnavailable(
                f"no worker is serving task queue {self._task_queue!r}: "
                "tickets cannot be read or acted on until one is running"
            )

    async def _poll(self) -> bool:
        request = DescribeTaskQueueRequest(
            namespace=self._namespace,
            task_queue=TaskQueue(name=self._task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
        try:
            answer = await bounded(
                self._client.workflow_service.describe_task_queue(
                    request, retry=False, timeout=RPC_TIMEOUT
                ),
                "which workers poll",
            )
        except RPCError as exc:
            raise TicketUnavailable(f"Temporal is unavailable: {exc.message}") from exc
        now = datetime.now(UTC)
        return any(
            now - poller.last_access_time.ToDatetime(tzinfo=UTC) < WORKER_SILENCE
            for poller in answer.pollers
        )


def held_for_triage(intake: TicketIntake, geography: Geography | None) -> TicketIntake:
    """A ticket whose coordinates lie outside Pudong goes to the district's triage, marked."""
    if geography is None or intake.triage_reason:
        return intake
    outside = geography.outside(intake.lat, intake.lon)
    return intake.model_copy(update={"triage_reason": outside}) if outside else intake


async def submit(
    client: Client,
    intake: TicketIntake,
    task_queue: str,
    engine: Engine | None = None,
    *,
    geography: Geography | None = None,
) -> Submitted:
    """Start the ticket's workflow; a second submission of the same number is the same ticket.

    With `geography`, a ticket placed outside Pudong is held for triage with the reason.
    With the register's `engine`, a complaint the rules classify is linked to its
    incident first (service/incidents.py): it starts carrying the incident, and a repeat
    report is told to the open ticket it repeats."""
    intake = held_for_triage(intake, geography).on_current_engine()
    classification = classify(intake, default_rules())
    scenario = classification.scenario
    plan = None
    if engine is not None and scenario is not None:
        try:
            plan = await incidents.plan_link_async(engine, intake, scenario.id)
        except SQLAlchemyError as exc:  # the register is down: the call still counts
            log.warning("incident linking skipped for %s: %s", intake.ticket_id, exc)
        else:
            intake = await with_primary(client, incidents.with_link(intake, plan))
    submitted = await start_numbered(
        client,
        TicketWorkflow.run,
        intake,
        intake,
        task_queue,
        static_summary(intake, classification),
        sa.initial(intake, CallKind.COMPLAINT),
    )
    if plan is None or engine is None:
        return submitted
    try:
        incident_id = await incidents.record_link_async(engine, plan)
    except SQLAlchemyError as exc:
        log.warning("incident link not recorded for %s: %s", intake.ticket_id, exc)
        incident_id = plan.link.incident_id
    return replace(
        submitted,
        incident_id=incident_id,
        link=plan.link.kind,
        primary_ticket_id=plan.link.primary_ticket_id,
    )


async def with_primary(client: Client, intake: TicketIntake) -> TicketIntake:
    """A repeat report names its primary's workflow (and, for an alarm ticket, its run), so
    the ticket can tell the primary and wait on it. Not found or Temporal slow: the ticket
    is handled as one of its own (docs/incidents.md)."""
    link = intake.incident
    if link is None or link.primary_ticket_id is None:
        return intake
    try:
        handle = await resolve_handle(client, link.primary_ticket_id)
    except TicketError as exc:
        log.warning("primary %s of %s not found: %s", link.primary_ticket_id, intake.ticket_id, exc)
        return intake
    found = link.model_copy(
        update={"primary_workflow_id": handle.id, "primary_run_id": handle.run_id}
    )
    return intake.model_copy(update={"incident": found})


async def start_numbered(
    client: Client,
    run: Callable[[Any, Any], Awaitable[Any]],
    arg: BaseModel,
    intake: TicketIntake,
    task_queue: str,
    summary: str,
    attributes: TypedSearchAttributes,
) -> Submitted:
    """Start a workflow (a ticket's or a call's) under the ticket number's workflow id."""
    workflow_id = workflow_id_for(intake.ticket_id)
    try:
        await bounded(
            client.start_workflow(
                run,
                arg,
                id=workflow_id,
                task_queue=task_queue,
                # Running or closed, a second start of the same number is refused: one ticket.
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                static_summary=summary,
                search_attributes=attributes,
                rpc_timeout=RPC_TIMEOUT,
            ),
            "the new ticket",
        )
    except WorkflowAlreadyStartedError:
        return Submitted(intake.ticket_id, workflow_id, created=False)
    except RPCError as exc:
        raise TicketUnavailable(f"Temporal refused the ticket: {exc.message}") from exc
    return Submitted(intake.ticket_id, workflow_id, created=True)


def handle_for(client: Client, ticket_id: str) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(workflow_id_for(ticket_id))


# Alarm tickets (service/alarms.py) live on a workflow id per device and metric, one run
# per ticket; their number is only in the TicketId search attribute.
VISIBILITY_TRIES = 4


async def resolve_handle(client: Client, ticket_id: str) -> WorkflowHandle[Any, Any]:
    """The handle of any ticket number: hotline/PD tickets by id, alarm tickets by search."""
    if not ticket_id.startswith(ALARM_TICKET_PREFIX):
        return handle_for(client, ticket_id)
    if not ticket_id.isalnum():
        raise TicketNotFound(f"no ticket {ticket_id}")  # also keeps quotes out of the query
    # Visibility trails the start by milliseconds: a number handed out just now may lag.
    for attempt in range(VISIBILITY_TRIES):
        try:
            found = await bounded(_first_execution(client, ticket_id), f"where {ticket_id} is")
        except RPCError as exc:
            raise rpc_error(ticket_id, exc) from exc
        if found is not None:
            return client.get_workflow_handle(found.id, run_id=found.run_id)
        if attempt + 1 < VISIBILITY_TRIES:
            await asyncio.sleep(0.2)
    raise TicketNotFound(f"no ticket {ticket_id}")


async def _first_execution(client: Client, ticket_id: str) -> WorkflowExecution | None:
    async for execution in client.list_workflows(
        f"TicketId = '{ticket_id}'", limit=1, rpc_timeout=RPC_TIMEOUT
    ):
        return execution
    return None


async def update(
    client: Client,
    ticket_id: str,
    update: TicketUpdate[M],
    request: M,
    workers: WorkerWatch | None = None,
) -> TicketStatus:
    """Run one workflow update (`TicketWorkflow.accept`, …) and return the ticket's new status.
    With `workers`, refuse at once when no worker is there to run it."""
    return await run_update(client, ticket_id, update, request, workers, "a call, not a work order")


async def run_update(
    client: Client,
    ticket_id: str,
    update: UpdateMethodMultiParam[[Any, M], TicketStatus],
    request: M,
    workers: WorkerWatch | None,
    other: str,
) -> TicketStatus:
    """The bounded path of every action, a work order's or a call's: no worker seen, 503 at
    once; a live but busy worker gets UPDATE_TIMEOUT, then the caller is told to read the
    ticket; `other` says what the ticket is when it has no such update."""
    handle = await resolve_handle(client, ticket_id)
    if workers is not None:
        await workers.ensure()
    try:
        result: TicketStatus = await handle.execute_update(
            update, request, rpc_timeout=UPDATE_TIMEOUT
        )
    except WorkflowUpdateFailedError as exc:
        raise refused(ticket_id, exc, other) from exc
    except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
        raise TicketUnavailable(
            f"ticket {ticket_id} did not answer within {UPDATE_TIMEOUT.seconds} s; "
            "read it before sending the action again"
        ) from exc
    except RPCError as exc:
        raise rpc_error(ticket_id, exc) from exc
    return result


async def status(
    client: Client,
    ticket_id: str,
    include_history: bool = True,
    workers: WorkerWatch | None = None,
) -> TicketStatus:
    """The status of a work order or a call, within a few seconds or TicketUnavailable. A
    work order converted from a call shows the call's facts and history before its own
    (carried in its run's memo)."""
    handle = await resolve_handle(client, ticket_id)
    request = StatusInput(include_history=include_history)
    try:
        run = await bounded(handle.describe(rpc_timeout=RPC_TIMEOUT), f"for ticket {ticket_id}")
        if workers is not None:
            await workers.ensure()
        pinned = client.get_workflow_handle(run.id, run_id=run.run_id)
        if run.workflow_type == CALL_WORKFLOW:
            call: TicketStatus = await bounded(
                pinned.query(CallWorkflow.status, request, rpc_timeout=RPC_TIMEOUT),
                f"for ticket {ticket_id}",
            )
            return call
        result: TicketStatus = await bounded(
            pinned.query(TicketWorkflow.status, request, rpc_timeout=RPC_TIMEOUT),
            f"for ticket {ticket_id}",
        )
        conversion = await run.memo_value(CONVERSION_MEMO, None, type_hint=Conversion)
    except RPCError as exc:
        raise rpc_error(ticket_id, exc) from exc
    except (WorkflowQueryFailedError, WorkflowQueryRejectedError) as exc:
        # The ticket exists but cannot answer (its workflow task fails): say so, never crash.
        raise TicketRejected(f"ticket {ticket_id} cannot be read now: {str(exc)[:300]}") from exc
    if conversion is None:
        return result
    history = [*conversion.history, *result.history] if include_history else []
    return result.model_copy(update={"call": conversion.facts, "history": history})


async def list_tickets(client: Client, query: str = "", limit: int = 50) -> list[TicketRow]:
    """Tickets and calls from the visibility store, newest first; `query` is a Temporal
    list filter. A converted call's number is listed once, by its newest run."""
    base = f"WorkflowType IN ('TicketWorkflow', '{CALL_WORKFLOW}')"
    full = f"{base} AND ({query})" if query.strip() else base
    try:
        return await bounded(_list(client, full, limit), "the ticket list")
    except RPCError as exc:
        if _is_outage(exc):
            raise TicketUnavailable(f"Temporal is unavailable: {exc.message}") from exc
        raise TicketRejected(f"list query refused: {exc.message}") from exc


async def _list(client: Client, query: str, limit: int) -> list[TicketRow]:
    rows: list[TicketRow] = []
    seen: set[str] = set()
    async for execution in client.list_workflows(query, limit=limit, rpc_timeout=RPC_TIMEOUT):
        if execution.id not in seen:
            seen.add(execution.id)
            rows.append(_row(execution))
    return rows


def _row(execution: WorkflowExecution) -> TicketRow:
    typed = execution.typed_search_attributes
    attributes = {pair.key.name: pair.value for pair in typed}
    ticket_id = str(attributes.get(sa.TICKET_ID.name) or execution.id.removeprefix("ticket-"))
    status = execution.status.name if execution.status else "UNKNOWN"
    return TicketRow(
        ticket_id,
        execution.id,
        status.lower(),
        attributes,
        execution.start_time,
        execution.close_time,
    )


def refused(ticket_id: str, exc: WorkflowUpdateFailedError, other: str) -> TicketRejected:
    """The workflow's reason for refusing an update; an update the workflow does not have
    (an action of a work order sent to a call, or the reverse) says what the ticket is."""
    message = _cause_message(exc)
    if "handler for" in message.lower() and "not found" in message.lower():
        message = f"ticket {ticket_id} is {other}: it takes no such action"
    return TicketRejected(message)


def _cause_message(exc: WorkflowUpdateFailedError) -> str:
    cause: BaseException | None = exc.cause
    while cause is not None:
        if isinstance(cause, ApplicationError):
            return cause.message
        cause = cause.__cause__
    return str(exc.cause or exc)


def _is_outage(exc: RPCError) -> bool:
    """Temporal down, or a call that timed out (a query with no worker answers CANCELLED)."""
    return exc.status in (
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.CANCELLED,
    )


def rpc_error(ticket_id: str, exc: RPCError) -> TicketError:
    if exc.status is RPCStatusCode.NOT_FOUND:
        if "completed" in exc.message.lower():  # the run has ended: the ticket exists
            return TicketRejected(f"ticket {ticket_id} is closed; it takes no more actions")
        return TicketNotFound(f"no ticket {ticket_id}")
    if _is_outage(exc):
        return TicketUnavailable(f"Temporal is unavailable: {exc.message}")
    if exc.status is RPCStatusCode.INVALID_ARGUMENT:
        return TicketNotFound(f"no ticket {ticket_id}")
    return TicketRejected(exc.message)
