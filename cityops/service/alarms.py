"""Alarm ingestion: one way in for HTTP, MQTT, the Alertmanager webhook and the benchmark.

One open ticket per (device, metric). Its workflow id is derived from them, and a
firing event is delivered by signal-with-start: while the ticket is open the event
joins it (the workflow counts each event_id once); after it closed, the same id
starts a new run, which is a new ticket with its own number.

Every item that reaches the intake ends as one of (``AlarmOutcome``): a new ticket, a
join, a duplicate, a silence (a rule says it is no alarm, like construction noise by
day; or a ``resolved`` event with nothing open), a triage ticket (no rule knows the
sensor, or the coordinates lie outside Pudong: the district dispatcher decides, the
reason is on the ticket), or a refusal stored in the dead-letter table
(db/deadletters.py) with its raw payload, so a dispatcher can replay it after a fix.
Items are read one by one (``submit``): a bad one never blocks the others, and a
message of any size is taken in chunks of ``MAX_BATCH``.

Before anything reaches Temporal the event is classified in-process with the same
pure rules the workflow uses. Order of work per event: dedupe by event_id against
the audit log, deliver to Temporal, then record in the audit log. A crash between the
last two leaves an event delivered but unrecorded; the sender's retry (MQTT
redelivery, HTTP retry) delivers it again, the workflow ignores the repeat, and it is
recorded then. So every event is recorded exactly once and delivered at least once.

Exceptions::

    AlarmIntakeError             base
    ├── AlarmBatchInvalid        the payload is neither an event object nor a list:
    │                            nothing in it can be read as items (a 4xx over HTTP)
    └── AlarmIntakeUnavailable   Temporal could not take (some of) the events; the
                                 ones it took are recorded, the rest may be resent
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
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
from cityops.db.deadletters import Channel, Refusal, store_refusals
from cityops.domain.alarms import alarm_intake, alarm_workflow_id
from cityops.domain.incidents import IncidentJoined
from cityops.domain.limits import fitted_key
from cityops.domain.models import AlarmEvent, Place
from cityops.rules.classify import classify
from cityops.rules.load import RuleSet, default_rules
from cityops.service.alertmanager import alert_event, event_field
from cityops.service.geography import Geography
from cityops.service.items import ItemRefused, as_text, claimed_event_id, read_event
from cityops.service.tickets import static_summary
from cityops.service.windows import Windows
from cityops.workflows import search_attributes as sa
from cityops.workflows.ticket import ALARM_EVENT_SIGNAL, TicketWorkflow

Locator = Callable[[AlarmEvent], Place]
log = logging.getLogger(__name__)
# A Temporal call that has not answered in this long is treated as Temporal being down.
RPC_TIMEOUT = timedelta(seconds=5)
DELIVERY_TIMEOUT = 8.0  # seconds for one event, all its calls together


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


MAX_BATCH = 1000  # events delivered together; longer messages are taken in chunks


def split_payload(payload: Any) -> list[Any]:
    """The items of a payload: one event (an object) or a list of them (any length).
    Anything else cannot be read item by item: AlarmBatchInvalid."""
    if isinstance(payload, dict):
        return [payload]
    if isinstance(payload, list):
        return payload
    raise AlarmBatchInvalid(
        [{"loc": [], "msg": "must be an alarm event object or a list of them", "type": "type"}]
    )


def read_item(channel: Channel, raw: Any) -> AlarmEvent:
    """One item as an alarm event, or ItemRefused naming the field in the sender's terms."""
    if channel is not Channel.ALERTMANAGER:
        return read_event(raw)
    event = alert_event(raw)
    try:
        return read_event(event)
    except ItemRefused as refused:
        raise ItemRefused(event_field(refused.field), refused.reason) from refused


def alert_event_id(raw: Any) -> str | None:
    try:
        return str(alert_event(raw)["event_id"])
    except ItemRefused:
        return None


@dataclass(frozen=True)
class Incoming:
    """One item as it arrived: its place in its message, batch or group, and where from."""

    raw: Any
    index: int
    origin: str


@dataclass(frozen=True)
class AlarmResult:
    """What became of one event."""

    event_id: str | None
    outcome: AlarmOutcome
    ticket_id: str | None = None
    workflow_id: str | None = None
    scenario_id: str | None = None
    incident_id: str | None = None
    run_id: str | None = None  # the run of a new ticket: told of its incident
    silence_id: str | None = None  # the maintenance window that swallowed it (IN_WINDOW)
    index: int | None = None
    field: str | None = None
    reason: str | None = None
    dead_letter_id: int | None = None


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
        geography: Geography | None = None,
        concurrency: int = 64,
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._engine = engine
        self._rules = rules or default_rules()
        self.geography = geography or Geography(engine)
        self._locator = locator
        self._slots = asyncio.Semaphore(concurrency)
        # Events of one device and metric go in order, even across concurrent requests.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._run_tickets = _RunTickets()
        self.windows = Windows(engine)
        self._reached_at = -1e9

    async def submit(
        self,
        items: Sequence[Incoming],
        channel: Channel,
        received_at: datetime | None = None,
        *,
        outside: Callable[[AlarmEvent], str | None] | None = None,
    ) -> list[AlarmResult]:
        """Every item gets an outcome, in order: valid events are delivered (in chunks of
        MAX_BATCH), the others are stored as dead letters and answered `rejected`.
        `outside`: why a valid event lies outside what the sender may post for (its key's
        street), or None; such an event is refused like an invalid one (field `site`),
        so it is kept and can be replayed (`cityops intake replay`), never dropped."""
        received = received_at or datetime.now(UTC)
        events: list[tuple[int, AlarmEvent]] = []
        refused: list[tuple[int, Refusal]] = []
        for position, item in enumerate(items):
            try:
                event = read_item(channel, item.raw)
                why = outside(event) if outside is not None else None
                if why is not None:
                    raise ItemRefused("site", why)
                events.append((position, event))
            except ItemRefused as exc:
                event_id = (
                    alert_event_id(item.raw)
                    if channel is Channel.ALERTMANAGER
                    else claimed_event_id(item.raw)
                )
                refusal = Refusal(
                    channel,
                    item.origin,
                    item.index,
                    exc.field,
                    exc.reason,
                    as_text(item.raw),
                    event_id,
                )
                refused.append((position, refusal))
        results: dict[int, AlarmResult] = {}
        letter_ids = await asyncio.to_thread(
            store_refusals, self._engine, [r for _, r in refused], received
        )
        for (position, refusal), letter_id in zip(refused, letter_ids, strict=True):
            results[position] = AlarmResult(
                refusal.event_id,
                AlarmOutcome.REJECTED,
                index=refusal.index,
                field=refusal.field,
                reason=refusal.reason,
                dead_letter_id=letter_id,
            )
        for start in range(0, len(events), MAX_BATCH):
            chunk = events[start : start + MAX_BATCH]
            delivered = await self.ingest([event for _, event in chunk], received)
            for (position, _), result in zip(chunk, delivered, strict=True):
                results[position] = replace(result, index=items[position].index)
        return [results[position] for position in range(len(items))]

    async def refuse_whole(
        self, channel: Channel, origin: str, payload: str, reason: str, at: datetime | None = None
    ) -> AlarmResult:
        """A message that cannot be read as items at all (not JSON): stored whole."""
        (letter_id,) = await asyncio.to_thread(
            store_refusals,
            self._engine,
            [Refusal(channel, origin, None, "", reason, payload)],
            at or datetime.now(UTC),
        )
        return AlarmResult(
            None, AlarmOutcome.REJECTED, field="", reason=reason, dead_letter_id=letter_id
        )

    async def ingest(
        self, events: Sequence[AlarmEvent], received_at: datetime | None = None
    ) -> list[AlarmResult]:
        """Deliver and record a validated batch; results in the order of `events`."""
        received = received_at or datetime.now(UTC)
        if events:
            await self._reachable()
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
                        # The client retries an unreachable server on its own: bound it.
                        result = await asyncio.wait_for(
                            self._deliver(events[index], received), DELIVERY_TIMEOUT
                        )
                    except (AlarmIntakeUnavailable, TimeoutError) as exc:
                        failures.append(exc)
                        return  # later events of this device must not overtake this one
                    results[index] = result
                    delivered.append((events[index], result))

        await asyncio.gather(*(run_group(wid, idx) for wid, idx in groups.items()))
        linked = await asyncio.to_thread(self._record, delivered, received)
        await self._tell_incidents(list(linked.values()))
        if failures:
            raise AlarmIntakeUnavailable(
                f"{len(failures)} device(s) could not be delivered to Temporal: "
                f"{str(failures[0]) or 'no answer in time'}"
            )
        return [linked.get(result.event_id or "", result) for _, result in sorted(results.items())]

    # ------------------------------------------------------------------ delivery

    async def _reachable(self) -> None:
        """Fail fast when Temporal is down (the client would retry each call for ~10 s);
        a yes is trusted for a second, so a storm costs one probe a second."""
        now = asyncio.get_running_loop().time()
        if now - self._reached_at < 1.0:
            return
        try:
            await self._client.workflow_service.get_system_info(
                GetSystemInfoRequest(), retry=False, timeout=timedelta(seconds=2)
            )
        except RPCError as exc:
            raise AlarmIntakeUnavailable(f"Temporal is unavailable: {exc.message}") from exc
        self._reached_at = now

    async def _deliver(self, event: AlarmEvent, received: datetime) -> AlarmResult:
        workflow_id = alarm_workflow_id(event.device_id, event.metric)
        intake = alarm_intake(event, received)
        verdict = self._rules.alarms.verdict(event)
        silence = await self.windows.silencing(event, verdict.scenario_id)
        if silence is not None:  # planned works: recorded and counted, no ticket
            return AlarmResult(
                event.event_id,
                AlarmOutcome.IN_WINDOW,
                scenario_id=verdict.scenario_id,
                silence_id=silence.silence_id,
            )
        if event.status == "resolved" or verdict.silent:
            ticket_id = await self._signal_open(workflow_id, event)
            if ticket_id is not None:
                return AlarmResult(
                    event.event_id, AlarmOutcome.JOINED, ticket_id, workflow_id, verdict.scenario_id
                )
            return AlarmResult(event.event_id, AlarmOutcome.SILENCED, reason=verdict.reason)
        outside = await asyncio.to_thread(self.geography.outside, event.lat, event.lon)
        if outside is not None:
            intake = intake.model_copy(update={"triage_reason": outside})
        classification = classify(intake, self._rules)
        scenario_id = classification.scenario.id if classification.scenario else None
        try:
            handle = await self._client.start_workflow(
                TicketWorkflow.run,
                intake,
                id=workflow_id,
                task_queue=self._task_queue,
                start_signal=ALARM_EVENT_SIGNAL,
                start_signal_args=[event],
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                static_summary=static_summary(intake, classification),
                search_attributes=sa.initial(intake),
                rpc_timeout=RPC_TIMEOUT,
            )
        except RPCError as exc:
            raise AlarmIntakeUnavailable(
                f"Temporal refused {event.event_id}: {exc.message}"
            ) from exc
        run_id = handle.result_run_id or ""
        if _started_a_run(handle) is True:
            self._run_tickets.put(run_id, intake.ticket_id)  # ours: no describe needed
        ticket_id = await self._ticket_of(workflow_id, run_id)
        if ticket_id != intake.ticket_id:
            outcome = AlarmOutcome.JOINED
        elif scenario_id is None:
            outcome = AlarmOutcome.TRIAGE
        else:
            outcome = AlarmOutcome.NEW_TICKET
        reason = classification.reason if outcome is AlarmOutcome.TRIAGE else None
        return AlarmResult(
            event.event_id,
            outcome,
            ticket_id,
            workflow_id,
            scenario_id,
            reason=reason,
            run_id=run_id if outcome is AlarmOutcome.NEW_TICKET else None,
        )

    async def _signal_open(self, workflow_id: str, event: AlarmEvent) -> str | None:
        """Signal the device's ticket if one is open; its number, or None."""
        try:
            description = await self._client.get_workflow_handle(workflow_id).describe(
                rpc_timeout=RPC_TIMEOUT
            )
            if description.status is not WorkflowExecutionStatus.RUNNING:
                return None
            handle = self._client.get_workflow_handle(workflow_id, run_id=description.run_id)
            await handle.signal(TicketWorkflow.alarm_event, event, rpc_timeout=RPC_TIMEOUT)
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
            ).describe(rpc_timeout=RPC_TIMEOUT)
        except RPCError as exc:
            raise AlarmIntakeUnavailable(
                f"cannot read ticket of {workflow_id}: {exc.message}"
            ) from exc
        ticket_id = description.typed_search_attributes.get(sa.TICKET_ID) or ""
        self._run_tickets.put(run_id, ticket_id)
        return ticket_id

    # ------------------------------------------------------------------ audit and incidents

    async def _tell_incidents(self, linked: list[AlarmResult]) -> None:
        """Each new ticket hears which incident the intake put it in (it started before the
        link was made): listed under it, its follow-ups grouped by it. A ticket not told
        keeps its scenario's grouping; the register has the link all the same."""

        async def tell(result: AlarmResult) -> None:
            assert result.workflow_id is not None and result.incident_id is not None
            handle = self._client.get_workflow_handle(result.workflow_id, run_id=result.run_id)
            async with self._slots:
                try:
                    await handle.signal(
                        TicketWorkflow.incident_linked,
                        IncidentJoined(incident_id=result.incident_id),
                        rpc_timeout=RPC_TIMEOUT,
                    )
                except RPCError as exc:
                    log.warning(
                        "ticket %s not told of incident %s: %s",
                        result.ticket_id,
                        result.incident_id,
                        exc.message,
                    )

        await asyncio.gather(
            *(tell(r) for r in linked if r.workflow_id and r.incident_id and r.run_id)
        )

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
                    try:
                        incident = link_to_incident(
                            self._engine,
                            group,
                            result.ticket_id,
                            event.device_id,
                            event.occurred_at,
                        )
                    except SQLAlchemyError:  # the audit rows are written: the link waits
                        log.exception("incident link failed for %s", event.event_id)
                        continue
                    linked[event.event_id] = replace(result, incident_id=incident)
        return linked

    def _group_key(self, event: AlarmEvent, scenario_id: str) -> GroupKey | None:
        grouping = self._rules.settings(scenario_id).grouping
        if grouping is None:
            return None
        place = self.locate(event) if grouping.by in ("street", "station") else None
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
        return GroupKey(scenario_id, grouping.by, fitted_key(key), grouping.window, street)

    def locate(self, event: AlarmEvent) -> Place:
        """Where an event happened, by its site and coordinates (the test locator, if set)."""
        if self._locator is not None:
            return self._locator(event)
        return self.geography.place(event.site, event.lat, event.lon)


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
