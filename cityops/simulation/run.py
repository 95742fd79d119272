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
import json
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import structlog
from sqlalchemy import Engine
from sqlmodel import Session, select
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

from cityops.activities.calls import CallActivities
from cityops.activities.dispatch import DispatchActivities
from cityops.activities.route import RoutingActivities
from cityops.activities.store import StoreActivities
from cityops.db.deadletters import Channel
from cityops.db.engine import get_engine
from cityops.db.silences import add_silence
from cityops.domain.alarms import alarm_workflow_id
from cityops.domain.calls import (
    CallIntake,
    Consultation,
    ConvertInput,
    RateInput,
    ReferralCall,
    ReplyInput,
    Suggestion,
)
from cityops.domain.models import (
    AcceptInput,
    AfterPhoto,
    AlarmEvent,
    CallbackInput,
    ContactInput,
    DismissInput,
    ExtensionDecision,
    ExtensionRequest,
    HistoryEntry,
    Notice,
    PauseInput,
    RecheckInput,
    Referral,
    ResolveInput,
    ResumeInput,
    ReturnInput,
    ReturnReason,
    ReturnReasonCode,
    ReviewInput,
    StatusAndTimers,
    StatusInput,
    TicketIntake,
    TicketStatus,
    TransferInput,
    TriageDecision,
)
from cityops.domain.silences import SilenceSpec
from cityops.domain.stages import (
    CallKind,
    ClosureCheck,
    LinkKind,
    NoticeKind,
    Priority,
    Reader,
    ReviewDecision,
    Source,
    Stage,
)
from cityops.org.migrate import upgrade
from cityops.org.models import DISTRICT_CENTER, UnitKind
from cityops.org.routing import OrgRouter
from cityops.org.store import seed_if_empty
from cityops.privacy.keys import KeyRing, generate_key
from cityops.register.tables import TicketEventRow
from cityops.rules.calendar import WorkingHours, is_working_day
from cityops.rules.calendar_loader import project_working_hours
from cityops.rules.incidents import default_incident_rules
from cityops.rules.load import RuleSet, default_rules
from cityops.service import calls as call_service
from cityops.service import tickets
from cityops.service.alarms import AlarmIntake, AlarmResult, Incoming
from cityops.simulation.inbox import Delivered, Inbox, readings
from cityops.simulation.load import SHANGHAI, AlarmEpisode, Call, DayLoad, plan_day
from cityops.simulation.people import People
from cityops.workers.main import build_worker
from cityops.workflows.call import CallWorkflow
from cityops.workflows.ticket import TicketWorkflow

log = structlog.get_logger()
DAY_MINUTES = 24 * 60
STALL_SECONDS = 180.0  # wall-clock bound on one move of the clock or one person's action
CACHED_TICKETS = 20_000
QUERY_ATTEMPTS = 3
GUARD = timedelta(seconds=5)  # a timer due this soon fires before an action on its run
GUARD_STEP = timedelta(milliseconds=50)
# A timer's instant as the workflow knows it (its task's start plus the timeout) is earlier
# than the server's (the task's completion plus the timeout) by the time the task took: the
# driver sleeps this much past it, so the timer has fired when it looks again.
TASK_LAG = timedelta(milliseconds=250)
HORIZON_DAYS = 60  # the mapped calendar covers every deadline a day's tickets can have
AlarmStatus = Literal["firing", "resolved"]
BEING_WORKED = (Stage.ACCEPTED, Stage.REOPENED)
AGENT = "12345-坐席"  # the hotline agent who takes the calls and records the ratings
NOTICE_ACTIVITIES = ("send_notice", "group_notice")
# The marker the SDK records for each finished local activity (its details name the type).
LOCAL_ACTIVITY_MARKER = "core_local_activity"
# Who reads a verification request: the hotline calls back, the camera side re-detects,
# a dispatcher reviews a photo.
VERIFY_REQUESTS = (
    NoticeKind.CALLBACK_REQUEST,
    NoticeKind.REVIEW_REQUEST,
    NoticeKind.RECHECK_REQUEST,
)
# Follow-ups of a suggestion's reply chain (workflows/call.py) reach its owner or above.
REPLY_CHAIN = (
    NoticeKind.SUGGESTION,
    NoticeKind.REMINDER,
    NoticeKind.ESCALATED,
    NoticeKind.URGE,
    NoticeKind.SUPERVISE,
)


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
    # Whether it is still worth doing, by what the simulation knows (an accept of a
    # ticket someone has accepted is not): if not, nothing is asked of the server.
    wanted: Callable[[], bool] | None = field(compare=False, default=None)


@dataclass(frozen=True)
class Touch:
    """The last thing the driver did, for the log and for a stall's message."""

    minute: int
    what: str
    ticket: str | None = None
    stage: str | None = None
    workflow_id: str | None = None


def episode_workflow(episode: AlarmEpisode) -> str:
    """The workflow id the alarm intake gives a device's tickets."""
    return alarm_workflow_id(episode.device.device_id, episode.device.template.metric)


def _reading_order(reading: tuple[int, Notice]) -> tuple[int, str, str, str, str]:
    minute, notice = reading
    people = ",".join(sorted(r.person_id for r in notice.recipients))
    return (minute, notice.ticket_id, notice.kind.value, people, notice.title)


@dataclass(frozen=True)
class NoticeCount:
    """The notice activities a run scheduled before an instant: messages sent directly
    (send_notice), follow-ups handed to notice groups (group_notice), and how many of all
    of them have finished."""

    sent: int
    grouped: int
    finished: int

    @property
    def settled(self) -> bool:
        return self.finished == self.sent + self.grouped


def local_activity_type(event: HistoryEvent) -> str | None:
    """The activity type a local activity's marker records (None: another marker). A local
    activity leaves only this marker, written when it has finished."""
    attributes = event.marker_recorded_event_attributes
    if attributes.marker_name != LOCAL_ACTIVITY_MARKER or "data" not in attributes.details:
        return None
    payloads = attributes.details["data"].payloads
    if not payloads:
        return None
    data = json.loads(payloads[0].data)
    kind = data.get("activity_type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def notice_activities(events: Sequence[HistoryEvent], before: datetime) -> NoticeCount:
    """Counted from the activity tasks a run scheduled, and from its local activities'
    markers (a new ticket's assignment notice, engine revision 2)."""
    notices: dict[int, str] = {}
    finished = 0
    for event in events:
        if event.HasField("marker_recorded_event_attributes"):
            kind = local_activity_type(event)
            if kind in NOTICE_ACTIVITIES and event.event_time.ToDatetime(tzinfo=UTC) < before:
                notices[event.event_id] = kind
                finished += 1
        elif event.HasField("activity_task_scheduled_event_attributes"):
            attributes = event.activity_task_scheduled_event_attributes
            if (
                attributes.activity_type.name in NOTICE_ACTIVITIES
                and event.event_time.ToDatetime(tzinfo=UTC) < before
            ):
                notices[event.event_id] = attributes.activity_type.name
        elif event.HasField("activity_task_completed_event_attributes"):
            finished += event.activity_task_completed_event_attributes.scheduled_event_id in notices
        elif event.HasField("activity_task_failed_event_attributes"):
            finished += event.activity_task_failed_event_attributes.scheduled_event_id in notices
        elif event.HasField("activity_task_timed_out_event_attributes"):
            finished += event.activity_task_timed_out_event_attributes.scheduled_event_id in notices
    grouped = sum(1 for name in notices.values() if name == "group_notice")
    return NoticeCount(len(notices) - grouped, grouped, finished)


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
    kind: CallKind = CallKind.COMPLAINT  # a call record until converted
    call_run_id: str | None = None  # the CallWorkflow's run, for a call record
    accepted_minute: int | None = None
    resolved_minutes: list[int] = field(default_factory=list)
    holders: list[str] = field(default_factory=list)  # units it was put in front of
    nth: Counter[str] = field(default_factory=Counter)
    asked: set[tuple[str, int]] = field(default_factory=set)  # requests answered, by fix
    transfer_target: str | None = None  # the unit the last transfer named

    @property
    def is_call_record(self) -> bool:
        return self.kind is not CallKind.COMPLAINT

    def unaccepted(self) -> bool:
        return self.accepted_minute is None

    def runs(self) -> list[str | None]:
        """The ticket's runs: a converted call's CallWorkflow run, then its work order's."""
        if self.call_run_id is not None and not self.is_call_record:
            return [self.call_run_id, self.run_id]
        return [self.run_id]


@dataclass(frozen=True)
class CallFate:
    """What became of one call: `ticket` (a work order of its own), `join` (a ticket
    linked to an open one of the same incident), `call_record` (CallWorkflow), and
    for a second submission of the same number, `duplicate`."""

    fate: str
    ticket_id: str
    created: bool
    link: LinkKind | None = None
    primary_ticket_id: str | None = None


@dataclass(frozen=True)
class EventFate:
    """One alarm message as a device sent it and what the intake made of it. `sent_as`:
    `event` (as it was), `resent` (delivered again), `garbled` (unreadable)."""

    event_id: str
    device_id: str
    minute: int
    status: AlarmStatus
    sent_as: str
    in_window: bool  # a planned work covers the device at that minute
    outcome: str
    ticket_id: str | None
    reason: str | None
    dead_letter_id: int | None


@dataclass
class Ledger:
    """Where every arrival went, and what the people did."""

    calls: int = 0
    events: int = 0
    call_fates: dict[int, list[CallFate]] = field(default_factory=dict)
    event_fates: list[EventFate] = field(default_factory=list)
    event_outcomes: Counter[str] = field(default_factory=Counter)
    refused_actions: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    notices: Counter[str] = field(default_factory=Counter)
    notices_read: Counter[str] = field(default_factory=Counter)  # direct messages, by ticket
    photos: Counter[str] = field(default_factory=Counter)  # bad ones taken, refused
    actions_skipped: Counter[str] = field(default_factory=Counter)  # no longer wanted
    updates: Counter[str] = field(default_factory=Counter)  # the engine took, by update


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
        self.inbox = Inbox(server_time=env.get_current_time)
        self.ledger = Ledger()
        self.tracks: dict[str, TicketTrack] = {}
        self.device_tickets: dict[str, str] = {}
        self._due: list[Due] = []
        self._seq = 0
        self._read = 0
        self._unread: list[Delivered] = []
        self.messages: Counter[str] = Counter()  # run-time fact: messages by kind, as packed
        self.start: datetime = datetime.min
        self.touched = Touch(0, "start")
        self.stall_seconds = stall_seconds
        self.actions_log = actions_log or log
        self.final: dict[str, TicketStatus] = {}
        self.sent: dict[str, NoticeCount] = {}
        self.first = 0  # the window of the day that runs: [first, end)
        self.end = DAY_MINUTES
        self.timers_let_fire = 0  # run-time fact: waits so a timer fires before an action
        self.timers_at_end: dict[str, int] = {}  # timers each ticket's run has still to fire
        self.call_stages: dict[str, Stage] = {}  # a converted call's CallWorkflow stage
        self.held_in_groups = 0
        # Tickets that moved after midnight (read at the end): their history to midnight.
        self.moved: dict[
            str, list[HistoryEntry]
        ] = {}  # follow-ups waiting in a notice group's window at midnight
        self.wall: defaultdict[str, float] = defaultdict(float)  # run-time fact: seconds by part
        # A work order's status read as its timers were let fire, for the action about to
        # act on it (its first status read): cleared after the action.
        self._read_now: dict[str, TicketStatus] = {}
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
        wanted: Callable[[], bool] | None = None,
    ) -> None:
        self._seq += 1
        due = Due(minute, self._seq, act, what, ticket, workflow_id, wanted)
        heapq.heappush(self._due, due)

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

    async def _bounded(self, work: Any, doing: str, *, timed: bool = True) -> Any:
        """`work`, or SimulationStalled after stall_seconds of wall-clock time: a stuck
        server or workflow fails the run loudly instead of hanging it. `timed`: its
        seconds count in `wall` (not for reads made many at once, timed as a whole)."""
        task = asyncio.ensure_future(work)
        started = time.perf_counter()
        done, _ = await asyncio.wait({task}, timeout=self.stall_seconds)
        if timed:
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

    async def _let_timers_fire(
        self, workflow_id: str, run_id: str | None, minute: int, ticket: TicketTrack | None = None
    ) -> TicketStatus | None:
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
        engine's clocks of a minute come before the people's actions of that minute.

        Returns the work order's status as it stands then (None for a call record or a
        device's run): the action's first status read takes it instead of asking again,
        as nothing moves between the two (no timer is due within GUARD)."""
        if self.realtime:
            return None
        end = self.at(minute + 1)
        handle = self.client.get_workflow_handle(workflow_id, run_id=run_id)
        while True:
            status, timers, queried = await self._timers_of(handle, ticket)
            if timers is None:
                return None  # not started yet: nothing to race
            now = await self.env.get_current_time()
            soon = [due for due in timers if due < max(end, now + GUARD)]
            if not soon:
                return status
            self.timers_let_fire += 1
            step = TASK_LAG if queried else GUARD_STEP
            await self.env.sleep(max(max(soon) - now, timedelta(0)) + step)

    async def _timers_of(
        self, handle: WorkflowHandle[Any, Any], ticket: TicketTrack | None
    ) -> tuple[TicketStatus | None, list[datetime] | None, bool]:
        """When each timer the run waits on is due (None: no such run yet), and for a work
        order its status too: one query (`status_and_timers`), where reading the history
        cost a transfer and a parse of every event. A call record (CallWorkflow) has no
        such query: its history is read. The last: whether the instants were queried."""
        if ticket is None or not ticket.is_call_record:
            try:
                answer: StatusAndTimers = await handle.query(
                    TicketWorkflow.status_and_timers, StatusInput(include_history=False)
                )
            except RPCError:
                return None, None, False
            except WorkflowQueryFailedError as failed:
                if "TMPRL1101" not in str(failed):  # a starved replay: read the history
                    raise
            else:
                return (answer.status if ticket is not None else None), answer.timers, True
        try:
            history = await handle.fetch_history()
        except RPCError:
            return None, None, False
        return None, pending_timers(history.events), False

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
            self.inbox.group_notice,
            store.record_ticket,
            store.record_event,
            store.record_events,
            routing.return_ticket,
            routing.transfer_ticket,
            *dispatch.activities(),
            *CallActivities(self.router, self.rules).activities(),
        ]
        engine = self.engine = get_engine(self.database_url)
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
            # The server's clock runs at real pace while the driver reads, so a timer due
            # just after midnight may fire meanwhile: statuses are read first, and the
            # tickets the register shows moving after midnight are read again with their
            # history, which says how they stood at midnight (`at_midnight`).
            started = time.perf_counter()
            self._touch(self.end, "final_statuses")
            self.final = await self._final_statuses()
            self.wall["reading final statuses"] = time.perf_counter() - started
            self._touch(self.end, "notice_audit")
            self.sent = await self._audit_notices()
            self._read_notices(self.end)
            self._touch(self.end, "moved_after_midnight")
            self.moved = await self._moved_after_midnight()

    async def _audit_notices(self) -> dict[str, NoticeCount]:
        """How many notices each ticket's runs scheduled (send_notice and group_notice
        activities in their histories), waiting for any still in flight, then for the
        notice groups' own messages: the other side of "no notice lost". Also, whether each
        run has a timer still to fire (`self.timers_at_end`)."""
        sent: dict[str, NoticeCount] = {}
        before = self.at(self.end)
        for ticket_id in sorted(self.tracks):
            track = self.tracks[ticket_id]
            total = NoticeCount(0, 0, 0)
            for run_id in track.runs():
                handle = self.client.get_workflow_handle(track.workflow_id, run_id=run_id)
                while True:
                    history = await self._bounded(
                        handle.fetch_history(), "counting the notices sent"
                    )
                    count = notice_activities(history.events, before)
                    if count.settled:
                        break
                    await asyncio.sleep(0.05)  # a notice still on its way to the inbox
                if run_id == track.run_id:  # the ticket's own (latest) run
                    self.timers_at_end[ticket_id] = len(pending_timers(history.events))
                total = NoticeCount(
                    total.sent + count.sent,
                    total.grouped + count.grouped,
                    total.finished + count.finished,
                )
            sent[ticket_id] = total
        for workflow_id in self.inbox.group_workflows:
            handle = self.client.get_workflow_handle(workflow_id)
            while True:
                history = await self._bounded(handle.fetch_history(), "counting grouped notices")
                if notice_activities(history.events, before).settled:
                    break
                await asyncio.sleep(0.05)
        return sent

    async def _moved_after_midnight(self) -> dict[str, list[HistoryEntry]]:
        """The history, up to midnight, of each ticket that the register shows changing
        after it."""
        end = self.at(self.end).astimezone(UTC)
        with Session(self.engine) as session:
            moved = sorted(
                set(
                    session.exec(
                        select(TicketEventRow.ticket_id).where(TicketEventRow.at >= end)
                    ).all()
                )
                & set(self.tracks)
            )
        histories: dict[str, list[HistoryEntry]] = {}
        for ticket_id in moved:
            status = await self._bounded(
                self._handle(ticket_id).query(
                    TicketWorkflow.status, StatusInput(include_history=True)
                ),
                "reading histories moved after midnight",
            )
            cut = self.at(self.end)
            histories[ticket_id] = [entry for entry in status.history if entry.at < cut]
        return histories

    async def _final_statuses(self) -> dict[str, TicketStatus]:
        slots = asyncio.Semaphore(16)

        async def one(ticket_id: str) -> TicketStatus:
            async with slots:
                status: TicketStatus = await self._bounded(
                    self.status(ticket_id), "reading final statuses", timed=False
                )
                return status

        ticket_ids = sorted(self.tracks)
        statuses = await asyncio.gather(*(one(ticket_id) for ticket_id in ticket_ids))
        for ticket_id in ticket_ids:  # a converted call: its CallWorkflow run's last word
            track = self.tracks[ticket_id]
            if track.call_run_id is not None and not track.is_call_record:
                handle = self.client.get_workflow_handle_for(
                    CallWorkflow.run, track.workflow_id, run_id=track.call_run_id
                )
                call = await self._bounded(
                    handle.query(CallWorkflow.status, StatusInput(include_history=False)),
                    "reading final statuses",
                    timed=False,
                )
                self.call_stages[ticket_id] = call.stage
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
        people react to the same notices at the same minutes on every run.

        A grouped message is read item by item, each follow-up as a notice of its own, in
        the same order as if each had come alone: whether a follow-up handed to a notice
        group just as its window ends goes out in that batch or alone is a matter of
        milliseconds (the group's timer against the ticket's), but it goes out then either
        way, and people act on it the same."""
        self._unread.extend(self.inbox.delivered[self._read :])
        self._read = len(self.inbox.delivered)
        ready = [d for d in self._unread if self.minute_of(d.sent_at) < minute]
        taken = {id(d) for d in ready}
        self._unread = [d for d in self._unread if id(d) not in taken]
        pile: list[tuple[int, Notice]] = []
        for delivered in ready:
            notice = delivered.notice
            self.messages[notice.kind.value] += 1  # run-time fact: how they were packed
            if notice.group_key is None and not notice.items:
                self.ledger.notices_read[notice.ticket_id] += 1
            pile += [(self.minute_of(delivered.sent_at), one) for one in readings(delivered)]
        for sent, notice in sorted(pile, key=_reading_order):
            self.ledger.notices[notice.kind.value] += 1
            self._on_notice(notice, sent + 1)

    async def _react(self, minute: int) -> None:
        """Read the notices sent before this minute, then do everything due by it."""
        self._read_notices(minute)
        while self._due and self._due[0].minute <= minute:
            due = heapq.heappop(self._due)
            if due.wanted is not None and not due.wanted():
                self.ledger.actions_skipped[due.what] += 1
                continue
            self._touch(minute, due.what, due.ticket, due.workflow_id)
            try:
                target = self._target(due)
                if target is not None:
                    track = self.tracks[due.ticket] if due.ticket is not None else None
                    read = await self._bounded(
                        self._let_timers_fire(*target, minute, track),
                        f"letting timers fire ({due.what})",
                    )
                    if read is not None and due.ticket is not None:
                        self._read_now[due.ticket] = read
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
            finally:
                self._read_now.clear()  # read for this action only

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

    def _intake(self, call: Call, minute: int) -> TicketIntake:
        number = f"{self.load.day:%Y%m%d}-{call.number:05d}"
        return TicketIntake(
            ticket_id=f"SIM-{number}",
            source=Source.HOTLINE,
            text=call.text,
            address=f"上海市浦东新区{call.street.name_zh}",
            lat=call.lat,
            lon=call.lon,
            caller_phone=call.phone,
            received_at=self.at(minute),
            external_id=f"12345-{number}",
        )

    async def _submit(self, call: Call, intake: TicketIntake) -> CallFate:
        """As the API submits what the agent recorded: a complaint with its incident link
        (the register is read), any other kind as a call record."""
        if call.kind is CallKind.COMPLAINT:
            done = await tickets.submit(self.client, intake, self.queue, self.engine)
            joined = done.link in (LinkKind.REPEAT_CALL, LinkKind.KNOWN_FROM_SENSORS)
            return CallFate(
                "join" if joined else "ticket",
                done.ticket_id,
                done.created,
                done.link,
                done.primary_ticket_id,
            )
        details: Consultation | ReferralCall | Suggestion
        if call.kind is CallKind.CONSULTATION:
            details = Consultation(answer="已按政策口径答复来电人")
        elif call.kind is CallKind.REFERRAL:
            assert call.referral is not None
            body, reference = call.referral
            details = ReferralCall(referral=Referral(body=body, reference=reference))
        else:
            details = Suggestion()
        record = CallIntake(intake=intake, details=details, agent=AGENT)
        done = await call_service.submit_call(self.client, record, self.queue)
        return CallFate("call_record", done.ticket_id, done.created)

    async def _call(self, call: Call, minute: int) -> None:
        intake = self._intake(call, minute)
        fate = await self._submit(call, intake)
        self.ledger.calls += 1
        self.ledger.call_fates[call.number] = [fate]
        ticket_id = fate.ticket_id
        track = self.tracks[ticket_id] = TicketTrack(
            ticket_id,
            tickets.workflow_id_for(ticket_id),
            None,
            Source.HOTLINE,
            minute,
            call.street.code,
            call.lat,
            call.lon,
            call.label,
            kind=call.kind,
        )
        if call.kind is not CallKind.COMPLAINT:
            run = await self.client.get_workflow_handle(track.workflow_id).describe()
            track.call_run_id = run.run_id
        if call.resent:  # the hotline's system sends the same number again
            self.schedule(
                minute + 1,
                "resubmit",
                lambda: self._resubmit(call, intake),
                ticket=ticket_id,
            )
        if call.kind is CallKind.CONSULTATION:
            self._after_consultation(call, track, minute)

    async def _resubmit(self, call: Call, intake: TicketIntake) -> None:
        fate = await self._submit(call, intake)
        self.ledger.call_fates[call.number].append(
            CallFate("duplicate", fate.ticket_id, fate.created, fate.link, fate.primary_ticket_id)
        )

    def _after_consultation(self, call: Call, track: TicketTrack, minute: int) -> None:
        """The caller rates the answer at the end of the call; a problem first answered as
        a consultation is converted into a work order when the caller calls back."""
        ticket_id = track.ticket_id
        rating = self.people.rating(ticket_id)
        if rating is not None:

            async def rate() -> None:
                request = RateInput(result=rating, by=AGENT, note="通话结束评价")
                await self._call_update(ticket_id, CallWorkflow.rate, request)

            self.schedule(minute + 1, "rate", rate, ticket=ticket_id)
        if call.converts_after is None or call.label is None:
            return
        label = call.label

        async def convert() -> None:
            request = ConvertInput(by=AGENT, reason="市民再次来电：需要现场处置", scenario_id=label)
            await self._call_update(ticket_id, CallWorkflow.convert, request)
            track.kind = CallKind.COMPLAINT  # a work order now, same number, new run

        self.schedule(minute + call.converts_after, "convert", convert, ticket=ticket_id)

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
        raw = event.model_dump(mode="json")
        sent_as = self.people.device_message(event.event_id) or "event"
        garbled = sent_as == "garbled"
        if garbled:  # a number sent as text: the intake cannot read it
            raw["lat"] = str(raw["lat"])
        await self._deliver(episode, event, raw, minute, "garbled" if garbled else "event")
        if sent_as == "resent":  # at-least-once: the same message a minute later
            self.schedule(
                minute + 1,
                "alarm_resent",
                lambda: self._deliver(episode, event, raw, minute + 1, "resent"),
                workflow_id=episode_workflow(episode),
            )

    async def _deliver(
        self,
        episode: AlarmEpisode,
        event: AlarmEvent,
        raw: dict[str, Any],
        minute: int,
        sent_as: str,
    ) -> None:
        """One message through the intake as MQTT delivers it: read, then delivered, or
        refused into the dead letters."""
        origin = f"cityops/alarms/{event.device_id}"
        [result] = await self.alarms.submit(
            [Incoming(raw, 0, origin)], Channel.MQTT, received_at=self.at(minute)
        )
        self.ledger.events += 1
        self.ledger.event_outcomes[result.outcome.value] += 1
        covered = any(
            work.device_id == event.device_id and work.start <= minute < work.end
            for work in self.load.works
        )
        self.ledger.event_fates.append(
            EventFate(
                event.event_id,
                event.device_id,
                minute,
                event.status,
                sent_as,
                covered and event.status == "firing",
                result.outcome.value,
                result.ticket_id,
                result.reason,
                result.dead_letter_id,
            )
        )
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
                label=device.template.scenario_id,
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
        """The ticket's status: the one read as its timers were let fire for this action,
        if nothing has acted on it since, else a query."""
        read = self._read_now.pop(ticket_id, None)
        if read is not None:
            self.tracks[ticket_id].stage = read.stage
            return read
        return await self.status(ticket_id)

    async def _update(self, ticket_id: str, update: Any, request: Any) -> TicketStatus:
        """Run one of the ticket's updates as the simulated person; a refusal is counted."""
        return await self._execute(self._handle(ticket_id), ticket_id, update, request)

    async def _call_update(self, ticket_id: str, update: Any, request: Any) -> TicketStatus:
        """One of a call record's updates (CallWorkflow: rate, reply, convert)."""
        track = self.tracks[ticket_id]
        handle = self.client.get_workflow_handle_for(
            CallWorkflow.run, track.workflow_id, run_id=track.call_run_id
        )
        return await self._execute(handle, ticket_id, update, request)

    async def _execute(
        self, handle: WorkflowHandle[Any, Any], ticket_id: str, update: Any, request: Any
    ) -> TicketStatus:
        try:
            result: TicketStatus = await handle.execute_update(update, request)
        except WorkflowUpdateFailedError as refused:
            raise Refused(str(refused.cause or refused)) from refused
        except RPCError as finished:  # the ticket's run has ended meanwhile
            raise Refused(str(finished)) from finished
        finally:
            self._read_now.pop(ticket_id, None)  # what it read before no longer stands
        self.ledger.updates[update.__name__] += 1
        self.tracks[ticket_id].stage = result.stage
        return result

    def _refused(self, what: str, ticket_id: str, refused: Refused) -> None:
        self.ledger.refused_actions[what] += 1
        self.actions_log.debug(
            "simulated_action_refused", what=what, ticket=ticket_id, reason=str(refused)
        )

    def _on_notice(self, notice: Notice, minute: int) -> None:
        """A person reads a notice and, when it asks something of them, plans the answer."""
        if not notice.recipients:
            return
        track = self.tracks.get(notice.ticket_id)
        if track is None:
            return
        recipient = notice.recipients[0]
        person = recipient.person_id
        kind = notice.kind
        # A follow-up about a ticket nobody has accepted yet (its stage when it was sent).
        waiting = notice.facts.get("stage") in (Stage.AWAITING_ACCEPT, Stage.ESCALATED)
        if track.is_call_record:
            if kind in REPLY_CHAIN:
                self._on_suggestion(track, person, minute)
            return
        if kind is NoticeKind.TRIAGE_REQUEST:
            self._on_triage_request(track, person, minute)
        elif kind in (NoticeKind.ASSIGNED, NoticeKind.ESCALATED):
            self._on_assigned(track, person, recipient.unit_code, minute)
        elif kind is NoticeKind.RETURNED:
            self._on_returned(track, person, recipient.unit_code, minute)
        elif kind is NoticeKind.URGE and recipient.reader is Reader.SUPERVISOR and waiting:
            self._on_urged(track, person, minute)
        elif kind is NoticeKind.SUPERVISE and recipient.reader is Reader.ASSIGNEE and waiting:
            self._on_supervised(track, person, minute)
        elif kind is NoticeKind.EXTENSION_REQUESTED:
            self._on_extension_request(track, notice, minute)
        elif kind is NoticeKind.REOPENED:
            track.nth["reopen"] += 1
            self._plan_fix(track, person, minute)
        elif kind in VERIFY_REQUESTS:
            self._on_verification_request(notice, track, minute)

    # ------------------------------------------------------------------ triage, dispatch

    def _on_triage_request(self, track: TicketTrack, person: str, minute: int) -> None:
        """The dispatcher told to triage classifies the ticket or dismisses it as no work
        order; a reminder or a climb of the triage chain finds the decision on its way."""
        if track.nth["triage"]:
            return
        track.nth["triage"] += 1
        ticket_id, label = track.ticket_id, track.label

        async def decide() -> None:
            if (await self._status(ticket_id)).stage is not Stage.TRIAGE:
                return
            if label is None:
                request = DismissInput(by=person, reason="咨询类来电，无需派单")
                await self._update(ticket_id, TicketWorkflow.dismiss, request)
            else:
                decision = TriageDecision(scenario_id=label, by=person, note="人工分拨")
                await self._update(ticket_id, TicketWorkflow.classify, decision)

        self.schedule(minute + self.people.triage(ticket_id), "triage", decide, ticket=ticket_id)

    def _on_assigned(self, track: TicketTrack, person: str, unit: str, minute: int) -> None:
        track.holders.append(unit)
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
        if delay is not None:
            self.schedule(
                minute + delay,
                "accept",
                lambda: self._accept(track, person, minute + delay),
                ticket=track.ticket_id,
                wanted=track.unaccepted,
            )

    async def _accept(self, track: TicketTrack, person: str, minute: int) -> None:
        status = await self._status(track.ticket_id)
        if status.assignee_id != person or status.stage not in (
            Stage.AWAITING_ACCEPT,
            Stage.ESCALATED,
        ):
            return  # someone else has it now, or it is already accepted
        await self._update(track.ticket_id, TicketWorkflow.accept, AcceptInput(person_id=person))
        track.priority = status.priority
        track.accepted_minute = minute
        self._after_accept(track, person, minute)

    def _on_returned(self, track: TicketTrack, person: str, unit: str, minute: int) -> None:
        """A ticket put in front of `person` by a return or a transfer. The unit a transfer
        named takes it like an assignment; a dispatcher a return sent it back to hands it
        on (转派) to the unit that should have it, or takes it when there is none."""
        returned_by = track.holders[-1] if track.holders else None
        if track.nth["transferred"] and unit == track.transfer_target:
            self._on_assigned(track, person, unit, minute)
            return
        kind = self.router.directory.unit(unit).kind
        if kind not in (UnitKind.CENTER, UnitKind.SUBCENTER) or returned_by is None:
            self._on_assigned(track, person, unit, minute)
            return
        track.holders.append(unit)
        delay, _ = self.people.transfers(track.ticket_id, person)
        ticket_id = track.ticket_id

        async def hand_on() -> None:
            status = await self._status(ticket_id)
            if status.assignee_id != person or status.stage not in (
                Stage.AWAITING_ACCEPT,
                Stage.ESCALATED,
            ):
                return
            target = self._hand_on_to(unit, returned_by, status, track)
            if target is not None:
                try:
                    await self._transfer(track, person, target, f"{returned_by}退回，转派{target}")
                    return
                except Refused as refused:
                    self._refused("transfer", ticket_id, refused)
            await self._accept(track, person, minute + delay)

        self.schedule(minute + delay, "hand_on", hand_on, ticket=ticket_id, wanted=track.unaccepted)

    def _on_urged(self, track: TicketTrack, person: str, minute: int) -> None:
        """A dispatcher urged about a ticket its unit has not accepted may transfer it to
        the unit that should have it (a department to the street, a street or a station
        to the lead department, a station to another of its street)."""
        if track.nth[f"urged:{person}"]:
            return
        track.nth[f"urged:{person}"] += 1
        delay, moves = self.people.transfers(track.ticket_id, person)
        if not moves:
            return
        ticket_id = track.ticket_id

        async def transfer() -> None:
            status = await self._status(ticket_id)
            if status.assignee_id is None or status.stage not in (
                Stage.AWAITING_ACCEPT,
                Stage.ESCALATED,
            ):
                return
            current = self.router.directory.person(status.assignee_id).unit_code
            target = self._better_unit(current, status, track)
            if target is not None:
                await self._transfer(track, person, target, f"{current}未签收，转派{target}")

        self.schedule(
            minute + delay, "transfer", transfer, ticket=ticket_id, wanted=track.unaccepted
        )

    def _on_supervised(self, track: TicketTrack, person: str, minute: int) -> None:
        """督办 works: an assignee supervised about a ticket they have not accepted (the top
        of the chain, pressed) accepts it, whatever they would have done otherwise."""
        if track.nth[f"supervised:{person}"]:
            return
        track.nth[f"supervised:{person}"] += 1
        delay = self.people.triage(f"{track.ticket_id}/supervised/{person}")
        self.schedule(
            minute + delay,
            "accept_supervised",
            lambda: self._accept(track, person, minute + delay),
            ticket=track.ticket_id,
            wanted=track.unaccepted,
        )

    async def _transfer(self, track: TicketTrack, by: str, target: str, reason: str) -> None:
        track.nth["transferred"] += 1
        track.transfer_target = target
        request = TransferInput(by=by, target_unit=target, reason=reason)
        await self._update(track.ticket_id, TicketWorkflow.transfer, request)

    def _better_unit(self, current: str, status: TicketStatus, track: TicketTrack) -> str | None:
        """Where a ticket the unit `current` does not take should go."""
        directory = self.router.directory
        street = status.street_code or track.street_code
        lead = self.rules.rule(status.scenario_id).lead_department if status.scenario_id else None
        kind = directory.unit(current).kind
        if kind is UnitKind.STATION:
            return self._another_station(directory.street_of(current), current, track)
        if kind is UnitKind.SUBCENTER and lead and directory.has_unit(lead) and lead != current:
            return lead
        if kind in (UnitKind.DEPARTMENT, UnitKind.CENTER) and street and directory.has_unit(street):
            return street if street != current else None
        return None

    def _hand_on_to(
        self, holder: str, returned_by: str, status: TicketStatus, track: TicketTrack
    ) -> str | None:
        """A dispatcher who got a ticket back: a street hands it to another of its work
        stations; the district center to the unit that should have had it."""
        directory = self.router.directory
        if directory.unit(holder).kind is UnitKind.SUBCENTER:
            return self._another_station(directory.unit(holder), returned_by, track)
        target = self._better_unit(returned_by, status, track)
        return target if target != holder else None

    def _another_station(self, street: Any, besides: str, track: TicketTrack) -> str | None:
        if street is None:
            return None
        stations = sorted(u.code for u in self.router.directory.stations_of(street.code))
        others = [code for code in stations if code != besides]
        if not others:
            return None
        return others[self.people.pick(track.ticket_id, besides, len(others))]

    # ------------------------------------------------------------------ the work

    def _after_accept(self, track: TicketTrack, person: str, minute: int) -> None:
        """Once accepted: the first contact with the citizen (a hotline ticket), perhaps a
        pause of the resolve clock (挂起), perhaps a request for more time, the fix."""
        ticket_id = track.ticket_id
        if track.source is Source.HOTLINE and not track.nth["contact"]:
            track.nth["contact"] += 1

            async def contact() -> None:
                status = await self._status(ticket_id)
                if status.contacted_at is not None or status.stage not in BEING_WORKED:
                    return
                request = ContactInput(person_id=person, note="已电话联系来电人")
                await self._update(ticket_id, TicketWorkflow.contact_citizen, request)

            delay = self.people.contact_delay(ticket_id, 0)
            self.schedule(minute + delay, "contact_citizen", contact, ticket=ticket_id)
        pause = self.people.pause(ticket_id)
        held = 0
        if pause is not None and not track.nth["pause"]:
            track.nth["pause"] += 1
            after, held = pause

            async def stop() -> None:
                status = await self._status(ticket_id)
                if status.paused or status.stage not in BEING_WORKED:
                    return
                request = PauseInput(person_id=person, reason="市民不在家，等待预约上门")
                await self._update(ticket_id, TicketWorkflow.pause_clock, request)

            async def restart() -> None:
                if not (await self._status(ticket_id)).paused:
                    return
                request = ResumeInput(person_id=person, note="已与市民约定时间，继续处置")
                await self._update(ticket_id, TicketWorkflow.resume_clock, request)

            self.schedule(minute + after, "pause_clock", stop, ticket=ticket_id)
            self.schedule(minute + after + held, "resume_clock", restart, ticket=ticket_id)
            held += after
        self._plan_fix(track, person, minute, held)

    def _plan_fix(self, track: TicketTrack, person: str, minute: int, held: int = 0) -> None:
        nth = len(track.resolved_minutes)
        ticket_id = track.ticket_id
        work = max(self.people.work_minutes(ticket_id, track.priority, nth), held + 5)
        if nth == 0 and self.people.asks_extension(ticket_id):

            async def extend() -> None:
                status = await self._status(ticket_id)
                if status.resolve_deadline is None or status.stage is not Stage.ACCEPTED:
                    return
                await self._update(
                    ticket_id,
                    TicketWorkflow.request_extension,
                    ExtensionRequest(
                        person_id=person,
                        new_deadline=status.resolve_deadline + timedelta(days=1),
                        reason="需协调其他部门",
                    ),
                )

            self.schedule(minute + 30, "request_extension", extend, ticket=ticket_id)
        self.schedule(
            minute + work,
            "resolve",
            lambda: self._resolve(track, person, minute + work, nth, first_try=True),
            ticket=ticket_id,
        )

    async def _resolve(
        self, track: TicketTrack, person: str, done: int, nth: int, *, first_try: bool
    ) -> None:
        """The fix is done: resolved with an after-photo taken at the place. A photo the
        closure rules refuse (too far from the place, taken before the dispatch) is taken
        again at the place."""
        ticket_id = track.ticket_id
        status = await self._status(ticket_id)
        if status.stage not in BEING_WORKED:
            return
        bad = None
        if first_try and self.check_of(track, status) is ClosureCheck.PHOTO_REVIEW:
            bad = self.people.bad_photo(ticket_id, nth)
        photo = self._photo(track, done, nth, bad)
        request = ResolveInput(person_id=person, note="已处置", photo=photo)
        if bad is not None:
            self.ledger.photos[f"bad_{bad}"] += 1
            try:
                await self._update(ticket_id, TicketWorkflow.resolve, request)
            except Refused as refused:
                self.ledger.photos["refused"] += 1
                self._refused("resolve_bad_photo", ticket_id, refused)
                retake = done + self.people.triage(f"{ticket_id}/photo/{nth}")
                self.schedule(
                    retake,
                    "resolve",
                    lambda: self._resolve(track, person, retake, nth, first_try=False),
                    ticket=ticket_id,
                )
                return
            self.ledger.photos["accepted_bad"] += 1
        else:
            await self._update(ticket_id, TicketWorkflow.resolve, request)
        track.resolved_minutes.append(done)
        self._plan_verification(track, status, done)

    def _photo(self, track: TicketTrack, done: int, nth: int, bad: str | None) -> AfterPhoto | None:
        if track.lat is None or track.lon is None:
            return None
        taken = self.at(done)
        lat = track.lat
        if bad == "far":  # at the office, about 2 km away
            lat = round(lat + 0.02, 6)
        elif bad == "old":  # last week's photo of the place
            taken = self.at(track.received_minute) - timedelta(days=7)
        return AfterPhoto(
            url=f"https://photos.sim/{track.ticket_id}/{nth}{'-' + bad if bad else ''}.jpg",
            taken_at=taken,
            lat=lat,
            lon=track.lon,
        )

    def check_of(self, track: TicketTrack, status: TicketStatus) -> ClosureCheck | None:
        """The closure check the engine uses: the scenario's, unless the ticket lacks its
        evidence source (workflows/verification.effective_check)."""
        if status.scenario_id is None:
            return None
        check = self.rules.rule(status.scenario_id).closure_check
        episode = track.device_episode
        video = episode is not None and episode.device.template.sensor_type == "video_ai"
        if check is ClosureCheck.SENSOR_RECOVERY and (episode is None or video):
            return (
                ClosureCheck.CALLBACK
                if track.source is Source.HOTLINE
                else ClosureCheck.PHOTO_REVIEW
            )
        if check is ClosureCheck.VIDEO_RECHECK and not video:
            return ClosureCheck.PHOTO_REVIEW
        return check

    def _plan_verification(self, track: TicketTrack, status: TicketStatus, minute: int) -> None:
        """A callback, a photo review or a camera's recheck is asked for by a notice (see
        _on_verification_request); a device reports by itself after the fix."""
        if track.device_episode is None or self.check_of(track, status) is not (
            ClosureCheck.SENSOR_RECOVERY
        ):
            return
        episode = track.device_episode
        nth = len(track.resolved_minutes)
        delay, refires = self.people.sensor_after_fix(episode.device.device_id, nth)
        status_after: AlarmStatus = "firing" if refires else "resolved"
        self.schedule(
            minute + delay,
            f"sensor_{status_after}",
            self._event_sender(episode, minute + delay, status_after, 100 + nth),
            workflow_id=episode_workflow(episode),
        )

    def _on_extension_request(self, track: TicketTrack, notice: Notice, minute: int) -> None:
        ticket_id = track.ticket_id
        delay, approve = self.people.decides_extension(ticket_id)
        decide = self._by_one_of(
            [r.person_id for r in notice.recipients],
            ticket_id,
            TicketWorkflow.decide_extension,
            lambda by: ExtensionDecision(by=by, approve=approve, note="模拟审批"),
        )
        self.schedule(minute + delay, "decide_extension", decide, ticket=ticket_id)

    def _on_verification_request(self, notice: Notice, track: TicketTrack, minute: int) -> None:
        """The hotline calls the citizen back, a dispatcher reviews the photo, the camera
        side re-detects: once per fix, whoever is asked first (a reminder or a climb of
        the verify chain finds the answer on its way)."""
        ticket_id = track.ticket_id
        nth = len(track.resolved_minutes)
        asked = (notice.kind.value, nth)
        if asked in track.asked:
            return
        track.asked.add(asked)
        people = [r.person_id for r in notice.recipients]
        if notice.kind is NoticeKind.CALLBACK_REQUEST:
            delay, result = self.people.callback(ticket_id, nth)
            callback = self._by_one_of(
                people,
                ticket_id,
                TicketWorkflow.callback,
                lambda by: CallbackInput(result=result, by=by, note="回访"),
            )
            self.schedule(minute + delay, "callback", callback, ticket=ticket_id)
        elif notice.kind is NoticeKind.RECHECK_REQUEST:
            delay, still_there = self.people.recheck(ticket_id, nth)

            async def recheck() -> None:
                request = RecheckInput(
                    still_detected=still_there, checked_at=self.at(minute + delay)
                )
                await self._update(ticket_id, TicketWorkflow.recheck, request)

            self.schedule(minute + delay, "recheck", recheck, ticket=ticket_id)
        else:
            delay, approved = self.people.review(ticket_id, nth)
            decision = ReviewDecision.APPROVED if approved else ReviewDecision.REJECTED
            review = self._by_one_of(
                people,
                ticket_id,
                TicketWorkflow.review,
                lambda by: ReviewInput(decision=decision, by=by),
            )
            self.schedule(minute + delay, "review", review, ticket=ticket_id)

    # ------------------------------------------------------------------ call records

    def _on_suggestion(self, track: TicketTrack, person: str, minute: int) -> None:
        """A suggestion in a department's inbox (or a reminder, escalation or supervision
        of its reply): the person replies after a while, unless someone has already."""
        if track.nth[f"reply:{person}"]:
            return
        track.nth[f"reply:{person}"] += 1
        ticket_id = track.ticket_id

        async def reply() -> None:
            if (await self._status(ticket_id)).stage is not Stage.RECORDED:
                return
            request = ReplyInput(by=person, reply="感谢您的来电和建议，已转相关科室研究办理。")
            await self._call_update(ticket_id, CallWorkflow.reply, request)

        delay = self.people.reply_delay(ticket_id, person)
        self.schedule(minute + delay, "reply", reply, ticket=ticket_id)

    def _by_one_of(
        self,
        people: list[str],
        ticket_id: str,
        update: Any,
        request: Callable[[str], Any],
    ) -> Callable[[], Awaitable[None]]:
        """An update one of `people` makes: the first the engine lets act."""

        async def act() -> None:
            await self._as_one_of(people, lambda by: self._update(ticket_id, update, request(by)))

        return act

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
