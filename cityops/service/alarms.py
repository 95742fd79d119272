"""Alarm ingestion: one way in for HTTP, MQTT and the benchmark.

One open ticket per (device, metric). Its workflow id is derived from them, and a
firing event is delivered by signal-with-start: while the ticket is open the event
joins it (the workflow counts each event_id once); after it closed, the same id
starts a new run, which is a new ticket with its own number.

Before anything reaches Temporal the event is classified in-process with the same
pure rules the workflow uses, so an event that maps to no scenario (construction
noise by day) is recorded but opens nothing. A `resolved` event is only signalled
to an open ticket; with none open it is recorded and opens nothing.

Order of work per event: dedupe by event_id against the audit log, deliver to
Temporal, then record in the audit log. A crash between the last two leaves an event
delivered but unrecorded; the sender's retry (MQTT redelivery, HTTP retry) delivers
it again, the workflow ignores the repeat, and it is recorded then. So every event
is recorded exactly once and delivered at least once.

Exceptions::

    AlarmIntakeError             base
    ├── AlarmBatchInvalid        the payload is not one event or a list of 1..1000
    │                            events; .errors names each index and field. Nothing
    │                            of an invalid batch is delivered or recorded.
    └── AlarmIntakeUnavailable   Temporal could not take (some of) the events; the
                                 ones it took are recorded, the rest may be resent
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from temporalio.client import Client, RPCError, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCStatusCode

from cityops.db.audit import (
    AlarmEventRow,
    AlarmOutcome,
    GroupKey,
    link_to_incident,
    record_events,
    seen_event_ids,
)
from cityops.domain.alarms import alarm_intake, alarm_workflow_id
from cityops.domain.models import AlarmEvent, Place
from cityops.rules.classify import classify
from cityops.rules.load import RuleSet, default_rules
from cityops.service.tickets import static_summary
from cityops.service.windows import Windows
from cityops.workflows import search_attributes as sa
from cityops.workflows.ticket import TicketWorkflow

Locator = Callable[[AlarmEvent], Place]


class AlarmIntakeError(Exception):
    """Base of alarm intake failures."""


class AlarmBatchInvalid(AlarmIntakeError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        first = errors[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{where}: {first['msg']}{more}")
        self.errors = errors


class AlarmIntakeUnavailable(AlarmIntakeError):
    pass


MAX_BATCH = 1000


def parse_batch(payload: Any) -> list[AlarmEvent]:
    """One event (an object) or a batch (a list of up to MAX_BATCH); all valid or none.

    Error locations are (index, field) for a batch and (field,) for one event.
    """
    single = isinstance(payload, dict)
    items = [payload] if single else payload
    if not isinstance(items, list):
        raise AlarmBatchInvalid([_error((), "must be an alarm event object or a list of them")])
    if not 1 <= len(items) <= MAX_BATCH:
        raise AlarmBatchInvalid(
            [_error((), f"a batch holds 1 to {MAX_BATCH} events, not {len(items)}")]
        )
    events: list[AlarmEvent] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            events.append(AlarmEvent.model_validate(item))
        except ValidationError as exc:
            prefix: tuple[Any, ...] = () if single else (index,)
            errors += [_error((*prefix, *e["loc"]), e["msg"], e["type"]) for e in exc.errors()]
    if errors:
        raise AlarmBatchInvalid(errors)
    return events


def _error(loc: tuple[Any, ...], msg: str, kind: str = "value_error") -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg, "type": kind}


@dataclass(frozen=True)
class AlarmResult:
    """What became of one event."""

    event_id: str
    outcome: AlarmOutcome
    ticket_id: str | None = None
    workflow_id: str | None = None
    scenario_id: str | None = None
    incident_id: str | None = None
    silence_id: str | None = None  # the maintenance window that swallowed it (IN_WINDOW)


def _started_a_run(handle: object) -> bool | None:
    """Whether signal-with-start started a new run. The SDK keeps the server's answer only
    in a private field; None (unknown) makes the caller ask the server instead."""
    response = getattr(handle, "_start_workflow_response", None)
    started = getattr(response, "started", None)
    return started if isinstance(started, bool) else None


class _RunTickets:
    """Which ticket number each workflow run carries; bounded, since runs never change it."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._runs: OrderedDict[str, str] = OrderedDict()
        self._capacity = capacity

    def get(self, run_id: str) -> str | None:
        return self._runs.get(run_id)

    def put(self, run_id: str, ticket_id: str) -> None:
        self._runs[run_id] = ticket_id
        if len(self._runs) > self._capacity:
            self._runs.popitem(last=False)


class AlarmIntake:
    """Takes batches of alarm events; safe to share across concurrent requests."""

    def __init__(
        self,
        client: Client,
        task_queue: str,
        engine: Engine,
        *,
        rules: RuleSet | None = None,
        locator: Locator | None = None,
        concurrency: int = 64,
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._engine = engine
        self._rules = rules or default_rules()
        self._locator = locator
        self._slots = asyncio.Semaphore(concurrency)
        # Events of one device and metric go in order, even across concurrent requests.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._run_tickets = _RunTickets()
        self.windows = Windows(engine)

    async def ingest(
        self, events: Sequence[AlarmEvent], received_at: datetime | None = None
    ) -> list[AlarmResult]:
        """Deliver and record a validated batch; results in the order of `events`."""
        received = received_at or datetime.now(UTC)
        results: dict[int, AlarmResult] = {}
        first_index: dict[str, int] = {}
        for index, event in enumerate(events):
            if event.event_id in first_index:
                results[index] = AlarmResult(event.event_id, AlarmOutcome.DUPLICATE)
            else:
                first_index[event.event_id] = index
        seen = await asyncio.to_thread(seen_event_ids, self._engine, first_index)
        groups: dict[str, list[int]] = {}
        for event_id, index in first_index.items():
            if event_id in seen:
                results[index] = AlarmResult(event_id, AlarmOutcome.DUPLICATE)
                continue
            event = events[index]
            groups.setdefault(alarm_workflow_id(event.device_id, event.metric), []).append(index)

        delivered: list[tuple[AlarmEvent, AlarmResult]] = []
        failures: list[BaseException] = []

        async def run_group(workflow_id: str, indexes: list[int]) -> None:
            lock = self._locks.setdefault(workflow_id, asyncio.Lock())
            async with lock, self._slots:
                for index in indexes:
                    try:
                        result = await self._deliver(events[index], received)
                    except AlarmIntakeUnavailable as exc:
                        failures.append(exc)
                        return  # later events of this device must not overtake this one
                    results[index] = result
                    delivered.append((events[index], result))

        await asyncio.gather(*(run_group(wid, idx) for wid, idx in groups.items()))
        linked = await asyncio.to_thread(self._record, delivered, received)
        if failures:
            raise AlarmIntakeUnavailable(
                f"{len(failures)} device(s) could not be delivered to Temporal: {failures[0]}"
            )
        return [linked.get(result.event_id, result) for _, result in sorted(results.items())]

    # ------------------------------------------------------------------ delivery

    async def _deliver(self, event: AlarmEvent, received: datetime) -> AlarmResult:
        workflow_id = alarm_workflow_id(event.device_id, event.metric)
        intake = alarm_intake(event, received)
        classification = classify(intake, self._rules)
        scenario_id = classification.scenario.id if classification.scenario else None
        silence = await self.windows.silencing(event, scenario_id)
        if silence is not None:  # planned works: recorded and counted, no ticket
            return AlarmResult(
                event.event_id,
                AlarmOutcome.IN_WINDOW,
                scenario_id=scenario_id,
                silence_id=silence.silence_id,
            )
        if event.status == "resolved" or scenario_id is None:
            ticket_id = await self._signal_open(workflow_id, event)
            if ticket_id is not None:
                return AlarmResult(
                    event.event_id, AlarmOutcome.JOINED, ticket_id, workflow_id, scenario_id
                )
            outcome = (
                AlarmOutcome.NO_OPEN_TICKET
                if event.status == "resolved"
                else AlarmOutcome.NO_SCENARIO
            )
            return AlarmResult(event.event_id, outcome, scenario_id=scenario_id)
        try:
            handle = await self._client.start_workflow(
                TicketWorkflow.run,
                intake,
                id=workflow_id,
                task_queue=self._task_queue,
                start_signal="alarm_event",
                start_signal_args=[event],
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                static_summary=static_summary(intake, classification.scenario),
                search_attributes=sa.initial(intake),
            )
        except RPCError as exc:
            raise AlarmIntakeUnavailable(
                f"Temporal refused {event.event_id}: {exc.message}"
            ) from exc
        run_id = handle.result_run_id or ""
        if _started_a_run(handle) is True:
            self._run_tickets.put(run_id, intake.ticket_id)  # ours: no describe needed
        ticket_id = await self._ticket_of(workflow_id, run_id)
        outcome = AlarmOutcome.NEW_TICKET if ticket_id == intake.ticket_id else AlarmOutcome.JOINED
        return AlarmResult(event.event_id, outcome, ticket_id, workflow_id, scenario_id)

    async def _signal_open(self, workflow_id: str, event: AlarmEvent) -> str | None:
        """Signal the device's ticket if one is open; its number, or None."""
        try:
            description = await self._client.get_workflow_handle(workflow_id).describe()
            if description.status is not WorkflowExecutionStatus.RUNNING:
                return None
            handle = self._client.get_workflow_handle(workflow_id, run_id=description.run_id)
            await handle.signal("alarm_event", event)
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return None  # never opened, or closed between describe and signal
            raise AlarmIntakeUnavailable(
                f"Temporal refused {event.event_id}: {exc.message}"
            ) from exc
        ticket_id = description.typed_search_attributes.get(sa.TICKET_ID)
        if ticket_id:
            self._run_tickets.put(description.run_id, ticket_id)
        return ticket_id

    async def _ticket_of(self, workflow_id: str, run_id: str) -> str:
        known = self._run_tickets.get(run_id)
        if known is not None:
            return known
        try:
            description = await self._client.get_workflow_handle(
                workflow_id, run_id=run_id
            ).describe()
        except RPCError as exc:
            raise AlarmIntakeUnavailable(
                f"cannot read ticket of {workflow_id}: {exc.message}"
            ) from exc
        ticket_id = description.typed_search_attributes.get(sa.TICKET_ID) or ""
        self._run_tickets.put(run_id, ticket_id)
        return ticket_id

    # ------------------------------------------------------------------ audit and incidents

    def _record(
        self, delivered: list[tuple[AlarmEvent, AlarmResult]], received: datetime
    ) -> dict[str, AlarmResult]:
        """Write the audit rows, then link new tickets to incidents; returns updated results."""
        record_events(self._engine, [_row(event, result, received) for event, result in delivered])
        self.windows.record(
            [(e, r.silence_id, r.scenario_id) for e, r in delivered if r.silence_id]
        )
        linked: dict[str, AlarmResult] = {}
        # Devices are delivered in parallel: link in the order things happened.
        for event, result in sorted(delivered, key=lambda pair: pair[0].occurred_at):
            if (
                result.outcome is AlarmOutcome.NEW_TICKET
                and result.ticket_id
                and result.scenario_id
            ):
                group = self._group_key(event, result.scenario_id)
                if group is not None:
                    incident = link_to_incident(
                        self._engine, group, result.ticket_id, event.device_id, event.occurred_at
                    )
                    linked[result.event_id] = AlarmResult(
                        result.event_id,
                        result.outcome,
                        result.ticket_id,
                        result.workflow_id,
                        result.scenario_id,
                        incident,
                    )
        return linked

    def _group_key(self, event: AlarmEvent, scenario_id: str) -> GroupKey | None:
        grouping = self._rules.settings(scenario_id).grouping
        if grouping is None:
            return None
        place = self._locate(event) if grouping.by in ("street", "station") else None
        street = place.street_code if place else None
        key: str | None
        if grouping.by == "device":
            key = event.device_id
        elif grouping.by == "site":
            key = event.site or event.device_id
        elif grouping.by == "street":
            key = street
        else:
            key = place.station_code if place else None
        if key is None:
            return None  # not placed: the ticket stands alone
        return GroupKey(scenario_id, grouping.by, key, grouping.window, street)

    def _locate(self, event: AlarmEvent) -> Place:
        if self._locator is None:
            self._locator = default_locator(self._engine)
        return self._locator(event)


def default_locator(engine: Engine) -> Locator:
    """Street and station by coordinates, from the organisation in the database."""
    from cityops.org.routing import OrgRouter

    jurisdiction = OrgRouter.from_database(
        engine.url.render_as_string(hide_password=False)
    ).jurisdiction

    def locate(event: AlarmEvent) -> Place:
        return jurisdiction.locate(event.site, event.lat, event.lon)

    return locate


def _row(event: AlarmEvent, result: AlarmResult, received: datetime) -> AlarmEventRow:
    return AlarmEventRow(
        event_id=event.event_id,
        device_id=event.device_id,
        sensor_type=event.sensor_type,
        metric=event.metric,
        status=event.status,
        occurred_at=event.occurred_at,
        received_at=received,
        outcome=result.outcome.value,
        scenario_id=result.scenario_id,
        ticket_id=result.ticket_id,
        workflow_id=result.workflow_id,
        payload=event.model_dump_json(),
    )
