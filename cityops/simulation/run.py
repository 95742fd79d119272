"""A simulated Pudong day through the real engine.

The real workflow, rules, organisation, routing, SLA calendar, escalation chains, closure
checks, alarm intake and ticket register run on a Temporal server; only people and
devices are simulated. The driver walks the day minute by minute: it submits the calls
and alarm events due, reads the notices the engine sent (the notice activity is replaced
by a simulated inbox, registered under the real name), lets the simulated people react
after their delays, and moves the server's clock one minute on.

The time-skipping server cannot go back in time, so the day runs on the first date after
the server's clock with the same weekday, under a working calendar mapped day by day from
the requested date: every rule sees the requested day's weekday, shifts, working hours and
holidays. Everything the report says is expressed in the requested day's local time.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import structlog
from sqlalchemy import Engine
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from cityops.activities.dispatch import DispatchActivities
from cityops.activities.grouping import NoticeGroupActivities
from cityops.activities.route import RoutingActivities
from cityops.activities.store import StoreActivities
from cityops.db.engine import get_engine
from cityops.db.silences import add_silence
from cityops.domain.alarms import alarm_workflow_id
from cityops.domain.models import (
    NOTICE_GROUP_PREFIX,
    AcceptInput,
    AfterPhoto,
    AlarmEvent,
    CallbackInput,
    DismissInput,
    ExtensionDecision,
    ExtensionRequest,
    Notice,
    NoticeReceipt,
    RecheckInput,
    ResolveInput,
    ReturnInput,
    ReturnReason,
    ReturnReasonCode,
    ReviewInput,
    StatusInput,
    TicketIntake,
    TicketStatus,
    TriageDecision,
)
from cityops.domain.silences import SilenceSpec
from cityops.domain.stages import (
    ClosureCheck,
    NoticeKind,
    Priority,
    ReviewDecision,
    Source,
    Stage,
)
from cityops.org.migrate import upgrade
from cityops.org.models import DISTRICT_CENTER
from cityops.org.routing import OrgRouter
from cityops.org.store import seed_if_empty
from cityops.privacy.keys import KeyRing, generate_key
from cityops.rules.calendar import WorkingHours, is_working_day
from cityops.rules.calendar_loader import project_working_hours
from cityops.rules.incidents import default_incident_rules
from cityops.rules.load import RuleSet, default_rules
from cityops.service import tickets
from cityops.service.alarms import AlarmIntake, AlarmResult
from cityops.simulation.load import SHANGHAI, AlarmEpisode, Call, DayLoad, plan_day
from cityops.simulation.people import People
from cityops.workers.main import build_worker
from cityops.workflows.ticket import TicketWorkflow

log = structlog.get_logger()
DAY_MINUTES = 24 * 60
STALL_SECONDS = 180.0  # wall-clock bound on one move of the clock or one person's action
CACHED_TICKETS = 20_000
QUERY_ATTEMPTS = 3
GUARD = timedelta(seconds=5)  # a timer due this soon fires before an action on its run
GUARD_STEP = timedelta(milliseconds=50)
HORIZON_DAYS = 60  # the mapped calendar covers every deadline a day's tickets can have
AlarmStatus = Literal["firing", "resolved"]


def run_day_for(day: date, server_today: date) -> date:
    """The first date after the server's that falls on the same weekday as `day`."""
    ahead = (day.weekday() - server_today.weekday()) % 7 or 7
    return server_today + timedelta(days=ahead)


def mapped_hours(day: date, run_day: date, base: WorkingHours) -> WorkingHours:
    """A calendar on which every date from `run_day` on works as the same date from `day`
    on does: each date of the horizon is listed as a working day or a day off."""
    workdays: set[date] = set()
    holidays: set[date] = set()
    for offset in range(-7, HORIZON_DAYS):
        wanted = is_working_day(day + timedelta(days=offset), base)
        (workdays if wanted else holidays).add(run_day + timedelta(days=offset))
    return base.model_copy(
        update={"extra_workdays": frozenset(workdays), "extra_holidays": frozenset(holidays)}
    )


class Refused(Exception):
    """The engine refused a simulated person's action (wrong person, wrong stage)."""


class SimulationStalled(RuntimeError):
    """The server's clock or a person's action did not come back within STALL_SECONDS of
    wall-clock time; the message names the minute, the action and the ticket last touched."""


@dataclass(order=True)
class Due:
    """Something a simulated person or device does at a minute of the day; `workflow` is
    the workflow id it acts on (None: a new one), `ticket` the ticket it is about."""

    minute: int
    seq: int
    act: Callable[[], Any] = field(compare=False)
    what: str = field(compare=False)
    ticket: str | None = field(compare=False, default=None)
    workflow_id: str | None = field(compare=False, default=None)


@dataclass(frozen=True)
class Touch:
    """The last thing the driver did, for the log and for a stall's message."""

    minute: int
    what: str
    ticket: str | None = None
    stage: str | None = None
    workflow_id: str | None = None


@dataclass(frozen=True)
class Delivered:
    """A notice as it reached the simulated phones, stamped with the server's time at
    which the engine sent it (the activity's scheduled time)."""

    notice: Notice
    sent_at: datetime
    # The run that sent it: the ticket's own, or a notice group's (follow-ups about one
    # incident gathered for one person), whose history the audit counts separately.
    sender: tuple[str, str] = ("", "")

    @property
    def reader_key(self) -> str:
        """Whose sent notices this one is counted against: its ticket, or its group run."""
        workflow_id, run_id = self.sender
        if workflow_id.startswith(NOTICE_GROUP_PREFIX):
            return f"{workflow_id}/{run_id}"
        return self.notice.ticket_id


@dataclass
class Inbox:
    """The simulated people's phones: every notice the engine sends lands here, once
    (a retried activity carries the same idempotency key)."""

    delivered: list[Delivered] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)

    @property
    def notices(self) -> list[Notice]:
        return [d.notice for d in self.delivered]

    @activity.defn(name="send_notice")
    async def send_notice(self, notice: Notice) -> NoticeReceipt:
        if notice.idempotency_key not in self.keys:
            self.keys.add(notice.idempotency_key)
            info = activity.info()
            sender = (info.workflow_id or "", info.workflow_run_id or "")
            self.delivered.append(Delivered(notice, info.scheduled_time, sender))
        return NoticeReceipt(delivered_to=[r.person_id for r in notice.recipients])


def episode_workflow(episode: AlarmEpisode) -> str:
    """The workflow id the alarm intake gives a device's tickets."""
    return alarm_workflow_id(episode.device.device_id, episode.device.template.metric)


def _reading_order(delivered: Delivered) -> tuple[datetime, str, str, str, str]:
    notice = delivered.notice
    people = ",".join(sorted(r.person_id for r in notice.recipients))
    return (delivered.sent_at.replace(second=0, microsecond=0), notice.ticket_id,
            notice.kind.value, people, notice.title)  # fmt: skip


def notice_activities(
    events: Sequence[HistoryEvent], before: datetime, kind: str = "send_notice"
) -> tuple[int, int]:
    """Activities of a kind (send_notice, group_notice) a run scheduled before an instant,
    and how many of them have finished."""
    notices: set[int] = set()
    finished = 0
    for event in events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            attributes = event.activity_task_scheduled_event_attributes
            if (
                attributes.activity_type.name == kind
                and event.event_time.ToDatetime(tzinfo=UTC) < before
            ):
                notices.add(event.event_id)
        elif event.HasField("activity_task_completed_event_attributes"):
            finished += event.activity_task_completed_event_attributes.scheduled_event_id in notices
        elif event.HasField("activity_task_failed_event_attributes"):
            finished += event.activity_task_failed_event_attributes.scheduled_event_id in notices
        elif event.HasField("activity_task_timed_out_event_attributes"):
            finished += event.activity_task_timed_out_event_attributes.scheduled_event_id in notices
    return len(notices), finished


def pending_timers(events: Sequence[HistoryEvent]) -> list[datetime]:
    """When each timer a run has started and not yet seen fire or cancelled is due."""
    started: dict[str, datetime] = {}
    for event in events:
        if event.HasField("timer_started_event_attributes"):
            attributes = event.timer_started_event_attributes
            started[attributes.timer_id] = (
                event.event_time.ToDatetime(tzinfo=UTC)
                + attributes.start_to_fire_timeout.ToTimedelta()
            )
        elif event.HasField("timer_fired_event_attributes"):
            started.pop(event.timer_fired_event_attributes.timer_id, None)
        elif event.HasField("timer_canceled_event_attributes"):
            started.pop(event.timer_canceled_event_attributes.timer_id, None)
    return sorted(started.values())


@dataclass
class TicketTrack:
    """What the driver knows of one ticket: enough to act and to report."""

    ticket_id: str
    workflow_id: str
    run_id: str | None
    source: Source
    received_minute: int
    street_code: str | None = None
    lat: float | None = None
    lon: float | None = None
    label: str | None = None
    device: str | None = None
    device_episode: AlarmEpisode | None = None
    priority: Priority | None = None
    stage: Stage | None = None  # as the driver last saw it
    accepted_minute: int | None = None
    resolved_minutes: list[int] = field(default_factory=list)
    nth: Counter[str] = field(default_factory=Counter)


@dataclass
class Ledger:
    """Where every arrival went, and what the people did."""

    calls: int = 0
    events: int = 0
    call_tickets: dict[int, str] = field(default_factory=dict)
    event_outcomes: Counter[str] = field(default_factory=Counter)
    refused_actions: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    notices: Counter[str] = field(default_factory=Counter)
    notices_read: Counter[str] = field(default_factory=Counter)  # by ticket or group run


class Simulation:
    def __init__(
        self,
        env: WorkflowEnvironment,
        load: DayLoad,
        people: People,
        database_url: str,
        rules: RuleSet,
        *,
        realtime: bool = False,
        progress: Callable[[str], None] = print,
        actions_log: Any = None,
        stall_seconds: float = STALL_SECONDS,
    ) -> None:
        self.env = env
        self.client: Client = env.client
        self.load = load
        self.people = people
        self.database_url = database_url
        self.rules = rules
        self.realtime = realtime
        self.progress = progress
        self.queue = "simulation"
        self.inbox = Inbox()
        self.ledger = Ledger()
        self.tracks: dict[str, TicketTrack] = {}
        self.device_tickets: dict[str, str] = {}
        self._due: list[Due] = []
        self._seq = 0
        self._read = 0
        self._unread: list[Delivered] = []
        self.start: datetime = datetime.min
        self.touched = Touch(0, "start")
        self.stall_seconds = stall_seconds
        self.actions_log = actions_log or log
        self.final: dict[str, TicketStatus] = {}
        self.sent: dict[str, int] = {}
        self.first = 0  # the window of the day that runs: [first, end)
        self.end = DAY_MINUTES
        self.timers_let_fire = 0  # run-time fact: waits so a timer fires before an action
        self.wall: defaultdict[str, float] = defaultdict(float)  # run-time fact: seconds by part
        self.router = OrgRouter.from_database(database_url)

    # ------------------------------------------------------------------ clock

    def at(self, minute: int) -> datetime:
        return self.start + timedelta(minutes=minute)

    def minute_of(self, instant: datetime) -> int:
        return int((instant - self.start).total_seconds() // 60)

    def schedule(
        self,
        minute: int,
        what: str,
        act: Callable[[], Any],
        *,
        ticket: str | None = None,
        workflow_id: str | None = None,
    ) -> None:
        self._seq += 1
        heapq.heappush(self._due, Due(minute, self._seq, act, what, ticket, workflow_id))

    # ------------------------------------------------------------------ watchdog

    def _touch(
        self, minute: int, what: str, ticket: str | None = None, workflow_id: str | None = None
    ) -> None:
        track = self.tracks.get(ticket) if ticket else None
        stage = track.stage.value if track and track.stage else None
        workflow_id = track.workflow_id if track else workflow_id
        self.touched = Touch(minute, what, ticket, stage, workflow_id)
        self.actions_log.debug(
            "simulated_action",
            minute=minute,
            at=f"{self.load.local(minute):%H:%M}",
            what=what,
            ticket=ticket,
            stage=stage,
            workflow=workflow_id,
        )

    async def _bounded(self, work: Any, doing: str) -> Any:
        """`work`, or SimulationStalled after stall_seconds of wall-clock time: a stuck
        server or workflow fails the run loudly instead of hanging it."""
        task = asyncio.ensure_future(work)
        started = time.perf_counter()
        done, _ = await asyncio.wait({task}, timeout=self.stall_seconds)
        self.wall[doing.split(" (")[0]] += time.perf_counter() - started
        if not done:
            task.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
            raise SimulationStalled(await self._stall_message(doing))
        return task.result()

    async def _stall_message(self, doing: str) -> str:
        touched = self.touched
        message = (
            f"simulation stalled {self.stall_seconds:.0f} s (wall clock) while {doing} at "
            f"{self.load.local(touched.minute):%H:%M} (minute {touched.minute}); last action "
            f"{touched.what} on ticket {touched.ticket or '-'} (stage {touched.stage or '-'}, "
            f"workflow {touched.workflow_id or '-'})"
        )
        track = self.tracks.get(touched.ticket) if touched.ticket else None
        workflow_id = track.workflow_id if track else touched.workflow_id
        if workflow_id is None:
            return message
        run_id = track.run_id if track else None
        try:
            history = await asyncio.wait_for(
                self.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history(), 10
            )
        except (TimeoutError, RPCError) as unreadable:
            return f"{message}; its history is unreadable: {unreadable}"
        tail = ", ".join(
            f"{event.event_id}:{EventType.Name(event.event_type).removeprefix('EVENT_TYPE_')}"
            for event in history.events[-8:]
        )
        return f"{message}; last events of {workflow_id}: {tail}"

    async def _let_timers_fire(self, workflow_id: str, run_id: str | None, minute: int) -> None:
        """Every timer of the run due before the end of this minute fires before a person
        or device acts on it.

        The Java time-skipping test server strands a run whose workflow task cancels a
        timer that fired while the task was with the worker: it refuses the completion
        ("invalid history builder state for action", temporalio/sdk-java#3088) and never
        retries the task, so the run and the clock stop. Between moves its clock runs at
        real pace, so a timer due seconds after this minute began (its deadline computed
        from an action's instant) can fire while the workflow handles an update that
        satisfies the condition the timer bounds (an accept before the escalation step).
        A real server retries that task with the timer's event; here the driver lets such
        timers fire first, which also makes the order of a minute deterministic: the
        engine's clocks of a minute come before the people's actions of that minute."""
        if self.realtime:
            return
        end = self.at(minute + 1)
        handle = self.client.get_workflow_handle(workflow_id, run_id=run_id)
        while True:
            try:
                history = await handle.fetch_history()
            except RPCError:
                return  # not started yet: nothing to race
            now = await self.env.get_current_time()
            soon = [due for due in pending_timers(history.events) if due < max(end, now + GUARD)]
            if not soon:
                return
            self.timers_let_fire += 1
            await self.env.sleep(max(max(soon) - now, timedelta(0)) + GUARD_STEP)

    # ------------------------------------------------------------------ the day

    def in_window(self, minute: int) -> bool:
        return self.first <= minute < self.end

    async def run(self, hours: WorkingHours, minutes: int = DAY_MINUTES, first: int = 0) -> None:
        """Run `minutes` of the day from minute `first` (0: midnight)."""
        self.first, self.end = first, first + minutes
        dispatch = DispatchActivities(router=self.router, rules=self.rules, hours=hours)
        routing = RoutingActivities(self.router)
        # The register seals callers' contacts: a key of this run only.
        store = StoreActivities(get_engine(self.database_url), KeyRing([generate_key()]))
        activities: list[Callable[..., Any]] = [
            self.inbox.send_notice,
            NoticeGroupActivities().group_notice,
            store.record_ticket,
            store.record_event,
            store.record_events,
            routing.return_ticket,
            routing.transfer_ticket,
            *dispatch.activities(),
        ]
        engine = get_engine(self.database_url)
        self.alarms = AlarmIntake(self.client, self.queue, engine, rules=self.rules)
        self._declare_works(engine)
        calls = [call for call in self.load.calls if self.in_window(call.minute)]
        episodes = [e for e in self.load.episodes if self.in_window(e.minute)]
        for episode in episodes:
            self._schedule_episode(episode)
        started = time.perf_counter()
        # Every ticket of the day stays in the worker's cache: an evicted one would be
        # replayed from its whole history for each query and update.
        async with build_worker(
            self.client, self.queue, activities, max_cached_workflows=CACHED_TICKETS
        ):
            for minute in range(self.first, self.end):
                while calls and calls[0].minute <= minute:
                    self._touch(minute, "call")
                    await self._bounded(self._call(calls.pop(0), minute), "submitting a call")
                await self._react(minute)
                self._touch(minute, "clock")
                await self._bounded(self._advance(minute + 1), "moving the clock")
                if minute % 120 == 119:
                    self.progress(
                        f"  {self.load.local(minute + 1):%H:%M} "
                        f"tickets {len(self.tracks)}, notices {len(self.inbox.notices)}, "
                        f"{time.perf_counter() - started:.0f} s"
                    )
            # The day is over: what the engine sent is counted, then read; what people
            # would do from midnight on is tomorrow's. Queries need the worker, so every
            # ticket's end-of-day state is read before it stops.
            self._touch(self.end, "notice_audit")
            self.sent = await self._bounded(self._audit_notices(), "counting the notices sent")
            self._read_notices(self.end)
            self._touch(self.end, "final_statuses")
            self.final = await self._bounded(self._final_statuses(), "reading final statuses")

    async def _audit_notices(self) -> dict[str, int]:
        """How many notices each ticket's run scheduled (send_notice activities in its
        history), waiting for any still in flight: the other side of "no notice lost".
        Follow-ups a ticket hands to a notice group (group_notice) must all be handed
        over; each group run that sent anything is counted from its own history."""
        before = self.at(self.end)

        async def count(handle: WorkflowHandle[Any, Any], kind: str) -> int:
            while True:
                history = await handle.fetch_history()
                scheduled, finished = notice_activities(history.events, before, kind)
                if scheduled == finished:
                    return scheduled
                await asyncio.sleep(0.05)  # a notice still on its way

        sent: dict[str, int] = {}
        for ticket_id in sorted(self.tracks):
            track = self.tracks[ticket_id]
            handle = self.client.get_workflow_handle(track.workflow_id, run_id=track.run_id)
            sent[ticket_id] = await count(handle, "send_notice")
            await count(handle, "group_notice")  # every hand-over finished
        groups = sorted({d.sender for d in self.inbox.delivered if d.reader_key not in self.tracks})
        for workflow_id, run_id in groups:
            handle = self.client.get_workflow_handle(workflow_id, run_id=run_id)
            sent[f"{workflow_id}/{run_id}"] = await count(handle, "send_notice")
        return sent

    async def _final_statuses(self) -> dict[str, TicketStatus]:
        slots = asyncio.Semaphore(16)

        async def one(ticket_id: str) -> TicketStatus:
            async with slots:
                return await self.status(ticket_id)

        ticket_ids = sorted(self.tracks)
        statuses = await asyncio.gather(*(one(ticket_id) for ticket_id in ticket_ids))
        return dict(zip(ticket_ids, statuses, strict=True))

    async def _advance(self, minute: int) -> None:
        """Move the server's clock to the start of `minute`."""
        if self.realtime:
            delay = (self.at(minute) - datetime.now(self.start.tzinfo)).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)
            return
        now = await self.env.get_current_time()
        gap = self.at(minute) - now
        if gap > timedelta(0):
            await self.env.sleep(gap)

    def _read_notices(self, minute: int) -> None:
        """Read the notices sent before this minute.

        A notice is read by the minute the engine sent it, not by when it reached the
        inbox (a timer of the last minute may fire after this minute's reading began), so
        people react to the same notices at the same minutes on every run."""
        self._unread.extend(self.inbox.delivered[self._read :])
        self._read = len(self.inbox.delivered)
        ready = [d for d in self._unread if self.minute_of(d.sent_at) < minute]
        taken = {id(d) for d in ready}
        self._unread = [d for d in self._unread if id(d) not in taken]
        for delivered in sorted(ready, key=_reading_order):
            self.ledger.notices[delivered.notice.kind.value] += 1
            self.ledger.notices_read[delivered.reader_key] += 1
            self._on_notice(delivered.notice, self.minute_of(delivered.sent_at) + 1)

    async def _react(self, minute: int) -> None:
        """Read the notices sent before this minute, then do everything due by it."""
        self._read_notices(minute)
        while self._due and self._due[0].minute <= minute:
            due = heapq.heappop(self._due)
            self._touch(minute, due.what, due.ticket, due.workflow_id)
            try:
                target = self._target(due)
                if target is not None:
                    await self._bounded(
                        self._let_timers_fire(*target, minute), f"letting timers fire ({due.what})"
                    )
                await self._bounded(due.act(), due.what)
                self.ledger.actions[due.what] += 1
            except Refused as refused:
                self.ledger.refused_actions[due.what] += 1
                self.actions_log.debug(
                    "simulated_action_refused",
                    what=due.what,
                    ticket=due.ticket,
                    reason=str(refused),
                )

    def _target(self, due: Due) -> tuple[str, str | None] | None:
        """The run an action goes to, if it exists: a ticket's, or a device's latest."""
        if due.ticket is not None:
            track = self.tracks[due.ticket]
            return track.workflow_id, track.run_id
        if due.workflow_id is not None:
            return due.workflow_id, None
        return None

    # ------------------------------------------------------------------ arrivals

    def _declare_works(self, engine: Engine) -> None:
        """The day's planned works, declared at its start as maintenance windows in the
        register the alarm intake reads (db/silences.py)."""
        for work in self.load.works:
            spec = SilenceSpec(
                device_id=work.device_id,
                starts_at=self.at(work.start),
                ends_at=self.at(work.end),
                reason=work.reason,
                created_by=self._dispatcher(0),
            )
            add_silence(engine, spec, created_at=self.at(0))
        self.alarms.windows.invalidate()

    async def _call(self, call: Call, minute: int) -> None:
        ticket_id = f"SIM-{self.load.day:%Y%m%d}-{call.number:05d}"
        intake = TicketIntake(
            ticket_id=ticket_id,
            source=Source.HOTLINE,
            text=call.text,
            address=f"上海市浦东新区{call.street.name_zh}",
            lat=call.lat,
            lon=call.lon,
            caller_phone=call.phone,
            received_at=self.at(minute),
            external_id=f"12345-{self.load.day:%Y%m%d}-{call.number:05d}",
        )
        submitted = await tickets.submit(self.client, intake, self.queue)
        self.ledger.calls += 1
        self.ledger.call_tickets[call.number] = submitted.ticket_id
        self.tracks[ticket_id] = TicketTrack(
            ticket_id,
            submitted.workflow_id,
            None,
            Source.HOTLINE,
            minute,
            call.street.code,
            call.lat,
            call.lon,
            call.label,
        )
        self.schedule(
            minute + 1, "triage_check", lambda: self._triage_check(ticket_id), ticket=ticket_id
        )

    def _schedule_episode(self, episode: AlarmEpisode) -> None:
        minute = episode.minute
        device = episode_workflow(episode)
        for repeat in range(episode.repeats + 1):
            at = minute + repeat * episode.repeat_every
            if episode.clears_at is not None and at >= episode.clears_at:
                break
            self.schedule(
                at,
                "alarm_firing",
                self._event_sender(episode, at, "firing", repeat),
                workflow_id=device,
            )
        if episode.clears_at is not None:
            clears = episode.clears_at
            self.schedule(
                clears,
                "alarm_resolved",
                self._event_sender(episode, clears, "resolved"),
                workflow_id=device,
            )

    def _event_sender(
        self, episode: AlarmEpisode, minute: int, status: AlarmStatus, nth: int = 0
    ) -> Callable[[], Any]:
        async def send() -> None:
            await self._alarm(episode, minute, status, nth)

        return send

    async def _alarm(
        self, episode: AlarmEpisode, minute: int, status: AlarmStatus, nth: int
    ) -> None:
        device = episode.device
        template = device.template
        attributes: dict[str, Any] = {"site": f"{device.street.name_zh}{device.device_id}"}
        if template.detection:
            attributes |= {"detection": template.detection, "confidence": 0.9}
        event = AlarmEvent(
            event_id=f"sim-{device.device_id}-{minute:04d}-{status}-{nth}",
            device_id=device.device_id,
            sensor_type=template.sensor_type,
            metric=template.metric,
            value=1.0,
            status=status,
            lat=device.lat,
            lon=device.lon,
            occurred_at=self.at(minute),
            attributes=attributes,
        )
        [result] = await self.alarms.ingest([event], received_at=self.at(minute))
        self.ledger.events += 1
        self.ledger.event_outcomes[result.outcome.value] += 1
        await self._track_alarm(result, episode, minute)

    async def _track_alarm(self, result: AlarmResult, episode: AlarmEpisode, minute: int) -> None:
        device = episode.device
        if result.ticket_id and result.workflow_id and result.ticket_id not in self.tracks:
            # A device's tickets are runs of one workflow id: pin this ticket's run.
            run = await self.client.get_workflow_handle(result.workflow_id).describe()
            self.tracks[result.ticket_id] = TicketTrack(
                result.ticket_id,
                result.workflow_id,
                run.run_id,
                Source.IOT,
                minute,
                lat=device.lat,
                lon=device.lon,
                device=device.device_id,
                device_episode=episode,
            )
            self.device_tickets[device.device_id] = result.ticket_id

    # ------------------------------------------------------------------ people

    def _dispatcher(self, minute: int) -> str:
        return self.router.directory.on_duty(DISTRICT_CENTER, self.at(minute)).id

    def _handle(self, ticket_id: str) -> WorkflowHandle[TicketWorkflow, Any]:
        # By workflow id: the time-skipping server has no visibility search, and an
        # alarm ticket's number is found only by search.
        track = self.tracks[ticket_id]
        return self.client.get_workflow_handle_for(
            TicketWorkflow.run, track.workflow_id, run_id=track.run_id
        )

    async def status(self, ticket_id: str) -> TicketStatus:
        for attempt in range(QUERY_ATTEMPTS):
            try:
                status = await self._handle(ticket_id).query(
                    TicketWorkflow.status, StatusInput(include_history=False)
                )
                break
            except WorkflowQueryFailedError as failed:
                # On a starved CPU a replay for the query can trip the SDK's deadlock
                # detector (TMPRL1101, no yield within 2 s): the workflow is fine, ask again.
                if "TMPRL1101" not in str(failed) or attempt == QUERY_ATTEMPTS - 1:
                    raise
                self.actions_log.warning("query_retried", ticket=ticket_id, error=str(failed))
        self.tracks[ticket_id].stage = status.stage
        return status

    async def _status(self, ticket_id: str) -> TicketStatus:
        return await self.status(ticket_id)

    async def _update(self, ticket_id: str, update: Any, request: Any) -> TicketStatus:
        """Run one of the ticket's updates as the simulated person; a refusal is counted."""
        try:
            result: TicketStatus = await self._handle(ticket_id).execute_update(update, request)
        except WorkflowUpdateFailedError as refused:
            raise Refused(str(refused.cause or refused)) from refused
        except RPCError as finished:  # the ticket's run has ended meanwhile
            raise Refused(str(finished)) from finished
        self.tracks[ticket_id].stage = result.stage
        return result

    async def _triage_check(self, ticket_id: str) -> None:
        status = await self._status(ticket_id)
        if status.stage is not Stage.TRIAGE:
            return
        track = self.tracks[ticket_id]
        minute = track.received_minute + 1 + self.people.triage(ticket_id)
        label = track.label

        async def decide() -> None:
            by = self._dispatcher(minute)
            if label is None:
                request = DismissInput(by=by, reason="咨询类来电，无需派单")
                await self._update(ticket_id, TicketWorkflow.dismiss, request)
            else:
                decision = TriageDecision(scenario_id=label, by=by, note="人工分拨")
                await self._update(ticket_id, TicketWorkflow.classify, decision)

        self.schedule(minute, "triage", decide, ticket=ticket_id)

    def _on_notice(self, notice: Notice, minute: int) -> None:
        if not notice.recipients:
            return
        person = notice.recipients[0].person_id
        ticket_id = notice.ticket_id
        track = self.tracks.get(ticket_id)
        if track is None:
            return
        if notice.kind in (NoticeKind.ASSIGNED, NoticeKind.ESCALATED, NoticeKind.RETURNED):
            self._on_assigned(track, person, minute)
        elif notice.kind is NoticeKind.EXTENSION_REQUESTED:
            delay, approve = self.people.decides_extension(ticket_id)
            deciders = [r.person_id for r in notice.recipients]

            async def decide() -> None:
                await self._as_one_of(
                    deciders,
                    lambda by: self._update(
                        ticket_id,
                        TicketWorkflow.decide_extension,
                        ExtensionDecision(by=by, approve=approve, note="模拟审批"),
                    ),
                )

            self.schedule(minute + delay, "decide_extension", decide, ticket=ticket_id)
        elif notice.kind is NoticeKind.REOPENED:
            track.nth["reopen"] += 1
            self._plan_fix(track, person, minute)
        elif notice.kind in (NoticeKind.CALLBACK_REQUEST, NoticeKind.REVIEW_REQUEST):
            self._on_verification_request(notice, track, minute)

    def _on_assigned(self, track: TicketTrack, person: str, minute: int) -> None:
        track.nth["assigned"] += 1
        if (
            track.source is Source.HOTLINE
            and track.nth["assigned"] == 1
            and self.people.returns(track.ticket_id, person)
        ):

            async def give_back() -> None:
                reason = ReturnReason(code=ReturnReasonCode.NOT_OUR_DUTY, note="非本单位职责")
                await self._update(
                    track.ticket_id,
                    TicketWorkflow.return_ticket,
                    ReturnInput(person_id=person, reason=reason),
                )

            self.schedule(minute + 3, "return", give_back, ticket=track.ticket_id)
            return
        delay = self.people.accept_delay(track.ticket_id, person, track.nth["assigned"])
        if delay is None:
            return

        async def accept() -> None:
            status = await self._status(track.ticket_id)
            if status.assignee_id != person or status.stage not in (
                Stage.AWAITING_ACCEPT,
                Stage.ESCALATED,
            ):
                return  # someone else has it now, or it is already accepted
            await self._update(
                track.ticket_id, TicketWorkflow.accept, AcceptInput(person_id=person)
            )
            track.priority = status.priority
            track.accepted_minute = minute + delay
            self._plan_fix(track, person, minute + delay)

        self.schedule(minute + delay, "accept", accept, ticket=track.ticket_id)

    def _plan_fix(self, track: TicketTrack, person: str, minute: int) -> None:
        nth = len(track.resolved_minutes)

        async def resolve() -> None:
            status = await self._status(track.ticket_id)
            if status.stage not in (Stage.ACCEPTED, Stage.REOPENED):
                return
            done = minute + work
            photo = None
            if track.lat is not None and track.lon is not None:
                photo = AfterPhoto(
                    url=f"https://photos.sim/{track.ticket_id}/{nth}.jpg",
                    taken_at=self.at(done),
                    lat=track.lat,
                    lon=track.lon,
                )
            await self._update(
                track.ticket_id,
                TicketWorkflow.resolve,
                ResolveInput(person_id=person, note="已处置", photo=photo),
            )
            track.resolved_minutes.append(done)
            self._plan_verification(track, status, done)

        work = self.people.work_minutes(track.ticket_id, track.priority, nth)
        if nth == 0 and self.people.asks_extension(track.ticket_id):

            async def extend() -> None:
                status = await self._status(track.ticket_id)
                if status.resolve_deadline is None or status.stage is not Stage.ACCEPTED:
                    return
                await self._update(
                    track.ticket_id,
                    TicketWorkflow.request_extension,
                    ExtensionRequest(
                        person_id=person,
                        new_deadline=status.resolve_deadline + timedelta(days=1),
                        reason="需协调其他部门",
                    ),
                )

            self.schedule(minute + 30, "request_extension", extend, ticket=track.ticket_id)
        self.schedule(minute + work, "resolve", resolve, ticket=track.ticket_id)

    def _plan_verification(self, track: TicketTrack, status: TicketStatus, minute: int) -> None:
        """A callback or a photo review is asked for by a notice (see _on_notice); a camera
        rechecks, or the device reports, by itself once the ticket is being verified."""
        if status.stage is not Stage.VERIFYING or status.scenario_id is None:
            return
        if track.device is None or track.device_episode is None:
            return
        check = self.rules.rule(status.scenario_id).closure_check
        video = track.device_episode.device.template.sensor_type == "video_ai"
        ticket_id = track.ticket_id
        nth = len(track.resolved_minutes)
        if check is ClosureCheck.VIDEO_RECHECK and video:
            delay, still_there = self.people.recheck(ticket_id, nth)

            async def recheck() -> None:
                request = RecheckInput(still_detected=still_there, checked_at=self.at(minute))
                await self._update(ticket_id, TicketWorkflow.recheck, request)

            self.schedule(minute + delay, "recheck", recheck, ticket=ticket_id)
        elif check is ClosureCheck.SENSOR_RECOVERY and not video:
            episode = track.device_episode
            delay, refires = self.people.sensor_after_fix(episode.device.device_id, nth)
            status_after: AlarmStatus = "firing" if refires else "resolved"
            self.schedule(
                minute + delay,
                f"sensor_{status_after}",
                self._event_sender(episode, minute + delay, status_after, 100 + nth),
                workflow_id=alarm_workflow_id(
                    episode.device.device_id, episode.device.template.metric
                ),
            )

    def _on_verification_request(self, notice: Notice, track: TicketTrack, minute: int) -> None:
        ticket_id = track.ticket_id
        nth = len(track.resolved_minutes)
        if notice.kind is NoticeKind.CALLBACK_REQUEST:
            delay, result = self.people.callback(ticket_id, nth)
            desk = notice.recipients[0].person_id  # the hotline's callback desk

            async def callback() -> None:
                request = CallbackInput(result=result, by=desk, note="回访")
                await self._update(ticket_id, TicketWorkflow.callback, request)

            self.schedule(minute + delay, "callback", callback, ticket=ticket_id)
            return
        delay, approved = self.people.review(ticket_id, nth)
        reviewers = [r.person_id for r in notice.recipients]

        async def review() -> None:
            decision = ReviewDecision.APPROVED if approved else ReviewDecision.REJECTED
            await self._as_one_of(
                reviewers,
                lambda by: self._update(
                    ticket_id, TicketWorkflow.review, ReviewInput(decision=decision, by=by)
                ),
            )

        self.schedule(minute + delay, "review", review, ticket=ticket_id)

    async def _as_one_of(self, people: list[str], act: Callable[[str], Any]) -> None:
        """A notice to a team (the dispatchers above a ticket): the first of them whom the
        engine lets act does; refused only if none may."""
        refusals = []
        for person in people:
            try:
                await act(person)
                return
            except Refused as refused:
                refusals.append(str(refused))
        raise Refused("; ".join(refusals))


def prepare_database(out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    database = out / "simulation.db"
    database.unlink(missing_ok=True)
    url = f"sqlite:///{database}"
    upgrade(url)
    seed_if_empty(url)
    return url


async def simulate(
    day: date,
    seed: int,
    scale: float,
    out: Path,
    *,
    env: WorkflowEnvironment,
    minutes: int = DAY_MINUTES,
    realtime: bool = False,
    progress: Callable[[str], None] = print,
    actions_log: Any = None,
    stall_seconds: float = STALL_SECONDS,
) -> Simulation:
    """Run the day on `env` (time-skipping, or a dev server with realtime=True)."""
    rules = default_rules()
    load = plan_day(day, seed, scale, rules, default_incident_rules().protected)
    url = prepare_database(out)
    server_now = (await env.get_current_time()).astimezone(SHANGHAI)
    if realtime:
        # The load's minutes from the wall clock's time of day on: midnight is today's.
        run_day = server_now.date()
        start = datetime.combine(run_day, datetime.min.time(), tzinfo=SHANGHAI)
        first = (server_now - start) // timedelta(minutes=1) + 1
        hours = project_working_hours()
    else:
        run_day = run_day_for(day, server_now.date())
        start = datetime.combine(run_day, datetime.min.time(), tzinfo=SHANGHAI)
        hours = mapped_hours(day, run_day, project_working_hours())
        first = 0
    simulation = Simulation(
        env,
        load,
        People(seed),
        url,
        rules,
        realtime=realtime,
        progress=progress,
        actions_log=actions_log,
        stall_seconds=stall_seconds,
    )
    simulation.start = start
    if not realtime:
        await simulation._bounded(simulation._advance(0), "moving the clock to the day's start")
    progress(
        f"simulating {day} (seed {seed}, scale {scale}): {len(load.calls)} calls, "
        f"{len(load.episodes)} alarm episodes"
    )
    await simulation.run(hours, min(minutes, DAY_MINUTES - first), first)
    return simulation
