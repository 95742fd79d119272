"""TicketWorkflow: one complaint or alarm, from intake to verified closure.

Read `run` top to bottom: it is the life of a work order, one method per stage below it.
Every human action is an update with a validator further down, then the alarm signal and
the status query, then the clocks and chain walk, then the bookkeeping every stage shares.
The ticket's state is a few small objects, each in its own module and tested without
Temporal:

    clock.py          SlaClock: one per SLA clock (budget, deadline, pauses, chain position)
    ownership.py      Ownership: route, assignee, the people above, returns, escalations
    verification.py   Verification: the closure check's evidence and what it says
    history.py        TicketHistory: the log a supervisor reads
    alarm_stream.py   AlarmStream: the device's events, each counted once

Everything that touches the world (rules, the organisation, people, the database) is an
activity, called through its definition; this module only decides, waits and remembers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from cityops.activities.dispatch import DispatchActivities
    from cityops.activities.grouping import NoticeGroupActivities
    from cityops.activities.notify import NotifyActivities
    from cityops.activities.route import RoutingActivities
    from cityops.activities.store import StoreActivities
    from cityops.domain import limits
    from cityops.domain.alarms import alarm_intake
    from cityops.domain.incidents import (
        IncidentJoined,
        PrimaryClosed,
        RepeatCall,
        StepUpRequest,
    )
    from cityops.domain.masking import mask_phone, redact_facts
    from cityops.domain.models import (
        CAMERA_DESK_ID,
        ENGINE_REVISION,
        HOTLINE_DESK_ID,
        AcceptInput,
        AlarmEvent,
        Assignment,
        CallbackInput,
        Classification,
        ContactInput,
        DeadlinesRequest,
        DeadlinesResult,
        DismissInput,
        DispatchPlan,
        DistrictSupervisor,
        ExtensionDecision,
        ExtensionRequest,
        NewTicketPlan,
        NewTicketRequest,
        NextWorkingDayRequest,
        Notice,
        NoticeReceipt,
        NoticeUndelivered,
        PauseInput,
        PlanRequest,
        RecheckInput,
        Recipient,
        ReconsiderationDecision,
        ReconsiderationRequest,
        ResolveInput,
        ResumeInput,
        ReturnInput,
        ReturnRequest,
        ReviewInput,
        RoutePlan,
        RuleClosureInput,
        SplitInput,
        SplitOutcome,
        SplitRecord,
        StatusAndTimers,
        StatusInput,
        SupervisorRequest,
        TicketIntake,
        TicketOutcome,
        TicketRecord,
        TicketStatus,
        TransferInput,
        TransferRequest,
        TriageDecision,
        TriageRequest,
        UrgeInput,
    )
    from cityops.domain.register import RegisterEvent, event_key
    from cityops.domain.stages import (
        Clock,
        ClosureCheck,
        NoticeKind,
        Priority,
        Reader,
        RecoveryPolicy,
        Source,
        Stage,
        StepKind,
        Tier,
    )
    from cityops.domain.zones import shown

from cityops.workflows import search_attributes as sa
from cityops.workflows.alarm_stream import AlarmStream, Seen
from cityops.workflows.clock import SlaClock
from cityops.workflows.details import render_details
from cityops.workflows.escalation import ChainPoint, ClockMark, chain_points
from cityops.workflows.history import TicketHistory
from cityops.workflows.incident_link import IncidentLinks
from cityops.workflows.ladder import PRESSES_AT_TOP, Ladder
from cityops.workflows.ownership import Ownership, describe
from cityops.workflows.split import (
    SPLIT_EVENT,
    SPLIT_FROM_EVENT,
    check_split,
    split_detail,
    split_record,
)
from cityops.workflows.stall import Stall
from cityops.workflows.verification import (
    Verification,
    distance_m,
    effective_check,
    place_of,
)

LOCAL_TIMEOUT = timedelta(seconds=10)
NOTIFY_TIMEOUT = timedelta(seconds=60)
# The notifier returns failures from attempt 5 on, so it needs at least 5 attempts.
NOTIFY_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=20)
# A new ticket's assignment notice as a local activity (engine revision 2): one attempt,
# well inside the workflow task's 10 s, then an activity as usual (`_send_notice`).
LOCAL_NOTICE_TIMEOUT = timedelta(seconds=5)
LOCAL_NOTICE_RETRY = RetryPolicy(maximum_attempts=1)
RECORD_TIMEOUT = timedelta(seconds=30)
ROUTE_TIMEOUT = timedelta(seconds=30)
ROUTE_RETRY = RetryPolicy(maximum_attempts=5)
HOTLINE_DESK = Recipient(
    person_id=HOTLINE_DESK_ID, name="12345热线回访", unit_code="HOTLINE", tier=Tier.DISTRICT
)
# The desks outside the organisation, as ladder rungs: the hotline calls back, the video
# platform re-detects. Channels for both are configured for the deployment.
HOTLINE = Assignment(
    tier=Tier.DISTRICT,
    unit_code="HOTLINE",
    unit_name="12345市民服务热线",
    person_id=HOTLINE_DESK_ID,
    person_name="12345热线回访",
)
CAMERA_DESK = Assignment(
    tier=Tier.DISTRICT,
    unit_code="VIDEO",
    unit_name="视频智能分析平台",
    person_id=CAMERA_DESK_ID,
    person_name="视频复核",
)
# Tickets started before the change that gave every waiting stage a clock, an owner and a
# way up (triage and verification clocks, chains at every tier, binding rulings, sensor
# recovery policies, grouped and per-reader notices, clocks from the intake instant) run
# the way they started: the patch is taken once, first thing in `run`.
NO_DEAD_ENDS = "no-dead-ends"
# Tickets started since incidents were wired into the workflow (docs/incidents.md): a repeat
# call waits on its primary and closes with it; the primary hears of repeat calls (notice,
# step-up); a late incident link regroups its notices. Asked in `run` before anything else
# issues a command, so older tickets (a repeat call among them) run the way they started.
INCIDENT_LINKS = "incident-links"
# A repeat call waiting on its primary asks every PRIMARY_CHECK whether the primary is still
# open (a duplicate repeat call counts once): a primary terminated by hand, or one that
# could not tell its callers, leaves no caller waiting for ever.
PRIMARY_WATCH = "primary-watch"
PRIMARY_CHECK = timedelta(hours=6)
# Tickets started since a sensor's recovery waits on the verify clock with an owner and a
# ladder, and a chain that pressed its top in vain stalls into daily 督办 by the district
# center's duty supervisor (workflows/stall.py): taken once, first thing in `run`.
EVERY_WAIT_OWNED = "every-wait-owned"
# An extension a district-tier unit asks for goes to the district center's duty supervisor
# (nobody is above it by tier): asked first thing in `request_extension`, so a ticket in
# flight takes it at its next request.
EXTENSION_DECIDER = "extension-decider"
# Tickets started after this change keep a bounded state: a history row's detail is cut
# at 2,000 characters (marked), and a status shows the first 20 and last 80 rows of the
# history (the register keeps every row), so no number of notes can grow an update's
# answer past Temporal's payload limit. Taken with the first history row.
BOUNDED_STATE = "bounded-state"
# Tickets started since a new ticket reaches its first notice with one local activity
# instead of three (classify, plan the dispatch and the accept clock's instants:
# plan_new_ticket) and writes the register's entries of a workflow task in one batch
# (record_events). It is asked first of all and implies NO_DEAD_ENDS, INCIDENT_LINKS,
# PRIMARY_WATCH and EVERY_WAIT_OWNED: a new ticket records one patch marker (and one
# TemporalChangeVersion upsert, which the SDK adds to each) instead of four. Tickets in
# flight answer no to it and ask the others as they did.
PLAN_AT_INTAKE = "plan-at-intake"
# A pause ends by a stated time (PauseInput.until, else the plan's pause_within): the
# assignee is reminded before it; at it, unless resumed or extended, the resolve clock runs
# again, the assignee is told and the one above hears. Asked first thing in `pause_clock`,
# so a ticket in flight takes it at its next pause; an older pause stays open-ended.
PAUSE_DEADLINE = "pause-deadline"
# A sensor check whose hold runs (the device reported normal, it must stay so) shows the
# hold's end as the verify deadline, also when the device was normal before the fix was
# reported and no verify clock started. Asked first thing in `resolve` of a sensor ticket.
SENSOR_HOLD_SHOWN = "sensor-hold-shown"
# A district-tier assignee's extension goes to someone other than the asker who may decide
# it: when the duty supervisor the organisation names is the asker (no supervisor at the
# center, so its duty leader, who holds the ticket), the next one up (the director). Asked
# first thing in `request_extension` (after EXTENSION_DECIDER), so a ticket in flight
# takes it at its next request. Made after revision 1: every ticket asks it.
EXTENSION_NOT_ASKER = "extension-not-asker"
# The resolve wait stalls like every other wait: once its chain's last step (the default
# chain's third urge, at 250 %) has passed and the deadline too, with nothing resolved, the
# district center's duty supervisor is told at once and every day (督办) until the fix is
# reported, a ruling closes it or the clock restarts. Before, the walk then waited with no
# timer: nobody heard again. Asked where the walk reaches that end. Made after revision 1.
RESOLVE_STALLS = "resolve-stalls"
# The changes a ticket started on engine revision 1 (ENGINE_REVISION, carried in its input)
# has built in: it asks none of them. A change made later is not in this set: every ticket
# asks it with workflow.patched, as before revisions.
BUILT_INTO_REVISION_1 = frozenset(
    {
        "first-contact-clock",
        "record-as-local-activity",
        "one-upsert-at-dispatch",
        "chain-instants-at-clock-start",
        "register-events",
        NO_DEAD_ENDS,
        INCIDENT_LINKS,
        PRIMARY_WATCH,
        EVERY_WAIT_OWNED,
        EXTENSION_DECIDER,
        BOUNDED_STATE,
        PLAN_AT_INTAKE,
        PAUSE_DEADLINE,
        SENSOR_HOLD_SHOWN,
    }
)
# From engine revision 2 a ticket sends its assignment notice as a local activity, in the
# workflow task that dispatches it: no activity task through the server (three history
# events) and no second workflow task before the accept clock's timer. The notifier looks
# its delivery log up on every local attempt (a worker that dies mid-task runs it again as
# attempt 1). Follow-ups stay activities: they may wait on channels that are down.
LOCAL_ASSIGNMENT_NOTICE = 2
# The alarm signal's name, for signal-with-start (which takes a name): the handler below is
# declared with it, so the intake and the workflow cannot disagree.
ALARM_EVENT_SIGNAL = "alarm_event"
_WAITING_FOR_ACCEPT = (Stage.AWAITING_ACCEPT, Stage.ESCALATED)
_BEING_WORKED = (Stage.ACCEPTED, Stage.REOPENED)


@workflow.defn(name="TicketWorkflow")
class TicketWorkflow:
    @workflow.init
    def __init__(self, intake: TicketIntake) -> None:
        self._intake = intake
        self._v2: bool | None = None  # the NO_DEAD_ENDS patch, taken first thing in `run`
        self._v3: bool | None = None  # the EVERY_WAIT_OWNED patch, taken right after it
        self._v4: bool | None = None  # the BOUNDED_STATE patch, taken with the first note
        self._fresh = False  # the PLAN_AT_INTAKE patch, asked before all, implies them all
        self._planned: NewTicketPlan | None = None  # plan_new_ticket's answer, until dispatch
        self._lock = asyncio.Lock()  # handlers that await, and chain steps that re-assign
        self._stage = Stage.INTAKE
        self._classification: Classification | None = None
        self._plan: DispatchPlan | None = None
        self._owner = Ownership()
        self._clocks: dict[Clock, SlaClock] = {}  # triage from triage, the rest from dispatch
        # Per clock: the last day the calendar is confirmed for, when its deadline is later.
        self._unconfirmed: dict[Clock, date] = {}
        self._sla_colour = "green"
        self._overdue = False
        self._contacted_at: datetime | None = None
        self._extensions = 0
        self._pending_extension: ExtensionRequest | None = None
        self._reconsideration: ReconsiderationRequest | None = None
        self._triage: Ladder | None = None  # who triages, and who is above them
        self._waiting_on: Ladder | None = None  # who the closure check's evidence waits for
        self._check = Verification()
        self._alarms = AlarmStream()
        self._chase_stopped = False  # a sensor reports normal: no reminders, urging, escalation
        self._recovered = False  # ... and stayed normal for the hold: closed as recovered
        self._history = TicketHistory()
        self._stall = Stall()  # a wait whose chain pressed its top in vain
        self._ruling: RuleClosureInput | None = None
        self._dismissal: DismissInput | None = None
        self._split: SplitRecord | None = None  # the secondary issue became this ticket
        self._background: list[asyncio.Task[None]] = []  # watches that end with the ticket
        self._notice_seq = 0
        self._registered = 0  # history entries handed to the register so far
        self._register_writes: list[asyncio.Task[Any]] = []
        self._links = IncidentLinks.of(intake)  # its incidents, repeat calls, its primary
        self._links_on: bool | None = None  # the INCIDENT_LINKS patch, taken first in `run`
        self._watch_primary = False  # the PRIMARY_WATCH patch, taken first in `run`
        self._register_batch: list[RegisterEvent] = []  # PLAN_AT_INTAKE: not yet written
        self._hold_register = False  # classified, dispatched in this task: one batch for both
        self._hold_shown = False  # the SENSOR_HOLD_SHOWN patch, asked in `resolve`
        # The timers the ticket's waits run now, by a serial, and when each is due (state
        # only, no command: the `status_and_timers` query answers it).
        self._timers: dict[int, datetime] = {}
        self._timer_seq = 0

    def _patched(self, patch: str) -> bool:
        """Whether this ticket runs with a change: built into a ticket started on engine
        revision 1 or later (no marker, no TemporalChangeVersion upsert) when the change
        is one of revision 1's; asked of Temporal otherwise (an older ticket, or a change
        made after revision 1, which even a revision-1 ticket in flight must ask)."""
        if patch in BUILT_INTO_REVISION_1 and self._intake.engine >= 1:
            return True
        return workflow.patched(patch)

    def _new(self) -> bool:
        """Whether this ticket runs with every stage on a clock (the NO_DEAD_ENDS patch,
        or PLAN_AT_INTAKE, which implies it)."""
        if self._v2 is None:
            self._fresh = self._patched(PLAN_AT_INTAKE)
            self._v2 = True if self._fresh else self._patched(NO_DEAD_ENDS)
        return self._v2

    def _bounded(self) -> bool:
        """Whether this ticket keeps a bounded history (the BOUNDED_STATE patch)."""
        if self._v4 is None:
            self._v4 = self._patched(BOUNDED_STATE)
            self._history.bounded = self._v4
        return self._v4

    def _plans_at_intake(self) -> bool:
        """Whether this ticket plans at intake and batches its register writes."""
        return self._new() and self._fresh

    def _owned(self) -> bool:
        """Whether every wait keeps an owner who is told past the top of its chain, the
        sensor's recovery included (the EVERY_WAIT_OWNED patch, or PLAN_AT_INTAKE)."""
        if self._v3 is None:
            self._v3 = self._new() and (self._fresh or self._patched(EVERY_WAIT_OWNED))
        return self._v3

    def _since(self, patch: str) -> bool:
        """An earlier change: every ticket started with NO_DEAD_ENDS has it, without asking
        again. (Asking right after a local activity is fragile: a replay may see the marker
        in the next workflow task, where the call no longer is.) Older tickets ask, as they
        did."""
        return True if self._new() else self._patched(patch)

    # ================================================================== the stages

    @workflow.run
    async def run(self, intake: TicketIntake) -> TicketOutcome:
        if intake.engine > ENGINE_REVISION:
            # Not an ApplicationError: the workflow task fails and is retried until a worker
            # that knows this revision takes it; an older worker never runs it its own way.
            raise RuntimeError(
                f"ticket {intake.ticket_id} started on engine revision {intake.engine}; this "
                f"worker knows up to {ENGINE_REVISION}: deploy workers before the intake"
            )
        received = min(intake.received_at, workflow.now()) if self._new() else None
        self._links_on = self._fresh or self._patched(INCIDENT_LINKS)
        self._watch_primary = self._links_on and (self._fresh or self._patched(PRIMARY_WATCH))
        self._owned()  # before any command, like NO_DEAD_ENDS
        self._note(Stage.INTAKE, "received", detail=intake.source.value, at=received)
        if intake.split_from is not None:  # a note, not a command: replays unchanged
            self._note(Stage.INTAKE, SPLIT_FROM_EVENT, detail=f"ticket {intake.split_from}")
        if intake.alarm is not None:
            self._take_alarm_event(intake.alarm)
        self._classification = await self._classify()
        if self._classification.needs_triage:
            await self._await_triage()
            if self._dismissal is not None:
                return await self._close()
        if self._links_on and self._links.waits_on_primary(intake) and await self._join_primary():
            return await self._close()
        await self._dispatch()
        await self._await_acceptance()
        while not self._recovered and not await self._work_and_verify():
            if self._ruling is not None or self._recovered:
                break
            await self._reopen()
        outcome = await self._close()
        if self._alarms.next_firing is not None:
            # Same workflow id, new run, new ticket number: as if intake had started it.
            workflow.continue_as_new(alarm_intake(self._alarms.next_firing, workflow.now()))
        return outcome

    async def _classify(self) -> Classification:
        if self._plans_at_intake():
            self._planned = await workflow.execute_local_activity_method(
                DispatchActivities.plan_new_ticket,
                NewTicketRequest(
                    intake=self._intake, at=workflow.now(), accept_start=self._received_at()
                ),
                summary="classify by the rules; route, SLA, chain and accept clock",
                start_to_close_timeout=LOCAL_TIMEOUT,
            )
            classification = self._planned.classification
            # Dispatch follows in this workflow task (unless it triages or waits on a
            # primary): the received, classified and dispatched entries go in one batch.
            self._hold_register = not classification.needs_triage and not (
                self._links_on and self._links.waits_on_primary(self._intake)
            )
        else:
            classification = await workflow.execute_local_activity_method(
                DispatchActivities.classify_ticket,
                self._intake,
                summary="classify the ticket by the rules",
                start_to_close_timeout=LOCAL_TIMEOUT,
            )
        if classification.needs_triage and self._new():
            # Published once its owner and clock are known (_await_triage).
            self._stage = Stage.TRIAGE
            self._note(Stage.TRIAGE, "needs_triage", detail=classification.reason)
        elif classification.needs_triage:
            self._set_stage(Stage.TRIAGE, "needs_triage", detail=classification.reason)
        elif self._since("one-upsert-at-dispatch"):
            # Dispatch follows at once and publishes the stage: one visibility write, not two.
            self._stage = Stage.CLASSIFIED
            self._note(
                Stage.CLASSIFIED, "classified", detail=explain_classification(classification)
            )
        else:
            self._set_stage(
                Stage.CLASSIFIED, "classified", detail=explain_classification(classification)
            )
        return classification

    async def _await_triage(self) -> None:
        """A district dispatcher classifies it by the `classify` update, or dismisses it as no
        work order with a reason (`dismiss`); nothing is dropped silently. The center's
        dispatcher on duty owns it, on the triage clock, with its duty leader and director
        above."""

        def triaged() -> bool:
            return self._dismissal is not None or (
                self._classification is not None and not self._classification.needs_triage
            )

        if not self._new():
            await workflow.wait_condition(triaged)
            return
        plan = await workflow.execute_local_activity_method(
            DispatchActivities.plan_triage,
            TriageRequest(intake=self._intake, at=workflow.now()),
            summary="who triages it: the district center's dispatcher on duty",
            start_to_close_timeout=LOCAL_TIMEOUT,
        )
        route = plan.route
        self._triage = Ladder([route.assignee, *route.escalation_path, *route.leaders])
        clock = self._clocks[Clock.TRIAGE] = SlaClock(
            Clock.TRIAGE, chain_points(plan.escalation, Clock.TRIAGE)
        )
        clock.restart(self._received_at(), plan.within, plan.working_time)
        clock.started(await self._instants(clock, clock.start_fractions()))
        self._set_stage(Stage.TRIAGE, "triage_assigned", detail=describe(self._triage.holder))
        await self._notify(NoticeKind.TRIAGE_REQUEST, [self._triage.holder])
        await self._record("triage")
        await self._follow_chain(Clock.TRIAGE, done=triaged)

    async def _dispatch(self) -> None:
        assert self._classification is not None
        triaged = Clock.TRIAGE in self._clocks
        planned, self._planned = self._planned, None
        if planned is not None and planned.plan is not None and not triaged:
            self._plan = plan = planned.plan  # planned with the classification
        else:
            planned = None
            self._plan = plan = await workflow.execute_local_activity_method(
                DispatchActivities.plan_dispatch,
                PlanRequest(
                    intake=self._intake, classification=self._classification, at=workflow.now()
                ),
                summary="route to a unit and person; snapshot SLA and escalation chain",
                start_to_close_timeout=LOCAL_TIMEOUT,
            )
        for clock in (Clock.ACCEPT, Clock.CONTACT, Clock.RESOLVE, Clock.VERIFY):
            self._clocks[clock] = SlaClock(clock, chain_points(plan.escalation, clock))
        self._owner.take_route(plan.route)
        self._owner.whole_ladder = self._new()
        assignee = plan.route.assignee
        self._owner.dispatched_at = workflow.now()
        # The accept clock runs from when the ticket came in (a triaged one: from triage).
        start = self._received_at() if self._new() and not triaged else None
        await self._start_clock(Clock.ACCEPT, start=start, planned=planned)
        self._hold_register = False
        self._set_stage(Stage.AWAITING_ACCEPT, "dispatched", detail=describe(assignee))
        inline = self._intake.engine >= LOCAL_ASSIGNMENT_NOTICE
        await self._notify(NoticeKind.ASSIGNED, [assignee], inline=inline)
        if plan.route.co_handlers:
            await self._notify(
                NoticeKind.CO_HANDLING, plan.route.co_handlers, reader=Reader.CO_HANDLER
            )
        if self._new() and self._watches_recovery():
            self._background.append(asyncio.create_task(self._watch_recovery()))
        await self._record("dispatched")

    async def _await_acceptance(self) -> None:
        # Done once `accept` has the resolve clock's deadline (it computes it in the update).
        await self._follow_chain(
            Clock.ACCEPT, done=lambda: self._clocks[Clock.RESOLVE].started_at_all
        )

    async def _work_and_verify(self) -> bool:
        """Wait for the fix, then prove it. True when proven (or ruled closed)."""
        await self._follow_chain(Clock.RESOLVE, done=lambda: self._check.resolution is not None)
        if self._ruling is not None or self._recovered:
            return True
        check = self._closure_check()
        self._set_stage(Stage.VERIFYING, "verifying", detail=check.value)
        if check is ClosureCheck.CALLBACK:
            return await self._verify_by_callback()
        if check is ClosureCheck.PHOTO_REVIEW:
            return await self._verify_by_photo_review()
        if check is ClosureCheck.SENSOR_RECOVERY:
            return await self._verify_by_sensor_recovery()
        return await self._verify_by_video_recheck()

    async def _verify_by_callback(self) -> bool:
        """The hotline calls the citizen back, by the end of the next working day; the
        district center above it hears when it does not."""
        if self._new():
            await self._await_evidence(
                ClosureCheck.CALLBACK,
                [HOTLINE, *self._above_the_district()],
                NoticeKind.CALLBACK_REQUEST,
                done=lambda: self._check.callback is not None,
            )
        else:
            await self._notify(NoticeKind.CALLBACK_REQUEST, [], extra=[HOTLINE_DESK])
            await self._wait(lambda: self._check.callback is not None or self._ruling is not None)
        callback = self._check.callback
        if self._ruling is not None or callback is None:
            return True
        self._note(
            self._stage,
            f"callback_{callback.result.value}",
            by=callback.by,
            acted_by=callback.acted_by,
            detail=callback.note,
        )
        return self._check.callback_passed

    async def _verify_by_photo_review(self) -> bool:
        """The dispatcher reviews the after-photo; the people above them hear when not."""
        reviewer = self._owner.reviewer()
        if self._new():
            await self._await_evidence(
                ClosureCheck.PHOTO_REVIEW,
                [reviewer, *self._above(reviewer)],
                NoticeKind.REVIEW_REQUEST,
                done=lambda: self._check.review is not None,
            )
        else:
            await self._notify(NoticeKind.REVIEW_REQUEST, [reviewer])
            await self._wait(lambda: self._check.review is not None or self._ruling is not None)
        review = self._check.review
        if self._ruling is not None or review is None:
            return True
        self._note(
            self._stage,
            f"photo_{review.decision.value}",
            by=review.by,
            acted_by=review.acted_by,
            detail=review.reason,
        )
        return self._check.review_passed

    async def _verify_by_sensor_recovery(self) -> bool:
        """The device must report normal, then stay normal for the hold. The assignee who
        reported the fix owns the wait, on the verify clock; the people above hear and
        take it over when the device does not recover."""
        assert self._plan is not None and self._owner.assignee is not None
        check = self._check
        if self._owned() and check.recovered_at is None:
            await self._await_evidence(
                ClosureCheck.SENSOR_RECOVERY,
                [self._owner.assignee, *self._owner.above()],
                NoticeKind.RECOVERY_REQUEST,
                done=lambda: check.recovered_at is not None,
            )
        while not self._owned() and check.recovered_at is None and self._ruling is None:
            recovered = await self._wait(
                lambda: check.recovered_at is not None or self._ruling is not None,
                timeout=self._plan.recovery_patience,
                summary="wait for the sensor to report normal",
            )
            if not recovered:
                self._note(self._stage, "no_recovery", detail="sensor still not normal")
                await self._notify(
                    NoticeKind.SUPERVISE, self._owner.supervisors(), reader=Reader.SUPERVISOR
                )
        if self._ruling is not None:
            return True
        if self._hold_shown:  # the hold is the clock now: its end is the verify deadline
            self._clocks[Clock.VERIFY].deadline = workflow.now() + self._plan.recovery_hold
            self._upsert()
        refired = await self._wait(
            lambda: check.refired_at is not None or self._ruling is not None,
            timeout=self._plan.recovery_hold,
            summary=f"hold: sensor must stay normal for {self._plan.recovery_hold}",
        )
        if refired and self._ruling is None:
            self._note(self._stage, "sensor_refired", detail="fired again within the hold period")
            return False
        self._note(self._stage, "sensor_recovered")
        return True

    async def _verify_by_video_recheck(self) -> bool:
        """The video platform is asked to re-detect at the camera; when it does not answer,
        the dispatcher and the people above hear of it."""
        if self._new():
            reviewer = self._owner.reviewer()
            await self._await_evidence(
                ClosureCheck.VIDEO_RECHECK,
                [CAMERA_DESK, reviewer, *self._above(reviewer)],
                NoticeKind.RECHECK_REQUEST,
                done=lambda: self._check.recheck is not None,
            )
        else:
            await self._wait(lambda: self._check.recheck is not None or self._ruling is not None)
        recheck = self._check.recheck
        if self._ruling is not None or recheck is None:
            return True
        self._note(
            self._stage,
            "video_recheck",
            detail="still detected" if recheck.still_detected else "cleared",
        )
        return self._check.recheck_passed

    async def _await_evidence(
        self,
        check: ClosureCheck,
        people: list[Assignment],
        request: NoticeKind,
        *,
        done: Callable[[], bool],
    ) -> None:
        """Ask the first of `people` for the check's evidence, on the verify clock; its
        chain reminds them and climbs `people` when the answer does not come."""
        assert self._plan is not None
        self._waiting_on = Ladder(people)
        wait = self._plan.verify_waits.get(check)
        if wait is not None and wait.by_end_of_next_working_day:
            asked = workflow.now()
            budget = await workflow.execute_local_activity_method(
                DispatchActivities.next_working_day_budget,
                NextWorkingDayRequest(start=asked),
                summary=f"{check.value} due by the end of the next working day",
                start_to_close_timeout=LOCAL_TIMEOUT,
            )
            # From the instant the budget was measured from: its end is 17:30, not a moment
            # past it (which the working calendar would carry to the next morning).
            await self._start_clock(
                Clock.VERIFY, budget=budget.budget, working_time=True, start=asked
            )
        elif wait is not None and wait.within is not None:
            await self._start_clock(
                Clock.VERIFY, budget=wait.within, working_time=wait.working_time
            )
        self._upsert()
        await self._notify(request, [self._waiting_on.holder], reader=self._reader_of(people[0]))
        await self._follow_chain(Clock.VERIFY, done=done)

    async def _reopen(self) -> None:
        assert self._plan is not None and self._owner.assignee is not None
        async with self._serialised():
            self._check.reopen()
            to_district = (
                self._check.reopens > self._plan.max_reopens
                and self._owner.assignee.tier is not Tier.DISTRICT
            )
            if to_district and self._new():
                # Repeated failure is the district's problem now; published with its clock.
                self._owner.escalate_to(self._owner.district())
                self._note(
                    self._stage, "escalated_after_reopens", detail=describe(self._owner.district())
                )
            elif to_district:
                self._escalate_to(self._owner.district(), "escalated_after_reopens")
            if to_district:
                await self._notify(
                    NoticeKind.SUPERVISE, [self._owner.district()], reader=Reader.SUPERVISOR
                )
            await self._start_clock(Clock.RESOLVE)
            self._set_stage(Stage.REOPENED, "reopened", detail=f"reopen #{self._check.reopens}")
            await self._notify(NoticeKind.REOPENED, [self._owner.assignee])

    async def _close(self) -> TicketOutcome:
        joined = self._links.primary_outcome
        fixed = self._ruling is None and self._dismissal is None
        fixed = fixed and (joined is None or joined.fixed)
        if joined is not None:
            self._set_stage(
                Stage.CLOSED if joined.fixed else Stage.CLOSED_UNFIXED,
                "closed_with_primary",
                detail=f"ticket {joined.ticket_id} {joined.stage.value}: {joined.resolution or ''}",
            )
        elif self._dismissal is not None:
            self._set_stage(
                Stage.DISMISSED,
                "dismissed",
                by=self._dismissal.by,
                acted_by=self._dismissal.acted_by,
                detail=self._dismissal.reason,
            )
        elif self._recovered:
            self._set_stage(Stage.CLOSED, "closed", detail="recovered, verified by sensor")
        elif fixed:
            self._set_stage(Stage.CLOSED, "closed")
        else:
            assert self._ruling is not None
            self._set_stage(
                Stage.CLOSED_UNFIXED,
                "closed_unfixed",
                by=self._ruling.by,
                acted_by=self._ruling.acted_by,
                detail=self._ruling.reason,
            )
        for task in self._background:
            if not task.done():
                task.cancel()
        await self._tell_callers()
        if self._new():
            await self._tell_closed()
        await self._record("closed")
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._tell_callers()  # a repeat call that came as it closed
        return TicketOutcome(
            ticket_id=self._intake.ticket_id,
            stage=self._stage,
            fixed=fixed,
            reopens=self._check.reopens,
            escalations=self._owner.escalations,
            closed_at=workflow.now(),
        )

    async def _tell_closed(self) -> None:
        """The assignee hears the ticket is closed; for a hotline ticket, the hotline too
        (it tells the citizen)."""
        hotline = [HOTLINE_DESK.model_copy(update={"reader": Reader.HOTLINE})]
        desks = hotline if self._intake.source is Source.HOTLINE else []
        assignee = self._owner.assignee
        facts = {"outcome": "recovered" if self._recovered else self._stage.value}
        joined = self._links.primary_outcome
        if joined is not None:  # the hotline calls this caller back with the primary's outcome
            facts |= {"primary_ticket": joined.ticket_id, "resolution": joined.resolution or ""}
        await self._notify(
            NoticeKind.CLOSED, [assignee] if assignee else [], extra=desks, facts=facts
        )

    # ================================================================== sensor recovery

    def _watches_recovery(self) -> bool:
        assert self._plan is not None
        alarm = self._intake.alarm
        return (
            alarm is not None
            and alarm.sensor_type != "video_ai"
            and self._plan.on_recovery is not RecoveryPolicy.NEVER_AUTO_CLOSE
        )

    async def _watch_recovery(self) -> None:
        """Before anyone reports a fix, the device may report normal. The scenario's policy
        says what that means: close as recovered after the hold, or stop the chase and
        tell the assignee (a new firing starts it again)."""
        assert self._plan is not None
        plan, check = self._plan, self._check

        def over() -> bool:
            return self._stage.is_final or check.resolution is not None or self._ruling is not None

        while not over():
            await workflow.wait_condition(lambda: check.recovered_at is not None or over())
            if over():
                return
            if plan.on_recovery is RecoveryPolicy.STOP_CHASE_AND_TELL:
                self._chase_stopped = True
                self._set_stage(self._stage, "chase_stopped", detail="the sensor reports normal")
                if self._owner.assignee is not None:
                    await self._notify(NoticeKind.SENSOR_RECOVERED, [self._owner.assignee])
                await workflow.wait_condition(lambda: check.refired_at is not None or over())
                if over():
                    return
                self._chase_stopped = False
                if self._stage in _WAITING_FOR_ACCEPT:
                    async with self._lock:  # a new call for help: the accept clock anew
                        await self._start_clock(Clock.ACCEPT)
                self._set_stage(self._stage, "chase_resumed", detail="the sensor fired again")
                continue
            refired = await self._wait(
                lambda: check.refired_at is not None or over(),
                timeout=plan.recovery_hold,
                summary=f"hold: sensor must stay normal for {plan.recovery_hold}",
            )
            if over():
                return
            if not refired:
                self._recovered = True  # the chains finish; `run` closes the ticket
                return
            self._note(self._stage, "sensor_refired", detail="fired again within the hold period")

    # ================================================================== updates: triage

    @workflow.update
    async def classify(self, decision: TriageDecision) -> TicketStatus:
        """A district dispatcher classifies a ticket that the rules could not."""
        async with self._serialised(lambda: self._validate_classify(decision)):
            classification = await workflow.execute_local_activity_method(
                DispatchActivities.classify_ticket,
                # The dispatcher's decision stands, whatever held it for triage at intake.
                self._intake.model_copy(
                    update={"service_code": decision.scenario_id, "triage_reason": None}
                ),
                summary=f"triage: {decision.scenario_id}",
                start_to_close_timeout=LOCAL_TIMEOUT,
            )
            if classification.needs_triage:
                raise ApplicationError(
                    f"unknown scenario {decision.scenario_id!r}", type="UnknownScenario"
                )
            self._classification = classification
            self._set_stage(
                Stage.CLASSIFIED,
                "triaged",
                by=decision.by,
                acted_by=decision.acted_by,
                detail=f"{decision.scenario_id} {decision.note}".strip(),
            )
            return self._status()

    @classify.validator
    def _validate_classify(self, decision: TriageDecision) -> None:
        self._admit(decision)
        if self._stage is not Stage.TRIAGE:
            raise ValueError(f"ticket is {self._stage.value}, not waiting for triage")

    @workflow.update
    def dismiss(self, request: DismissInput) -> TicketStatus:
        """No work order after all (a question, praise, a wrong number): closed with the
        reason, never dropped."""
        self._dismissal = request
        return self._status()

    @dismiss.validator
    def _validate_dismiss(self, request: DismissInput) -> None:
        self._admit(request)
        if self._stage is not Stage.TRIAGE:
            raise ValueError(
                f"ticket is {self._stage.value}; only a ticket waiting for triage can be "
                "dismissed (a dispatched one is closed by close-unfixed)"
            )

    @workflow.update
    def split_secondary(self, request: SplitInput) -> SplitOutcome:
        """A dispatcher or supervisor split the call's secondary issue into the ticket the
        service started (`new_ticket_id`); this ticket records it. No command: the
        history and the UI details only, so it needs no patch."""
        assert self._classification is not None  # checked by the validator
        record = split_record(self._classification, request, workflow.now())
        self._split = record
        detail = split_detail(self._classification, record)
        self._note(
            self._stage, SPLIT_EVENT, by=request.by, acted_by=request.acted_by, detail=detail
        )
        workflow.set_current_details(render_details(self._status(), **self._caller()))
        return SplitOutcome(new_ticket_id=record.new_ticket_id, status=self._status())

    @split_secondary.validator
    def _validate_split_secondary(self, request: SplitInput) -> None:
        self._admit(request)
        check_split(self._classification, self._split, request)

    # ================================================================== updates: acceptance

    @workflow.update
    async def accept(self, request: AcceptInput) -> TicketStatus:
        """Acceptance stops the accept chain and starts the resolve clock at once, so the
        answer carries the resolve deadline."""
        async with self._serialised(lambda: self._validate_accept(request)):
            self._owner.accept(request.person_id, takes_it=self._owned())
            await self._start_clock(Clock.RESOLVE)
            # Patched: tickets accepted before the first-contact clock existed replay without it.
            if (
                self._intake.caller_phone
                and not self._clocks[Clock.CONTACT].started_at_all
                and self._since("first-contact-clock")
            ):
                await self._start_clock(Clock.CONTACT)
                self._background.append(
                    asyncio.create_task(
                        self._follow_chain(
                            Clock.CONTACT, done=lambda: self._contacted_at is not None
                        )
                    )
                )
            self._set_stage(
                Stage.ACCEPTED, "accepted", by=request.person_id, acted_by=request.acted_by
            )
            return self._status()

    @accept.validator
    def _validate_accept(self, request: AcceptInput) -> None:
        self._admit(request)
        if self._stage not in _WAITING_FOR_ACCEPT or self._owner.accepted_by:
            raise ValueError(
                f"ticket is {self._stage.value}; only a dispatched ticket can be accepted"
            )
        allowed = self._owner.allowed_acceptors()
        if request.person_id not in allowed:
            # Who is assigned is not said: a refusal must not tell anyone whom to pose as.
            raise ValueError(f"{request.person_id} is not assigned to this ticket")

    @workflow.update
    async def return_ticket(self, request: ReturnInput) -> TicketStatus:
        """退单: not our jurisdiction or duty. Re-routed; the accept clock keeps running. After
        the last allowed return the district rules, and the unit it names cannot return
        the ticket again (it may ask the district to reconsider)."""
        async with self._serialised(lambda: self._validate_return(request)):
            owner = self._owner
            assert owner.route is not None
            owner.returns += 1
            route = await workflow.execute_activity_method(
                RoutingActivities.return_ticket,
                ReturnRequest(
                    current=owner.route,
                    reason=request.reason,
                    returns_so_far=owner.returns - 1,
                    at=workflow.now(),
                ),
                summary=f"return #{owner.returns}: {request.reason.code.value}",
                start_to_close_timeout=ROUTE_TIMEOUT,
                retry_policy=ROUTE_RETRY,
            )
            if self._new() and route.rule == FINAL_RULING:
                owner.ruling_pending = True
            detail = f"{request.reason.code.value}: {request.reason.note}".strip(": ")
            await self._reroute(
                route,
                "returned",
                by=request.person_id,
                acted_by=request.acted_by,
                detail=detail,
            )
            return self._status()

    @return_ticket.validator
    def _validate_return(self, request: ReturnInput) -> None:
        self._admit(request)
        if self._stage not in _WAITING_FOR_ACCEPT:
            raise ValueError(
                f"ticket is {self._stage.value}; only a ticket not yet accepted can be returned"
            )
        self._require_assignee(request.person_id)
        assignee = self._owner.assignee
        if assignee is not None and self._owner.bound(assignee.unit_code):
            raise ValueError(
                f"the district's ruling names {self._owner.bound_unit}: it cannot return this "
                "ticket again; ask the district to reconsider (request_reconsideration)"
            )

    @workflow.update
    async def transfer(self, request: TransferInput) -> TicketStatus:
        """A dispatcher hands the ticket to another unit, with the reason recorded. The
        district's transfer of a ticket it holds after the last return is its ruling: the
        unit it names may not return it."""
        async with self._serialised(lambda: self._validate_transfer(request)):
            route = await self._transfer_to(request.target_unit, request.reason)
            await self._reroute(
                route,
                "transferred",
                by=request.by,
                acted_by=request.acted_by,
                detail=f"{request.target_unit}: {request.reason}",
            )
            if self._owner.ruling_pending:
                self._rule(route, by=request.by, acted_by=request.acted_by)
            return self._status()

    @transfer.validator
    def _validate_transfer(self, request: TransferInput) -> None:
        self._admit(request)
        assignee = self._owner.assignee
        if (
            assignee is None
            or self._stage.is_final
            or self._stage in (Stage.RESOLVED, Stage.VERIFYING)
        ):
            raise ValueError(
                f"ticket is {self._stage.value}; it can be transferred only before it is resolved"
            )
        # A sub-center holding a ticket may hand it down to one of its own work stations.
        assigning_down = request.by == assignee.person_id and request.target_unit.startswith(
            f"{assignee.unit_code}-"
        )
        dispatchers = self._owner.supervisor_ids()
        if request.by not in dispatchers and not assigning_down:
            raise ValueError(
                f"{request.by} may not transfer this ticket (its dispatcher and the "
                f"tiers above may; the assignee only to a unit under {assignee.unit_code})"
            )

    async def _transfer_to(self, unit: str, reason: str) -> RoutePlan:
        assert self._owner.route is not None
        return await workflow.execute_activity_method(
            RoutingActivities.transfer_ticket,
            TransferRequest(
                current=self._owner.route, target_unit=unit, reason=reason, at=workflow.now()
            ),
            summary=f"transfer to {unit}",
            start_to_close_timeout=ROUTE_TIMEOUT,
            retry_policy=ROUTE_RETRY,
        )

    def _rule(self, route: RoutePlan, *, by: str, acted_by: str | None = None) -> None:
        """The district names the unit that handles the ticket: final for that unit."""
        self._owner.ruling_pending = False
        self._owner.bound_unit = route.assignee.unit_code
        self._set_stage(
            self._stage,
            "district_ruling",
            by=by,
            acted_by=acted_by,
            detail=f"{route.assignee.unit_code} handles it; it cannot be returned again",
        )

    async def _reroute(
        self, route: RoutePlan, event: str, *, by: str, detail: str, acted_by: str | None = None
    ) -> None:
        """Put the ticket in front of the new route's assignee."""
        self._owner.reroute(route)
        self._set_stage(
            self._stage,
            event,
            by=by,
            acted_by=acted_by,
            detail=f"{detail} → {describe(route.assignee)}",
        )
        await self._notify(
            NoticeKind.RETURNED, [route.assignee], facts={"by": by, "reason": detail}
        )

    @workflow.update
    async def request_reconsideration(self, request: ReconsiderationRequest) -> TicketStatus:
        """The unit a binding district ruling named asks the district to think again; the
        request is recorded and the district decides (decide_reconsideration)."""
        async with self._serialised(lambda: self._validate_request_reconsideration(request)):
            self._reconsideration = request
            suggested = f" → {request.suggested_unit}" if request.suggested_unit else ""
            self._note(
                self._stage,
                "reconsideration_requested",
                by=request.person_id,
                acted_by=request.acted_by,
                detail=f"{request.reason}{suggested}",
            )
            facts = {"by": request.person_id, "reason": request.reason}
            if request.suggested_unit:
                facts["suggested_unit"] = request.suggested_unit
            await self._notify(
                NoticeKind.RECONSIDERATION_REQUESTED,
                [self._owner.district()],
                reader=Reader.SUPERVISOR,
                facts=facts,
            )
            return self._status()

    @request_reconsideration.validator
    def _validate_request_reconsideration(self, request: ReconsiderationRequest) -> None:
        self._admit(request, repeatable=True)
        assignee = self._owner.assignee
        if assignee is None or not self._owner.bound(assignee.unit_code):
            raise ValueError("no district ruling binds this ticket's unit: return it instead")
        if self._stage.is_final or self._stage in (Stage.RESOLVED, Stage.VERIFYING):
            raise ValueError(f"ticket is {self._stage.value}; too late to ask for reconsideration")
        self._require_assignee(request.person_id)
        if self._reconsideration is not None:
            raise ValueError("a reconsideration request is already waiting for the district")

    @workflow.update
    async def decide_reconsideration(self, decision: ReconsiderationDecision) -> TicketStatus:
        """The district decides: approved, the ticket goes to the unit it names now (a new
        ruling that binds that unit); rejected, it stays where the ruling put it."""
        async with self._serialised(lambda: self._validate_decide_reconsideration(decision)):
            request = self._reconsideration
            assert request is not None
            self._reconsideration = None
            outcome = "approved" if decision.approve else "rejected"
            self._note(
                self._stage,
                f"reconsideration_{outcome}",
                by=decision.by,
                acted_by=decision.acted_by,
                detail=decision.note,
            )
            asker = self._owner.assignee
            if decision.approve and decision.target_unit is not None:
                route = await self._transfer_to(decision.target_unit, decision.note or "复议改派")
                await self._reroute(
                    route,
                    "transferred",
                    by=decision.by,
                    acted_by=decision.acted_by,
                    detail=f"{decision.target_unit}: reconsidered",
                )
                self._rule(route, by=decision.by, acted_by=decision.acted_by)
            if asker is not None:
                await self._notify(
                    NoticeKind.RECONSIDERATION_DECIDED,
                    [asker],
                    facts={"by": decision.by, "decision": outcome, "reason": decision.note},
                )
            return self._status()

    @decide_reconsideration.validator
    def _validate_decide_reconsideration(self, decision: ReconsiderationDecision) -> None:
        self._admit(decision)
        if self._reconsideration is None:
            raise ValueError("no reconsideration request is waiting for a decision")
        deciders = self._owner.supervisor_ids()
        if decision.by not in deciders:
            raise ValueError(f"{decision.by} may not decide (only the district may)")
        if decision.approve and decision.target_unit is None:
            raise ValueError("target_unit: approving names the unit that takes the ticket")

    # ================================================================== updates: the work

    @workflow.update
    def contact_citizen(self, request: ContactInput) -> TicketStatus:
        """The assignee has reached the citizen: the first-contact clock stops."""
        self._contacted_at = workflow.now()
        self._note(
            self._stage,
            "citizen_contacted",
            by=request.person_id,
            acted_by=request.acted_by,
            detail=request.note,
        )
        return self._status()

    @contact_citizen.validator
    def _validate_contact(self, request: ContactInput) -> None:
        self._admit(request)
        self._require_assignee_working(request.person_id)
        if self._contacted_at is not None:
            raise ValueError(f"first contact already recorded at {shown(self._contacted_at)}")

    @workflow.update
    def pause_clock(self, request: PauseInput) -> TicketStatus:
        """Stop the resolve clock while the ticket waits on the citizen, until a stated
        time; while paused, a later `until` extends the pause."""
        clock = self._clocks[Clock.RESOLVE]
        if clock.paused:  # the validator let only an extension of a pause with an end by
            assert request.until is not None
            clock.extend_pause(request.until)
            self._set_stage(
                self._stage,
                "pause_extended",
                by=request.person_id,
                acted_by=request.acted_by,
                detail=f"to {shown(request.until)}: {request.reason}",
            )
            return self._status()
        # First, before any command of this update: a replay finds the marker here.
        if self._patched(PAUSE_DEADLINE):
            assert self._plan is not None
            until = request.until or workflow.now() + self._plan.pause_within
            clock.pause(workflow.now(), until)
            detail = f"{request.reason} (until {shown(until)})"
        else:
            clock.pause(workflow.now())
            detail = request.reason
        self._set_stage(
            self._stage,
            "clock_paused",
            by=request.person_id,
            acted_by=request.acted_by,
            detail=detail,
        )
        return self._status()

    @pause_clock.validator
    def _validate_pause(self, request: PauseInput) -> None:
        self._admit(request, repeatable=True)
        self._require_assignee_working(request.person_id)
        assert self._plan is not None
        clock = self._clocks[Clock.RESOLVE]
        since, now = clock.paused_since, workflow.now()
        if since is not None and (clock.pause_until is None or request.until is None):
            raise ValueError(f"the clock is already paused since {shown(since)}")
        if request.until is None:
            return
        start = since or now
        latest = start + self._plan.pause_longest
        if request.until <= now:
            raise ValueError(f"until: {shown(request.until)} has passed")
        if clock.pause_until is not None and request.until <= clock.pause_until:
            raise ValueError(
                f"until: the pause already ends at {shown(clock.pause_until)}; name a later time"
            )
        if request.until > latest:
            raise ValueError(
                f"until: a pause lasts at most {self._plan.pause_longest} "
                f"(from {shown(start)}: {shown(latest)} at the latest)"
            )

    @workflow.update
    async def resume_clock(self, request: ResumeInput) -> TicketStatus:
        """Restart the resolve clock; its deadline moves by the paused time on its calendar."""
        async with self._serialised(lambda: self._validate_resume(request)):
            clock = self._clocks[Clock.RESOLVE]
            clock.resume(workflow.now())
            clock.moved((await self._instants(clock, [1.0]))[0])
            self._set_stage(
                self._stage,
                "clock_resumed",
                by=request.person_id,
                acted_by=request.acted_by,
                detail=request.note,
            )
            return self._status()

    @resume_clock.validator
    def _validate_resume(self, request: ResumeInput) -> None:
        self._admit(request)
        self._require_assignee_working(request.person_id)
        if not self._clocks[Clock.RESOLVE].paused:
            raise ValueError("the clock is not paused")

    @workflow.update
    async def request_extension(self, request: ExtensionRequest) -> TicketStatus:
        """延期: the assignee asks for a later resolve deadline; the tier above decides (for
        a district-tier unit, the district center's duty supervisor)."""
        # First, before any activity of this task: a replay finds the marker here.
        district_decides = self._patched(EXTENSION_DECIDER)
        not_asker = district_decides and self._patched(EXTENSION_NOT_ASKER)
        async with self._serialised(lambda: self._validate_request_extension(request)):
            self._pending_extension = request
            self._note(
                self._stage,
                "extension_requested",
                by=request.person_id,
                acted_by=request.acted_by,
                detail=f"to {shown(request.new_deadline)}: {request.reason}",
            )
            deciders = (
                await self._extension_deciders(request.person_id if not_asker else None)
                if district_decides
                else self._owner.supervisors()
            )
            await self._notify(
                NoticeKind.EXTENSION_REQUESTED,
                deciders,
                reader=Reader.SUPERVISOR,
                facts={
                    "by": request.person_id,
                    "reason": request.reason,
                    "new_deadline": request.new_deadline.isoformat(),
                },
            )
            return self._status()

    async def _extension_deciders(self, asker: str | None) -> list[Assignment]:
        """Who is asked to decide an extension: the nearest person above; for a district-
        tier assignee (a department, the center itself: nobody above it by tier), the
        district center's duty supervisor on duty now, who may then decide it. With
        `asker` (EXTENSION_NOT_ASKER), never the asker: when the supervisor named is the
        one asking, the next one up (Ownership.decider_other_than)."""
        owner = self._owner
        assignee = owner.assignee
        assert assignee is not None
        owner.extension_decider = None
        if assignee.tier is not Tier.DISTRICT:
            return owner.supervisors()
        answer = await workflow.execute_local_activity_method(
            DispatchActivities.district_supervisor,
            SupervisorRequest(at=workflow.now()),
            summary="who decides a district unit's extension: the duty supervisor",
            start_to_close_timeout=LOCAL_TIMEOUT,
        )
        decider = answer.person
        if asker is not None:
            decider = owner.decider_other_than(asker, decider)
        owner.extension_decider = decider
        return [decider]

    @request_extension.validator
    def _validate_request_extension(self, request: ExtensionRequest) -> None:
        self._admit(request, repeatable=True)
        if self._stage not in _BEING_WORKED:
            raise ValueError(
                f"ticket is {self._stage.value}; only an accepted ticket can be extended"
            )
        assert self._plan is not None
        self._require_assignee(request.person_id)
        if self._pending_extension is not None:
            raise ValueError("an extension request is already waiting for a decision")
        if self._extensions >= self._plan.max_extensions:
            raise ValueError(
                f"no more extensions: the limit is {self._plan.max_extensions} per ticket"
            )
        deadline = self._clocks[Clock.RESOLVE].deadline
        if deadline is not None and workflow.now() >= deadline:
            raise ValueError(f"the resolve deadline {shown(deadline)} has passed; ask before it")
        if deadline is not None and request.new_deadline <= deadline:
            raise ValueError(f"new_deadline must be after the current deadline {shown(deadline)}")

    @workflow.update
    async def decide_extension(self, decision: ExtensionDecision) -> TicketStatus:
        async with self._serialised(lambda: self._validate_decide_extension(decision)):
            request = self._pending_extension
            assert request is not None and self._owner.assignee is not None
            self._pending_extension = None
            if decision.approve:
                self._extensions += 1
                self._overdue = False
                # An approved date is explicit, so the moved clock runs on the wall calendar.
                await self._start_clock(
                    Clock.RESOLVE, budget=request.new_deadline - workflow.now(), working_time=False
                )
                self._upsert()
            # Noted once the clock has moved, so the register sees the approved deadline.
            self._note(
                self._stage,
                "extension_approved" if decision.approve else "extension_rejected",
                by=decision.by,
                acted_by=decision.acted_by,
                detail=decision.note,
            )
            facts = {
                "by": decision.by,
                "reason": decision.note,
                "decision": "approved" if decision.approve else "rejected",
            }
            if decision.approve:
                facts["new_deadline"] = request.new_deadline.isoformat()
            # The hotline tells the citizen of a later date; it never asked, so it hears
            # nothing of a rejection.
            hotline = HOTLINE_DESK.model_copy(update={"reader": Reader.HOTLINE})
            told = [hotline] if decision.approve or not self._new() else []
            await self._notify(
                NoticeKind.EXTENSION_DECIDED, [self._owner.assignee], extra=told, facts=facts
            )
            return self._status()

    @decide_extension.validator
    def _validate_decide_extension(self, decision: ExtensionDecision) -> None:
        self._admit(decision)
        pending = self._pending_extension
        if pending is None:
            raise ValueError("no extension request is waiting for a decision")
        deciders = self._owner.extension_deciders(pending.person_id)
        if decision.by not in deciders:
            asked = self._owner.extension_decider
            told = f"; it was sent to {describe(asked)}" if asked is not None else ""
            raise ValueError(
                f"{decision.by} may not decide (only the tiers above the assignee{told})"
            )

    @workflow.update
    def resolve(self, request: ResolveInput) -> TicketStatus:
        if self._owned() and self._closure_check() is ClosureCheck.SENSOR_RECOVERY:
            # First, before any command of this update: a replay finds the marker here.
            self._hold_shown = self._patched(SENSOR_HOLD_SHOWN)
        self._check.resolution = request
        self._set_stage(
            Stage.RESOLVED,
            "resolved",
            by=request.person_id,
            acted_by=request.acted_by,
            detail=request.note,
        )
        return self._status()

    @resolve.validator
    def _validate_resolve(self, request: ResolveInput) -> None:
        self._admit(request)
        if self._stage not in _BEING_WORKED:
            hint = (
                "accept it before resolving"
                if self._stage in _WAITING_FOR_ACCEPT
                else "only an accepted or reopened ticket can be resolved"
            )
            raise ValueError(f"ticket is {self._stage.value}; {hint}")
        assignee = self._owner.assignee
        assert assignee is not None
        if request.person_id not in (assignee.person_id, self._owner.accepted_by):
            raise ValueError(f"{request.person_id} is not the assignee of this ticket")
        if self._closure_check() is ClosureCheck.PHOTO_REVIEW:
            self._validate_photo(request)

    def _validate_photo(self, request: ResolveInput) -> None:
        photo = request.photo
        if photo is None:
            raise ValueError(
                "photo: an after-photo (url, taken_at, lat, lon) is required for photo review"
            )
        dispatched_at = self._owner.dispatched_at
        if dispatched_at is not None and photo.taken_at < dispatched_at:
            raise ValueError("photo.taken_at: the photo was taken before the ticket was dispatched")
        place = place_of(self._intake)
        if place is not None:
            distance = distance_m(place, (photo.lat, photo.lon))
            assert self._plan is not None
            radius = self._plan.photo_radius_m
            if distance > radius:
                raise ValueError(
                    f"photo.lat/lon: taken {distance:.0f} m from the place (limit {radius:.0f} m)"
                )

    # ================================================================== updates: verification

    @workflow.update
    def callback(self, result: CallbackInput) -> TicketStatus:
        self._check.callback = result
        return self._status()

    @callback.validator
    def _validate_callback(self, result: CallbackInput) -> None:
        self._admit(result)
        self._require_verifying(ClosureCheck.CALLBACK)

    @workflow.update
    def review(self, review: ReviewInput) -> TicketStatus:
        self._check.review = review
        return self._status()

    @review.validator
    def _validate_review(self, review: ReviewInput) -> None:
        self._admit(review)
        self._require_verifying(ClosureCheck.PHOTO_REVIEW)
        reviewers = self._owner.supervisor_ids()
        if review.by not in reviewers:
            raise ValueError(
                f"{review.by} may not review this photo (its dispatcher and the tiers above may)"
            )

    @workflow.update
    def recheck(self, result: RecheckInput) -> TicketStatus:
        self._check.recheck = result
        return self._status()

    @recheck.validator
    def _validate_recheck(self, result: RecheckInput) -> None:
        self._admit(result)
        self._require_verifying(ClosureCheck.VIDEO_RECHECK)

    # ================================================================== updates: supervision

    @workflow.update
    async def urge(self, request: UrgeInput) -> TicketStatus:
        """A supervisor urges (催办) by hand."""
        async with self._serialised(lambda: self._validate_urge(request)):
            assert self._owner.assignee is not None
            self._note(
                self._stage,
                "urged",
                by=request.by,
                acted_by=request.acted_by,
                detail=request.note,
            )
            await self._notify(
                NoticeKind.URGE,
                [self._owner.assignee],
                facts={"by": request.by, "note": request.note},
            )
            return self._status()

    @urge.validator
    def _validate_urge(self, request: UrgeInput) -> None:
        self._admit(request, repeatable=True)
        if not self._owner.dispatched or self._stage.is_final:
            raise ValueError(
                f"ticket is {self._stage.value}; only an open, dispatched ticket can be urged"
            )

    @workflow.update
    def rule_closure(self, ruling: RuleClosureInput) -> TicketStatus:
        """The district closes a ticket that cannot be fixed: a distinct outcome, never silent."""
        self._ruling = ruling
        return self._status()

    @rule_closure.validator
    def _validate_rule_closure(self, ruling: RuleClosureInput) -> None:
        self._admit(ruling)
        if self._stage.is_final or not self._owner.dispatched:
            raise ValueError(
                f"ticket is {self._stage.value}; "
                "only an open, dispatched ticket can be ruled closed"
            )

    # ------------------------------------------------------------------ shared validation

    def _admit(self, request: BaseModel, *, repeatable: bool = False) -> None:
        """What every update's validator checks first, for new input only: each field
        within its length limit (a caller that went around the API, e.g. Temporal's own
        CLI, is refused naming the field; inside the workflow the limits are otherwise not
        enforced, so its own history always decodes), and for an action that can repeat
        without moving the ticket on (an urge, a pause, a request), that the ticket's
        history is still far from Temporal's limits. Validators run only when an update
        arrives, never on replay; their re-check under the lock (`_serialised`) runs in the
        handler, where this is skipped, so replay never depends on it."""
        if not workflow.unsafe.is_read_only():
            return
        limits.refuse_overlong(request)
        info = workflow.info()
        length, size = info.get_current_history_length(), info.get_current_history_size()
        if repeatable and (
            length > limits.HISTORY_EVENTS_BUDGET or size > limits.HISTORY_BYTES_BUDGET
        ):
            raise ValueError(
                f"this ticket's history is long ({length} events, {size // 1024} KiB): it "
                "takes only actions that move it on (accept, resolve, a decision, a ruling)"
            )

    @asynccontextmanager
    async def _serialised(self, check: Callable[[], None] | None = None) -> AsyncIterator[None]:
        """Handlers that await hold the ticket's lock, so an accept, a return or a chain
        step that arrives meanwhile acts on the state the first one left, not on a stale
        one. `check` (the update's validator) runs again once the lock is held: what was
        true when the update arrived may not be any more, and the update is refused."""
        if not self._new():
            yield  # tickets started before the lock run as they ran
            return
        async with self._lock:
            if check is not None:
                try:
                    check()
                except ValueError as exc:
                    raise ApplicationError(str(exc), type="Refused", non_retryable=True) from exc
            yield

    def _require_assignee(self, person_id: str) -> None:
        assignee = self._owner.assignee
        assert assignee is not None
        if person_id != assignee.person_id:
            raise ValueError(f"{person_id} is not the assignee of this ticket")

    def _require_assignee_working(self, person_id: str) -> None:
        if self._stage not in _BEING_WORKED:
            raise ValueError(f"ticket is {self._stage.value}; only while it is being worked on")
        self._require_assignee(person_id)

    def _require_verifying(self, check: ClosureCheck) -> None:
        if self._stage not in (Stage.RESOLVED, Stage.VERIFYING):
            raise ValueError(f"ticket is {self._stage.value}, not resolved and being verified")
        actual = self._closure_check()
        if actual is not check:
            raise ValueError(f"this ticket is verified by {actual.value}, not {check.value}")

    # ================================================================== signals and query

    @workflow.signal(name=ALARM_EVENT_SIGNAL)
    def alarm_event(self, event: AlarmEvent) -> None:
        """Another event from the device that raised this ticket: recorded once per event_id,
        repeats summarised in one history row."""
        self._take_alarm_event(event)

    def _take_alarm_event(self, event: AlarmEvent) -> None:
        seen = self._alarms.take(event, ticket_closed=self._stage.is_final)
        if seen is Seen.RESOLVED:
            self._check.sensor_normal(workflow.now())
            self._note(self._stage, "alarm_resolved", detail=event.event_id)
        elif seen is Seen.FIRING:
            self._check.sensor_fired(workflow.now())
            if self._alarms.count > 1 and self._new():  # one row: count, first, last
                self._history.repeat(workflow.now(), self._stage, "alarm_repeated", event.event_id)
                self._register_history()
            elif self._alarms.count > 1:  # tickets from before: one row (and write) each
                self._note(self._stage, "alarm_repeated", detail=event.event_id)

    @workflow.signal
    def notice_undelivered(self, failure: NoticeUndelivered) -> None:
        """A grouped follow-up about this ticket reached nobody: noted, and the person
        above hears of it (workflows/notice_group.py)."""
        self._note(
            self._stage, "notice_failed", detail=f"{failure.kind.value} to {failure.person_id}"
        )
        above = self._owner.tier_above() if self._owner.dispatched else None
        if above is not None and above.person_id != failure.person_id and not self._stage.is_final:
            task = self._notify(
                NoticeKind.SUPERVISE, [above], reader=Reader.SUPERVISOR, group=False
            )
            self._background.append(asyncio.create_task(task))

    # ================================================================== incidents

    async def _join_primary(self) -> bool:
        """A repeat call (or a report of what a sensor saw) whose primary was open at
        submission: tell the primary, then wait for it to close, and close with its outcome.
        The caller keeps this number and is called back when it closes. False: the primary
        had closed meanwhile, so this ticket is handled as one of its own."""
        link = self._intake.incident
        assert link is not None and link.primary_workflow_id is not None
        info = workflow.info()
        call = IncidentLinks.call_of(self._intake, info.workflow_id, info.run_id, workflow.now())
        primary = workflow.get_external_workflow_handle(
            link.primary_workflow_id, run_id=link.primary_run_id
        )

        async def primary_open() -> bool:
            try:
                await primary.signal(TicketWorkflow.repeat_call, call)
            except FailureError as exc:
                self._links.waiting_on_primary = False
                self._note(
                    self._stage,
                    "primary_gone",
                    detail=f"ticket {link.primary_ticket_id}: {exc}; handled on its own",
                )
                return False
            return True

        if not await primary_open():
            return False
        self._links.waiting_on_primary = True
        self._set_stage(
            self._stage,
            "waiting_on_primary",
            detail=f"ticket {link.primary_ticket_id} ({link.kind.value})",
        )
        if not self._watch_primary:
            await workflow.wait_condition(lambda: self._links.primary_outcome is not None)
            return True
        while True:
            if await self._wait(
                lambda: self._links.primary_outcome is not None, timeout=PRIMARY_CHECK
            ):
                return True
            if not await primary_open():  # closed without telling this ticket
                return False

    async def _tell_callers(self) -> None:
        """Every repeat caller's ticket closes with this one, with its outcome."""
        callers = self._links.untold()
        if not callers:
            return
        resolution = self._check.resolution
        outcome = PrimaryClosed(
            ticket_id=self._intake.ticket_id,
            stage=self._stage,
            fixed=self._stage is Stage.CLOSED,
            resolution=resolution.note[:500] if resolution and resolution.note else None,
            closed_at=workflow.now(),
        )

        async def tell(workflow_id: str, run_id: str | None, ticket_id: str) -> None:
            handle = workflow.get_external_workflow_handle(workflow_id, run_id=run_id)
            try:
                await handle.signal(TicketWorkflow.primary_closed, outcome)
            except FailureError:
                self._note(self._stage, "caller_not_told", detail=f"ticket {ticket_id} is gone")

        await asyncio.gather(*(tell(c.workflow_id, c.run_id, c.ticket_id) for c in callers))

    def _priority(self) -> Priority | None:
        """The scenario's priority, or the one repeat calls stepped it up to."""
        scenario = self._classification.scenario if self._classification else None
        return self._links.priority or (scenario.priority if scenario else None)

    @workflow.signal
    def repeat_call(self, call: RepeatCall) -> None:
        """A citizen called again about this ticket (a citizen 催办), or reported what its
        sensor saw: counted, the latest few kept, and the caller's ticket closes with this
        one. The assignee hears of it and the scenario's rule may step the urgency up."""
        if self._links.take_call(call):
            task = self._on_repeat_call(call, self._links.call_note(call), self._links.calls)
            self._background.append(asyncio.create_task(task))
            self._show_incident()

    @workflow.signal
    def primary_closed(self, outcome: PrimaryClosed) -> None:
        """The primary this repeat call waits on closed: this ticket closes with it."""
        self._links.closed_with(outcome)

    @workflow.signal
    def incident_linked(self, joined: IncidentJoined) -> None:
        """The intake put this ticket into an incident after it started (an alarm storm's
        grouping): listed under it (TicketIncident), its follow-ups grouped by it."""
        if self._links.join(joined):
            self._background.append(asyncio.create_task(self._publish_incidents()))
            self._show_incident()

    def _show_incident(self) -> None:
        """The UI's details show the incident and its calls at once, not at the next stage
        change (a repeat call may step nothing up). Details are no command: no patch."""
        workflow.set_current_details(render_details(self._status(), **self._caller()))

    async def _publish_incidents(self) -> None:
        await workflow.wait_condition(lambda: self._links_on is not None)
        if self._links_on and self._links.unpublished:
            self._links.unpublished = False
            workflow.upsert_search_attributes([sa.INCIDENT.value_set(self._links.incident_ids)])

    async def _on_repeat_call(self, call: RepeatCall, note: str, calls: int) -> None:
        """Tell the assignee that citizens are calling again, after the step-up (if any), so
        the notice carries the new priority and deadline. Tickets started before the change
        only count the call (their status shows it)."""
        await workflow.wait_condition(lambda: self._links_on is not None)
        if not self._links_on:
            return
        await self._publish_incidents()
        await workflow.wait_condition(lambda: self._owner.dispatched or self._stage.is_final)
        async with self._lock:
            assignee = self._owner.assignee
            if self._stage.is_final or assignee is None:
                return
            self._note(self._stage, "repeat_call", by=call.ticket_id, detail=note)
            stepped = await self._step_up(calls)
            await self._notify(
                NoticeKind.URGE,
                [assignee],
                facts={"by": "12345市民来电", "note": note + stepped},
            )

    async def _step_up(self, calls: int) -> str:
        """The scenario's rule (rules/incidents.yaml `step_up_after`) may raise the priority
        at this many repeat calls: the new priority's SLA applies from now on, and a running
        accept or resolve clock takes the new budget from its own start (pauses kept) when
        that ends sooner. Returns what the notice says of it."""
        assert self._classification is not None and self._plan is not None
        scenario = self._classification.scenario
        current = self._priority()
        assert scenario is not None and current is not None
        step = await workflow.execute_local_activity_method(
            DispatchActivities.plan_step_up,
            StepUpRequest(scenario_id=scenario.id, priority=current, repeat_calls=calls),
            summary=f"repeat call #{calls}: step up {current.value}?",
            start_to_close_timeout=LOCAL_TIMEOUT,
        )
        if step.priority is None or step.sla is None:
            return ""
        self._links.step_up(current, step.priority)
        self._plan = self._plan.model_copy(update={"sla": step.sla})
        waiting = self._stage in _WAITING_FOR_ACCEPT
        clock = Clock.ACCEPT if waiting else Clock.RESOLVE
        moved = None
        if waiting or self._stage in _BEING_WORKED:
            moved = await self._tighten(clock)
        due = f"; {clock.value} by {shown(moved)}" if moved else ""
        self._set_stage(
            self._stage,
            "stepped_up",
            detail=f"{current.value}→{step.priority.value} at {calls} repeat calls{due}",
        )
        new_due = f"，新时限 {shown(moved)}" if moved else ""
        return f"；优先级由 {current.value} 升为 {step.priority.value}{new_due}"

    async def _tighten(self, clock: Clock) -> datetime | None:
        """Give a running clock the plan's (stepped-up) budget from its own start, when
        that ends sooner; the new deadline, or None when it stays."""
        assert self._plan is not None
        state = self._clocks.get(clock)
        if state is None or state.start is None or state.deadline is None:
            return None
        budget = _default_budget(self._plan, clock)
        working = self._plan.sla.working_time
        result = await workflow.execute_local_activity_method(
            DispatchActivities.compute_deadlines,
            DeadlinesRequest(
                start=state.start,
                budget=budget,
                fractions=[1.0],
                working_time=working,
                pauses=state.pauses,
            ),
            summary=f"{clock.value} clock at the stepped-up priority",
            start_to_close_timeout=LOCAL_TIMEOUT,
        )
        deadline = result.instants[0]
        if deadline >= state.deadline:
            return None
        state.budget, state.working_time = budget, working
        state.moved(deadline)  # the walk restarts from the point reached, at the new pace
        if result.unconfirmed_after is None:
            self._unconfirmed.pop(clock, None)
        else:
            self._unconfirmed[clock] = result.unconfirmed_after
        return deadline

    @workflow.query
    def status(self, request: StatusInput | None = None) -> TicketStatus:
        return self._status(
            include_history=request is None or request.include_history, answer=False
        )

    @workflow.query
    def status_and_timers(self, request: StatusInput | None = None) -> StatusAndTimers:
        """The status and when each timer the ticket runs now is due, in one read: what a
        driver needs to let the ticket's clocks act before a person does (the simulation),
        without reading the history."""
        return StatusAndTimers(status=self.status(request), timers=sorted(self._timers.values()))

    # ================================================================== clocks and chains

    async def _start_clock(
        self,
        clock: Clock,
        budget: timedelta | None = None,
        working_time: bool | None = None,
        start: datetime | None = None,
        planned: NewTicketPlan | None = None,
    ) -> None:
        """(Re)start a clock from `start` (default now); by default with the plan's budget
        and calendar. The instants `planned` computed at intake are used when they are
        of this very start, budget and calendar."""
        assert self._plan is not None
        sla = self._plan.sla
        state = self._clocks[clock]
        state.restart(
            start or workflow.now(),
            budget or _default_budget(self._plan, clock),
            sla.working_time if working_time is None else working_time,
        )
        if self._since("chain-instants-at-clock-start"):
            # One local activity for the deadline and every step of the first walk.
            fractions = state.start_fractions()
            known = self._planned_instants(state, fractions, planned)
            state.started(known or await self._instants(state, fractions))
        else:
            state.deadline = (await self._instants(state, [1.0]))[0]
        if clock.colours_ticket:
            self._sla_colour = "green"

    async def _restart(self, clock: SlaClock) -> None:
        """The same budget again from now: a wait handed up its ladder."""
        clock.restart(workflow.now(), clock.budget, clock.working_time)
        clock.started(await self._instants(clock, clock.start_fractions()))

    async def _instants(self, clock: SlaClock, fractions: list[float]) -> list[datetime]:
        calendar = "working calendar" if clock.working_time else "wall clock"
        result = await workflow.execute_local_activity_method(
            DispatchActivities.compute_deadlines,
            clock.request(fractions),
            summary=f"{clock.clock.value} clock on the {calendar}",
            start_to_close_timeout=LOCAL_TIMEOUT,
        )
        self._note_calendar(clock, fractions, result)
        return result.instants

    def _planned_instants(
        self, clock: SlaClock, fractions: list[float], planned: NewTicketPlan | None
    ) -> list[datetime] | None:
        """The instants plan_new_ticket computed, if they answer this request."""
        if planned is None or planned.accept is None or planned.accept_instants is None:
            return None
        asked, request = planned.accept, clock.request(fractions)
        if (asked.start, asked.budget, asked.working_time, asked.pauses) != (
            request.start,
            request.budget,
            request.working_time,
            request.pauses,
        ):
            return None
        table = dict(zip(asked.fractions, planned.accept_instants.instants, strict=True))
        if any(f not in table for f in fractions):
            return None
        self._note_calendar(clock, fractions, planned.accept_instants)
        return [table[f] for f in fractions]

    def _note_calendar(
        self, clock: SlaClock, fractions: list[float], result: DeadlinesResult
    ) -> None:
        if 1.0 in fractions:  # the deadline itself: does it fall where the calendar is unknown?
            if result.unconfirmed_after is None:
                self._unconfirmed.pop(clock.clock, None)
            else:
                self._unconfirmed[clock.clock] = result.unconfirmed_after

    def _calendar_unconfirmed_after(self) -> date | None:
        """The earliest unconfirmed-calendar day among the deadlines still standing."""
        if self._stage.is_final:
            return None
        return min(
            (day for clock, day in self._unconfirmed.items() if self._deadline(clock) is not None),
            default=None,
        )

    async def _follow_chain(self, clock: Clock, done: Callable[[], bool]) -> None:
        """Walk the plan's steps for `clock` until done; a restarted clock walks again."""

        def finished() -> bool:
            return done() or self._ruling is not None or self._recovered

        state = self._clocks[clock]
        while not finished():
            await self._walk_once(state, state.run, finished)

    async def _walk_once(self, clock: SlaClock, run: int, finished: Callable[[], bool]) -> None:
        """One pass over the clock's points; returns early when finished or restarted."""

        def interrupted() -> bool:
            return finished() or clock.run != run

        if clock.clock is Clock.RESOLVE and clock.paused:
            if clock.pause_until is not None:
                await self._walk_pause(clock, interrupted)
                return
            await self._wait(interrupted)  # resume restarts the walk with a later deadline
            return
        schedule = clock.known_schedule()
        if schedule is None:  # moved since its start: the points ahead, computed anew
            ahead = clock.ahead()
            schedule = list(
                zip(ahead, await self._instants(clock, [p.fraction for p in ahead]), strict=True)
            )
        for point, when in schedule:
            await self._wait(
                interrupted, until=when, summary=f"{clock.clock.value} clock: {point.label}"
            )
            if interrupted():
                return
            clock.take(point)
            if self._new():
                await self._step(point, clock.clock)
            else:
                await self._take(point, clock.clock)
            if interrupted():
                return
        if self._stall.on(clock.clock):
            await self._supervise_stall(clock.clock, interrupted)
            return
        if clock.clock is Clock.RESOLVE and self._new() and self._resolve_stalls(clock):
            await self._stall_resolve(clock, interrupted)
            return
        await self._wait(interrupted)

    def _resolve_stalls(self, clock: SlaClock) -> bool:
        """RESOLVE_STALLS, asked where the resolve walk ends. A ticket that reached that end
        before the change was told no, and Temporal keeps that answer for the whole run: it
        asks again under the clock run's own id the next time a walk ends (after a resume,
        an extension or a reopen), so it stalls from then on instead of going silent again.
        (A replayed end asks the same ids in the same order, and finds no marker.)"""
        if self._patched(RESOLVE_STALLS):
            return True
        return workflow.patched(f"{RESOLVE_STALLS}-run-{clock.run}")

    async def _stall_resolve(self, clock: SlaClock, interrupted: Callable[[], bool]) -> None:
        """The resolve chain has taken its last step in vain: past the deadline (a resume
        may have moved it later than the last step), the wait stalls and is supervised
        daily, as a chain that pressed the director in vain is."""
        assert clock.deadline is not None and self._owner.assignee is not None
        await self._wait(interrupted, until=clock.deadline, summary="resolve clock: its deadline")
        if interrupted():
            return
        self._begin_stall(
            Clock.RESOLVE,
            self._owner.assignee,
            detail=f"resolve chain: its last step passed in vain; waiting on "
            f"{describe(self._owner.assignee)}",
        )
        await self._supervise_stall(Clock.RESOLVE, interrupted)

    async def _walk_pause(self, clock: SlaClock, interrupted: Callable[[], bool]) -> None:
        """A pause runs to its end: the assignee is reminded at 80 % of it; at the end,
        unless resumed or extended (either interrupts), the resolve clock runs again with
        the paused time added, the assignee is told, and the one above hears (督办); the
        resolve chain then walks on from where it was."""
        until, remind_at = clock.pause_until, clock.pause_reminder_at()
        assert until is not None and remind_at is not None
        assignee = self._owner.assignee
        assert assignee is not None
        if not clock.pause_reminded:
            await self._wait(interrupted, until=remind_at, summary="pause: remind before its end")
            if interrupted():
                return
            clock.pause_reminded = True
            self._note(self._stage, "pause_reminded", detail=describe(assignee))
            await self._notify(
                NoticeKind.REMINDER,
                [assignee],
                facts={
                    "note": f"暂停将于{shown(until)}到期：请恢复计时或延长暂停",
                    "pause_deadline": until.isoformat(),
                },
            )
            if interrupted():
                return
        await self._wait(interrupted, until=until, summary="pause: its stated end")
        if interrupted():
            return
        async with self._serialised():
            if interrupted():
                return
            clock.resume(workflow.now())
            clock.moved((await self._instants(clock, [1.0]))[0])
            self._set_stage(
                self._stage, "pause_expired", by="chain", detail=f"the pause ended {shown(until)}"
            )
            note = {"note": f"暂停已于{shown(until)}到期，未恢复也未延长：处理时限重新计时"}
            await self._notify(NoticeKind.REMINDER, [assignee], facts=note)
            told = self._owner.above()[:1] or [assignee]
            self._note(self._stage, "supervised", detail=f"pause: {describe(told[0])}")
            await self._notify(
                NoticeKind.SUPERVISE,
                told,
                reader=Reader.SUPERVISOR,
                facts={"note": f"{describe(assignee)} 暂停到期未恢复"},
            )

    async def _step(self, point: ChainPoint, clock: Clock) -> None:
        """Take one point of a chain: a colour mark, or a step told to whoever the wait is
        on (the assignee, the triage owner, the hotline, the reviewer, the camera side)
        and the people above them."""
        action = point.action
        if isinstance(action, ClockMark):
            await self._mark(action, clock)
            return
        if self._chase_stopped and clock in (Clock.ACCEPT, Clock.RESOLVE, Clock.CONTACT):
            self._note(self._stage, "step_skipped", detail=f"{point.label}: the sensor is normal")
            return
        ladder = self._ladder_of(clock)
        holder = ladder.holder if ladder else self._owner.assignee
        assert holder is not None
        above = ladder.above() if ladder else self._owner.above()
        request = self._request_kind(clock)
        if action.kind is StepKind.REMIND:
            self._note(self._stage, f"{clock.value}_reminded", detail=describe(holder))
            await self._notify(
                request,
                [holder],
                reader=self._reader_of(holder),
                facts={"note": "提醒：时限将到，请尽快处理"},
            )
        elif action.kind is StepKind.URGE and clock in (Clock.ACCEPT, Clock.RESOLVE):
            self._note(self._stage, "urged", by="chain")
            targets = self._owner.urge_targets()
            await self._notify(NoticeKind.URGE, targets[:1])
            await self._notify(NoticeKind.URGE, targets[1:], reader=Reader.SUPERVISOR)
        elif action.kind is StepKind.ESCALATE and clock is Clock.ACCEPT:
            await self._escalate_accept()
        elif action.kind is StepKind.ESCALATE and ladder is not None:
            await self._climb(clock)
        else:  # supervise (and what has no ladder to climb): the person above hears
            told = above[:1] or [holder]
            self._note(
                self._stage, "supervised", detail=f"{clock.value} clock: {describe(told[0])}"
            )
            await self._notify(
                NoticeKind.SUPERVISE,
                told,
                reader=Reader.SUPERVISOR,
                facts={"note": f"{describe(holder)} 未在时限内处理"},
            )

    async def _escalate_accept(self) -> None:
        """Hand the unaccepted ticket to the next person up, at every tier: the escalation
        path, then the district center's duty leader and director; at the top the director
        is pressed again. The new deadline is computed before the stage is published, so
        the search attributes show it."""
        async with self._lock:
            assignee = self._owner.assignee
            if self._stage not in _WAITING_FOR_ACCEPT or self._owner.accepted_by or not assignee:
                return  # accepted or moved meanwhile
            above = self._owner.tier_above()
            if above is None:
                if self._owned() and not self._owner.press_top():
                    self._begin_stall(Clock.ACCEPT, assignee)
                    return
                self._note(
                    self._stage, "supervised", detail=f"top of the chain: {describe(assignee)}"
                )
                await self._notify(
                    NoticeKind.SUPERVISE, [assignee], facts={"note": "已升级至最高层级，请立即接单"}
                )
                if self._owned():  # pressed (and counted) above: a fresh budget each time
                    await self._restart(self._clocks[Clock.ACCEPT])
                    return
                self._owner.presses_at_top += 1
                if self._owner.presses_at_top < 3:
                    await self._restart(self._clocks[Clock.ACCEPT])
                return
            self._owner.escalate_to(above)
            await self._start_clock(Clock.ACCEPT)
            self._set_stage(Stage.ESCALATED, "escalated", detail=describe(above))
            await self._notify(
                NoticeKind.ESCALATED,
                [above],
                facts={"from_unit": describe(assignee), "reason": "未在接单时限内接单"},
            )

    async def _climb(self, clock: Clock) -> None:
        """A triage or verification wait goes up its ladder with a fresh budget; at the top
        the top is pressed again a few times."""
        ladder = self._ladder_of(clock)
        assert ladder is not None
        state = self._clocks[clock]
        was = ladder.holder
        climbed = ladder.climb()
        if climbed is None:
            if self._owned() and not ladder.press_top():
                self._begin_stall(clock, was)
                return
            self._note(
                self._stage, "supervised", detail=f"top of the {clock.value} chain: {describe(was)}"
            )
            await self._notify(
                self._request_kind(clock),
                [was],
                reader=self._reader_of(was),
                facts={"note": "已到最高层级，请立即处理"},
            )
            if self._owned() or ladder.press_top():  # (counted above when owned)
                await self._restart(state)
            return
        await self._restart(state)
        self._set_stage(self._stage, f"{clock.value}_escalated", detail=describe(climbed))
        await self._notify(
            self._request_kind(clock),
            [climbed],
            reader=self._reader_of(climbed),
            facts={"note": f"已升级：{describe(was)} 未在时限内处理"},
        )

    def _begin_stall(self, clock: Clock, holder: Assignment, detail: str = "") -> None:
        """The top was pressed in vain: the wait stalls (workflows/stall.py); its walk
        then supervises it daily (`_supervise_stall`)."""
        self._stall.begin(clock, workflow.now())
        self._set_stage(
            self._stage,
            "stalled",
            detail=detail
            or f"{clock.value} chain: the top pressed {PRESSES_AT_TOP} times in vain; "
            f"waiting on {describe(holder)}",
        )

    async def _supervise_stall(self, clock: Clock, interrupted: Callable[[], bool]) -> None:
        """督办 at once and every `supervise_every` (a day) by the district center's duty
        supervisor, with the one the wait is on, until the wait ends or its clock
        restarts; then the stall ends."""
        while not interrupted():
            answer: DistrictSupervisor = await workflow.execute_local_activity_method(
                DispatchActivities.district_supervisor,
                SupervisorRequest(at=workflow.now()),
                summary="the district center's duty supervisor (督办 of a stalled ticket)",
                start_to_close_timeout=LOCAL_TIMEOUT,
            )
            if interrupted():
                break
            if self._chase_stopped and clock in (Clock.ACCEPT, Clock.RESOLVE):  # as its steps
                self._note(self._stage, "step_skipped", detail="stalled: the sensor is normal")
                await self._wait(interrupted, timeout=answer.supervise_every)
                continue
            ladder = self._ladder_of(clock)
            holder = ladder.holder if ladder else self._owner.assignee
            assert holder is not None
            supervisor = answer.person
            self._stall.supervised(supervisor)
            self._set_stage(
                self._stage,
                "stall_supervised",
                detail=f"{clock.value}: {describe(supervisor)}; waiting on {describe(holder)}",
            )
            extra = [] if supervisor.person_id == holder.person_id else [supervisor]
            await self._notify(
                NoticeKind.SUPERVISE,
                [holder],
                reader=self._reader_of(holder),
                extra=[recipient_of(person, Reader.SUPERVISOR) for person in extra],
                facts={
                    "by": f"{supervisor.unit_name} {supervisor.person_name}",
                    "note": (
                        "已停滞：超过办理时限且催办无果，"
                        if clock is Clock.RESOLVE
                        else f"已停滞：已向最高层级督办{PRESSES_AT_TOP}次仍无人处理，"
                    )
                    + f"每日督办直至办理（{describe(holder)}）",
                },
            )
            await self._wait(
                interrupted,
                timeout=answer.supervise_every,
                summary=f"stalled {clock.value}: 督办 again in {answer.supervise_every}",
            )
        self._stall.end()
        self._set_stage(self._stage, "stall_ended", detail=clock.value)

    async def _mark(self, mark: ClockMark, clock: Clock) -> None:
        """Yellow at 80%, red at the deadline: the ticket's colour for accept and resolve."""
        assignee = self._owner.assignee
        deadline = self._clocks[clock].deadline
        if clock is Clock.CONTACT:
            if mark is ClockMark.RED and assignee is not None:
                self._note(self._stage, "first_contact_overdue", detail=describe(assignee))
                await self._notify(
                    NoticeKind.URGE, [assignee], facts={"note": "首次联系市民已超时"}
                )
            return
        if not clock.colours_ticket:
            if mark is ClockMark.RED and deadline is not None:
                self._note(self._stage, f"{clock.value}_overdue", detail=f"due {shown(deadline)}")
                self._upsert()
            return
        self._sla_colour = mark.value
        if mark is ClockMark.RED and clock is Clock.RESOLVE and deadline is not None:
            self._overdue = True
            self._note(self._stage, "overdue", detail=f"resolve deadline {shown(deadline)}")
            if assignee is not None:
                await self._notify(NoticeKind.OVERDUE, [assignee])
        self._upsert()

    def _ladder_of(self, clock: Clock) -> Ladder | None:
        if clock is Clock.TRIAGE:
            return self._triage
        if clock is Clock.VERIFY:
            return self._waiting_on
        return None

    def _request_kind(self, clock: Clock) -> NoticeKind:
        """What a reminder or escalation of the wait on `clock` asks for."""
        if clock is Clock.TRIAGE:
            return NoticeKind.TRIAGE_REQUEST
        if clock is Clock.VERIFY:
            check = self._closure_check()
            return {
                ClosureCheck.CALLBACK: NoticeKind.CALLBACK_REQUEST,
                ClosureCheck.VIDEO_RECHECK: NoticeKind.RECHECK_REQUEST,
                ClosureCheck.SENSOR_RECOVERY: NoticeKind.RECOVERY_REQUEST,
            }.get(check, NoticeKind.REVIEW_REQUEST)
        return NoticeKind.REMINDER

    def _reader_of(self, person: Assignment) -> Reader:
        if person.person_id == HOTLINE_DESK_ID:
            return Reader.HOTLINE
        if person.person_id == CAMERA_DESK_ID:
            return Reader.CAMERA
        assignee = self._owner.assignee
        holds = assignee is not None and assignee.person_id == person.person_id
        return Reader.ASSIGNEE if holds or self._stage is Stage.TRIAGE else Reader.SUPERVISOR

    def _above(self, person: Assignment) -> list[Assignment]:
        """Who is above `person` on the ticket's ladder (the reviewer's superiors)."""
        ladder = self._owner.ladder()
        ids = [a.person_id for a in ladder]
        if person.person_id in ids:
            return ladder[ids.index(person.person_id) + 1 :]
        return self._above_the_district()

    def _above_the_district(self) -> list[Assignment]:
        route = self._owner.route
        assert route is not None
        return [self._owner.district(), *route.leaders]

    async def _take(self, point: ChainPoint, clock: Clock) -> None:
        """A chain point as tickets started before NO_DEAD_ENDS take it."""
        assignee = self._owner.assignee
        assert assignee is not None
        action = point.action
        if isinstance(action, ClockMark) and clock is Clock.CONTACT:
            if action is ClockMark.RED:
                self._note(self._stage, "first_contact_overdue", detail=describe(assignee))
                await self._notify(
                    NoticeKind.URGE, [assignee], facts={"note": "首次联系市民已超时"}
                )
            return
        if isinstance(action, ClockMark):
            self._sla_colour = action.value
            deadline = self._clocks[clock].deadline
            if action is ClockMark.RED and clock is Clock.RESOLVE and deadline is not None:
                self._overdue = True
                self._note(self._stage, "overdue", detail=f"resolve deadline {shown(deadline)}")
                await self._notify(NoticeKind.OVERDUE, [assignee])
            self._upsert()
            return
        if action.kind is StepKind.REMIND:
            self._note(self._stage, "reminded", detail=describe(assignee))
            await self._notify(NoticeKind.REMINDER, [assignee])
        elif action.kind is StepKind.URGE:
            self._note(self._stage, "urged", by="chain")
            await self._notify(NoticeKind.URGE, self._owner.urge_targets())
        elif action.kind is StepKind.SUPERVISE:
            self._note(self._stage, "supervised", detail=f"{clock.value} clock")
            await self._notify(NoticeKind.SUPERVISE, self._owner.supervisors())
        elif action.kind is StepKind.ESCALATE:
            above = self._owner.tier_above()
            if above is None:
                # Already at the district: nobody higher, so press the district again.
                await self._notify(NoticeKind.SUPERVISE, [assignee])
                return
            self._escalate_to(above, "escalated")
            await self._start_clock(Clock.ACCEPT)
            await self._notify(NoticeKind.ESCALATED, [above])

    def _escalate_to(self, target: Assignment, event: str) -> None:
        self._owner.escalate_to(target)
        stage = Stage.ESCALATED if self._stage in _WAITING_FOR_ACCEPT else self._stage
        self._set_stage(stage, event, detail=describe(target))

    async def _wait(
        self,
        condition: Callable[[], bool],
        *,
        until: datetime | None = None,
        timeout: timedelta | None = None,
        summary: str | None = None,
    ) -> bool:
        """Wait for `condition`; False if the time ran out first."""
        if until is not None:
            timeout = until - workflow.now()
            if timeout <= timedelta(0):
                return condition()
        key = self._timer_seq = self._timer_seq + 1
        if timeout is not None:  # its timer: the `status_and_timers` query shows when it is due
            self._timers[key] = workflow.now() + timeout
        try:
            await workflow.wait_condition(condition, timeout=timeout, timeout_summary=summary)
        except TimeoutError:
            return False
        finally:
            self._timers.pop(key, None)
        return True

    # ================================================================== bookkeeping

    def _received_at(self) -> datetime:
        """When the intake took the ticket (not when a worker picked it up), never later
        than now (a clock ahead of the server's)."""
        return min(self._intake.received_at, workflow.now())

    def _closure_check(self) -> ClosureCheck:
        assert self._plan is not None
        return effective_check(self._plan.scenario.closure_check, self._intake)

    def _set_stage(
        self,
        stage: Stage,
        event: str,
        *,
        by: str | None = None,
        detail: str = "",
        acted_by: str | None = None,
    ) -> None:
        """Change the stage (or note an event in it) and publish: call it after the state it
        describes has changed, clocks included, so search attributes are never stale.
        `acted_by`: who did it on behalf of `by` (an operator, a delegate's key)."""
        self._stage = stage
        self._note(stage, event, by=by, detail=detail, acted_by=acted_by)
        self._upsert()

    def _note(
        self,
        stage: Stage,
        event: str,
        *,
        by: str | None = None,
        detail: str = "",
        at: datetime | None = None,
        acted_by: str | None = None,
    ) -> None:
        self._bounded()  # before the register's local activity: the patch comes first
        self._history.note(
            at or workflow.now(), stage, event, by=by, detail=detail, acted_by=acted_by
        )
        self._register_history()

    def _register_history(self) -> None:
        """The one place the lasting register is written (the city-view register): every
        history entry not yet handed over becomes a `RegisterEvent`, keyed by the ticket
        and its index so a retried write adds nothing. A local activity started, not
        awaited, so a stage change never waits on the database; `_record` waits for the
        writes before the ticket closes. Entries of intake wait for classification, so
        the first workflow task holds nothing but the classification."""
        if self._stage is Stage.INTAKE or not self._since("register-events"):
            return
        entries = self._history.entries
        batched = self._plans_at_intake()
        while self._registered < len(entries):
            event = self._register_event(self._registered)  # as things stand now
            self._registered += 1
            if batched:
                self._register_batch.append(event)
                continue
            self._register_writes.append(
                workflow.start_local_activity_method(
                    StoreActivities.record_event,
                    event,
                    summary=f"register: {event.event}",
                    start_to_close_timeout=RECORD_TIMEOUT,
                )
            )
        if batched and not self._hold_register:
            self._write_register_batch()

    def _write_register_batch(self) -> None:
        """PLAN_AT_INTAKE: the entries not yet written, in one local activity."""
        if not self._register_batch:
            return
        events, self._register_batch = self._register_batch, []
        self._register_writes.append(
            workflow.start_local_activity_method(
                StoreActivities.record_events,
                events,
                summary="register: " + ", ".join(e.event for e in events),
                start_to_close_timeout=RECORD_TIMEOUT,
            )
        )

    def _register_event(self, seq: int) -> RegisterEvent:
        entries = self._history.entries
        entry = entries[seq]
        scenario = self._classification.scenario if self._classification else None
        route, assignee, intake = self._owner.route, self._owner.assignee, self._intake
        resolve = self._clocks.get(Clock.RESOLVE)
        return RegisterEvent(
            ticket_id=intake.ticket_id,
            workflow_id=workflow.info().workflow_id,
            event_key=event_key(intake.ticket_id, seq),
            seq=seq,
            at=entry.at,
            event=entry.event,
            actor=entry.by,
            acted_by=entry.acted_by,
            detail=entry.detail[:500],
            from_stage=entries[seq - 1].stage if seq else None,
            to_stage=entry.stage,
            source=intake.source,
            received_at=intake.received_at,
            scenario_id=scenario.id if scenario else None,
            category_id=scenario.category_id if scenario else None,
            dimension=scenario.dimension if scenario else None,
            priority=self._priority(),
            street_code=route.street_code if route else None,
            station_code=route.station_code if route else None,
            tier=assignee.tier if assignee else None,
            assignee_id=assignee.person_id if assignee else None,
            accept_deadline=self._deadline(Clock.ACCEPT),
            resolve_deadline=self._deadline(Clock.RESOLVE),
            paused=resolve is not None and resolve.paused,
            overdue=self._overdue,
            address=(intake.address or (intake.alarm.site if intake.alarm else None))
            if seq == 0
            else None,
            text=intake.text if seq == 0 else None,
            caller_phone=intake.caller_phone if seq == 0 else None,
            caller_name=intake.caller_name if seq == 0 else None,
        )

    def _caller(self) -> dict[str, list[str | None]]:
        """The caller's own name and phone, masked wherever the workflow writes for people
        (UI details, notices); the full values stay in the encrypted intake."""
        return {"names": [self._intake.caller_name], "phones": [self._intake.caller_phone]}

    def _upsert(self) -> None:
        status = self._status()
        workflow.upsert_search_attributes(sa.updates(status))
        workflow.set_current_details(render_details(status, **self._caller()))

    def _status(self, include_history: bool = True, *, answer: bool = True) -> TicketStatus:
        """The ticket's status: as an update's answer (the default: it is written into the
        ticket's history, so a bounded ticket keeps its history part short) or, with
        answer=False, as the status query shows it."""
        intake, owner = self._intake, self._owner
        scenario = self._classification.scenario if self._classification else None
        assignee = owner.assignee
        resolve = self._clocks.get(Clock.RESOLVE)
        waiting = self._waiting_on if self._stage is Stage.VERIFYING else self._triage
        return TicketStatus(
            ticket_id=intake.ticket_id,
            stage=self._stage,
            source=intake.source,
            text=intake.text,
            address=intake.address or (intake.alarm.site if intake.alarm else None),
            caller_phone_masked=mask_phone(intake.caller_phone),
            scenario_id=scenario.id if scenario else None,
            scenario_name=scenario.name_zh if scenario else None,
            priority=self._priority(),
            street_code=owner.route.street_code if owner.route else None,
            station_code=owner.route.station_code if owner.route else None,
            tier=assignee.tier if assignee else None,
            assignee_id=assignee.person_id if assignee else None,
            assignee_name=assignee.person_name if assignee else None,
            accepted_by=owner.accepted_by,
            accept_deadline=self._deadline(Clock.ACCEPT),
            resolve_deadline=self._deadline(Clock.RESOLVE),
            contact_deadline=self._deadline(Clock.CONTACT),
            triage_deadline=self._deadline(Clock.TRIAGE),
            verify_deadline=self._deadline(Clock.VERIFY),
            waiting_on=describe(waiting.holder)
            if waiting and self._stage in (Stage.TRIAGE, Stage.VERIFYING)
            else None,
            contacted_at=self._contacted_at,
            paused=resolve is not None and resolve.paused,
            pause_deadline=resolve.pause_until if resolve is not None and resolve.paused else None,
            sla_colour=self._sla_colour,
            overdue=self._overdue,
            escalations=owner.escalations,
            reopens=self._check.reopens,
            alarm_events=self._alarms.count,
            returns=owner.returns,
            extensions=self._extensions,
            pending_extension=self._pending_extension,
            calendar_unconfirmed_after=self._calendar_unconfirmed_after(),
            bound_unit=owner.bound_unit,
            pending_reconsideration=self._reconsideration,
            chase_stopped=self._chase_stopped,
            stalled_since=self._stall.since,
            stalled_clock=self._stall.clock,
            stall_supervisor=describe(self._stall.supervisor) if self._stall.supervisor else None,
            classification=self._classification,
            history=self._history.shown(answer=answer) if include_history else [],
            split=self._split,
            split_from=intake.split_from,
            incident=self._links.summary(),
        )

    def _deadline(self, clock: Clock) -> datetime | None:
        state = self._clocks.get(clock)
        return state.deadline if state is not None else None

    async def _notify(
        self,
        kind: NoticeKind,
        assignments: list[Assignment],
        *,
        reader: Reader = Reader.ASSIGNEE,
        extra: list[Recipient] | None = None,
        facts: dict[str, str] | None = None,
        group: bool = True,
        inline: bool = False,
    ) -> None:
        """Tell people: `assignments` read it as `reader`, `extra` as their own. A follow-up
        about an incident's ticket goes to the person's notice group (one message for the
        incident's follow-ups within the window; the first at once). `inline`: as a local
        activity (LOCAL_ASSIGNMENT_NOTICE)."""
        recipients = [recipient_of(a, reader) for a in assignments]
        recipients += extra or []
        if not recipients:
            return
        self._notice_seq += 1
        status = self._status(include_history=False)
        info = workflow.info()
        plan = self._plan
        # A ticket linked to an incident after it started groups by that incident too.
        key = (self._links.group_key() if self._links_on else None) or (
            plan.incident_key if plan else None
        )
        grouped = (
            group
            and self._new()
            and kind.groupable
            and plan is not None
            and key is not None
            and plan.notice_group_window is not None
        )
        notice = Notice(
            kind=kind,
            ticket_id=self._intake.ticket_id,
            idempotency_key=f"{info.workflow_id}/{info.run_id}/{self._notice_seq}",
            recipients=recipients,
            title=notice_title(status),
            facts=redact_facts(self._notice_facts(status) | (facts or {}), **self._caller()),
            accept_link=self._stage in _WAITING_FOR_ACCEPT or not self._new(),
            group_key=key if grouped else None,
            group_window=plan.notice_group_window if grouped and plan else None,
            workflow_id=info.workflow_id,
        )
        if grouped:
            await workflow.execute_activity_method(
                NoticeGroupActivities.group_notice,
                notice,
                summary=f"notify {kind.value} (grouped per incident): "
                + ", ".join(r.name for r in recipients),
                start_to_close_timeout=NOTIFY_TIMEOUT,
                retry_policy=NOTIFY_RETRY,
            )
            return
        receipt = await self._send_notice(
            notice, f"notify {kind.value}: {', '.join(r.name for r in recipients)}", inline
        )
        if receipt.failed:
            self._note(
                self._stage, "notice_failed", detail=f"{kind.value} to {', '.join(receipt.failed)}"
            )
            failed_assignees = [a for a in assignments if a.person_id in receipt.failed]
            above = self._owner.tier_above() if self._owner.dispatched else None
            if failed_assignees and above is not None and above.person_id not in receipt.failed:
                await self._notify(
                    NoticeKind.SUPERVISE, [above], reader=Reader.SUPERVISOR, group=False
                )

    async def _send_notice(self, notice: Notice, summary: str, inline: bool) -> NoticeReceipt:
        """As an activity; `inline`: first one short local attempt in this workflow task,
        and, when it fails or runs out of time (a slow or down channel), the activity as
        usual, which asks the delivery log first (`after_local_attempt`): nobody the local
        attempt reached is sent it twice, and the workflow task is never held open long."""
        if inline:
            try:
                return await workflow.execute_local_activity_method(
                    NotifyActivities.send_notice,
                    notice,
                    summary=summary,
                    start_to_close_timeout=LOCAL_NOTICE_TIMEOUT,
                    retry_policy=LOCAL_NOTICE_RETRY,
                )
            except FailureError as failure:  # a local activity's failure, or its timeout
                if isinstance(failure, CancelledError):
                    raise
                self._note(self._stage, "notice_retried", detail=f"{notice.kind.value}: queued")
                notice = notice.model_copy(update={"after_local_attempt": True})
        return await workflow.execute_activity_method(
            NotifyActivities.send_notice,
            notice,
            summary=summary,
            start_to_close_timeout=NOTIFY_TIMEOUT,
            retry_policy=NOTIFY_RETRY,
        )

    def _notice_facts(self, status: TicketStatus) -> dict[str, str]:
        facts = {
            "ticket_id": status.ticket_id,
            "stage": status.stage.value,
            "scenario": f"{status.scenario_id} {status.scenario_name}"
            if status.scenario_id
            else "",
            "priority": status.priority.value if status.priority else "",
            "place": status.address or "",
            "text": status.text or "",
            "caller_phone": status.caller_phone_masked or "",
            "street": status.street_code or "",
            "reopens": str(self._check.reopens),
        }
        for clock in Clock:
            deadline = self._deadline(clock)
            if deadline is not None:
                facts[f"{clock.value}_deadline"] = deadline.isoformat()
        resolution = self._check.resolution
        if resolution is not None:
            facts["resolution"] = resolution.note
            if resolution.photo is not None:
                facts["photo_url"] = resolution.photo.url
        alarm = self._intake.alarm
        if alarm is not None:
            facts["device"] = alarm.device_id
            if alarm.detection:
                facts["detection"] = alarm.detection
        return facts

    async def _record(self, event: str) -> None:
        """Close the register's books at a stage boundary (triage, dispatch, close): with
        the lasting register, wait for the event writes `_register_history` started;
        tickets from before it write their row here, as they did."""
        if self._since("register-events"):  # every entry is written by _register_history
            self._write_register_batch()
            writes, self._register_writes = self._register_writes, []
            await asyncio.gather(*writes)
            return
        scenario = self._classification.scenario if self._classification else None
        assignee = self._owner.assignee
        record = TicketRecord(
            ticket_id=self._intake.ticket_id,
            workflow_id=workflow.info().workflow_id,
            stage=self._stage,
            intake=self._intake,
            scenario_id=scenario.id if scenario else None,
            street_code=self._owner.route.street_code if self._owner.route else None,
            assignee_id=assignee.person_id if assignee else None,
            tier=assignee.tier if assignee else None,
            event=event,
            at=workflow.now(),
        )
        if self._since("record-as-local-activity"):
            await workflow.execute_local_activity_method(
                StoreActivities.record_ticket,
                record,
                summary=f"record: {event}",
                start_to_close_timeout=RECORD_TIMEOUT,
            )
        else:  # tickets recorded before the change replay as they ran
            await workflow.execute_activity_method(
                StoreActivities.record_ticket,
                record,
                summary=f"record: {event}",
                start_to_close_timeout=RECORD_TIMEOUT,
            )


# The route rule the routing activity names when the last allowed return goes to the district.
FINAL_RULING = "return:final-ruling"


def _default_budget(plan: DispatchPlan, clock: Clock) -> timedelta:
    sla = plan.sla
    if clock is Clock.CONTACT:
        return sla.first_contact_within or sla.accept_within
    return sla.accept_within if clock is Clock.ACCEPT else sla.resolve_within


def notice_title(status: TicketStatus) -> str:
    return f"{status.ticket_id} {status.scenario_name or '待分类'} {status.address or ''}".strip()


def recipient_of(assignment: Assignment, reader: Reader = Reader.ASSIGNEE) -> Recipient:
    return Recipient(
        person_id=assignment.person_id,
        name=assignment.person_name,
        unit_code=assignment.unit_code,
        tier=assignment.tier,
        reader=reader,
    )


def explain_classification(classification: Classification) -> str:
    assert classification.scenario is not None
    rules = ", ".join(m.rule for m in classification.matched[:5])
    scenario, version = classification.scenario.id, classification.rules_version
    return f"{scenario} {classification.confidence:.2f} [{rules}] rules {version}"
