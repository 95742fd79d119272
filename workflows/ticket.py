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
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from cityops.activities.dispatch import DispatchActivities
    from cityops.activities.notify import NotifyActivities
    from cityops.activities.route import RoutingActivities
    from cityops.activities.store import StoreActivities
    from cityops.domain.alarms import alarm_intake
    from cityops.domain.masking import mask_phone, redact_facts
    from cityops.domain.models import (
        HOTLINE_DESK_ID,
        AcceptInput,
        AlarmEvent,
        Assignment,
        CallbackInput,
        Classification,
        ContactInput,
        DismissInput,
        DispatchPlan,
        ExtensionDecision,
        ExtensionRequest,
        Notice,
        PauseInput,
        PlanRequest,
        RecheckInput,
        Recipient,
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
        StatusInput,
        TicketIntake,
        TicketOutcome,
        TicketRecord,
        TicketStatus,
        TransferInput,
        TransferRequest,
        TriageDecision,
        UrgeInput,
    )
    from cityops.domain.register import RegisterEvent, event_key
    from cityops.domain.stages import (
        Clock,
        ClosureCheck,
        NoticeKind,
        Stage,
        StepKind,
        Tier,
    )

from cityops.workflows import search_attributes as sa
from cityops.workflows.alarm_stream import AlarmStream, Seen
from cityops.workflows.clock import SlaClock
from cityops.workflows.details import render_details
from cityops.workflows.escalation import ChainPoint, ClockMark, chain_points
from cityops.workflows.history import TicketHistory
from cityops.workflows.ownership import Ownership, describe
from cityops.workflows.split import (
    SPLIT_EVENT,
    SPLIT_FROM_EVENT,
    check_split,
    split_detail,
    split_record,
)
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
RECORD_TIMEOUT = timedelta(seconds=30)
ROUTE_TIMEOUT = timedelta(seconds=30)
ROUTE_RETRY = RetryPolicy(maximum_attempts=5)
HOTLINE_DESK = Recipient(
    person_id=HOTLINE_DESK_ID, name="12345热线回访", unit_code="HOTLINE", tier=Tier.DISTRICT
)
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
        self._stage = Stage.INTAKE
        self._classification: Classification | None = None
        self._plan: DispatchPlan | None = None
        self._owner = Ownership()
        self._clocks: dict[Clock, SlaClock] = {}  # one per clock from dispatch on
        self._sla_colour = "green"
        self._overdue = False
        self._contacted_at: datetime | None = None
        self._contact_watch: asyncio.Task[None] | None = None
        self._extensions = 0
        self._pending_extension: ExtensionRequest | None = None
        self._check = Verification()
        self._alarms = AlarmStream()
        self._history = TicketHistory()
        self._ruling: RuleClosureInput | None = None
        self._dismissal: DismissInput | None = None
        self._split: SplitRecord | None = None  # the secondary issue became this ticket
        self._registered = 0  # history entries handed to the register so far
        self._register_writes: list[asyncio.Task[Any]] = []
        self._notice_seq = 0

    # ================================================================== the stages

    @workflow.run
    async def run(self, intake: TicketIntake) -> TicketOutcome:
        self._note(Stage.INTAKE, "received", detail=intake.source.value)
        if intake.split_from is not None:  # a note, not a command: replays unchanged
            self._note(Stage.INTAKE, SPLIT_FROM_EVENT, detail=f"ticket {intake.split_from}")
        if intake.alarm is not None:
            self._take_alarm_event(intake.alarm)
        self._classification = await self._classify()
        if self._classification.needs_triage:
            await self._await_triage()
            if self._dismissal is not None:
                return await self._close()
        await self._dispatch()
        await self._await_acceptance()
        while not await self._work_and_verify():
            if self._ruling is not None:
                break
            await self._reopen()
        outcome = await self._close()
        if self._alarms.next_firing is not None:
            # Same workflow id, new run, new ticket number: as if intake had started it.
            workflow.continue_as_new(alarm_intake(self._alarms.next_firing, workflow.now()))
        return outcome

    async def _classify(self) -> Classification:
        classification = await workflow.execute_local_activity_method(
            DispatchActivities.classify_ticket,
            self._intake,
            summary="classify the ticket by the rules",
            start_to_close_timeout=LOCAL_TIMEOUT,
        )
        if classification.needs_triage:
            self._set_stage(Stage.TRIAGE, "needs_triage", detail=classification.reason)
        elif workflow.patched("one-upsert-at-dispatch"):
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
        work order with a reason (`dismiss`); nothing is dropped silently."""
        await workflow.wait_condition(
            lambda: (
                self._dismissal is not None
                or (self._classification is not None and not self._classification.needs_triage)
            )
        )

    async def _dispatch(self) -> None:
        assert self._classification is not None
        self._plan = plan = await workflow.execute_local_activity_method(
            DispatchActivities.plan_dispatch,
            PlanRequest(
                intake=self._intake, classification=self._classification, at=workflow.now()
            ),
            summary="route to a unit and person; snapshot SLA and escalation chain",
            start_to_close_timeout=LOCAL_TIMEOUT,
        )
        self._clocks = {c: SlaClock(c, chain_points(plan.escalation, c)) for c in Clock}
        self._owner.take_route(plan.route)
        assignee = plan.route.assignee
        self._owner.dispatched_at = workflow.now()
        await self._start_clock(Clock.ACCEPT)
        self._set_stage(Stage.AWAITING_ACCEPT, "dispatched", detail=describe(assignee))
        await self._notify(NoticeKind.ASSIGNED, [assignee])
        if plan.route.co_handlers:
            await self._notify(NoticeKind.CO_HANDLING, plan.route.co_handlers)
        await self._record("dispatched")

    async def _await_acceptance(self) -> None:
        # Done once `accept` has the resolve clock's deadline (it computes it in the update).
        await self._follow_chain(
            Clock.ACCEPT, done=lambda: self._clocks[Clock.RESOLVE].started_at_all
        )

    async def _work_and_verify(self) -> bool:
        """Wait for the fix, then prove it. True when proven (or ruled closed)."""
        await self._follow_chain(Clock.RESOLVE, done=lambda: self._check.resolution is not None)
        if self._ruling is not None:
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
        await self._notify(NoticeKind.CALLBACK_REQUEST, [], extra=[HOTLINE_DESK])
        await self._wait(lambda: self._check.callback is not None or self._ruling is not None)
        callback = self._check.callback
        if self._ruling is not None or callback is None:
            return True
        self._note(
            self._stage, f"callback_{callback.result.value}", by=callback.by, detail=callback.note
        )
        return self._check.callback_passed

    async def _verify_by_photo_review(self) -> bool:
        await self._notify(NoticeKind.REVIEW_REQUEST, [self._owner.reviewer()])
        await self._wait(lambda: self._check.review is not None or self._ruling is not None)
        review = self._check.review
        if self._ruling is not None or review is None:
            return True
        self._note(
            self._stage, f"photo_{review.decision.value}", by=review.by, detail=review.reason
        )
        return self._check.review_passed

    async def _verify_by_sensor_recovery(self) -> bool:
        assert self._plan is not None
        check = self._check
        while check.recovered_at is None and self._ruling is None:
            recovered = await self._wait(
                lambda: check.recovered_at is not None or self._ruling is not None,
                timeout=self._plan.recovery_patience,
                summary="wait for the sensor to report normal",
            )
            if not recovered:
                self._note(self._stage, "no_recovery", detail="sensor still not normal")
                await self._notify(NoticeKind.SUPERVISE, self._owner.supervisors())
        if self._ruling is not None:
            return True
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

    async def _reopen(self) -> None:
        assert self._plan is not None and self._owner.assignee is not None
        self._check.reopen()
        if (
            self._check.reopens > self._plan.max_reopens
            and self._owner.assignee.tier is not Tier.DISTRICT
        ):
            # Repeated failure is the district's problem now.
            self._escalate_to(self._owner.district(), "escalated_after_reopens")
            await self._notify(NoticeKind.SUPERVISE, [self._owner.district()])
        await self._start_clock(Clock.RESOLVE)
        self._set_stage(Stage.REOPENED, "reopened", detail=f"reopen #{self._check.reopens}")
        await self._notify(NoticeKind.REOPENED, [self._owner.assignee])

    async def _close(self) -> TicketOutcome:
        fixed = self._ruling is None and self._dismissal is None
        if self._dismissal is not None:
            self._set_stage(
                Stage.DISMISSED, "dismissed", by=self._dismissal.by, detail=self._dismissal.reason
            )
        elif fixed:
            self._set_stage(Stage.CLOSED, "closed")
        else:
            assert self._ruling is not None
            self._set_stage(
                Stage.CLOSED_UNFIXED,
                "closed_unfixed",
                by=self._ruling.by,
                detail=self._ruling.reason,
            )
        if self._contact_watch is not None and not self._contact_watch.done():
            self._contact_watch.cancel()
        await self._record("closed")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return TicketOutcome(
            ticket_id=self._intake.ticket_id,
            stage=self._stage,
            fixed=fixed,
            reopens=self._check.reopens,
            escalations=self._owner.escalations,
            closed_at=workflow.now(),
        )

    # ================================================================== updates: triage

    @workflow.update
    async def classify(self, decision: TriageDecision) -> TicketStatus:
        """A district dispatcher classifies a ticket that the rules could not."""
        classification = await workflow.execute_local_activity_method(
            DispatchActivities.classify_ticket,
            self._intake.model_copy(update={"service_code": decision.scenario_id}),
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
            detail=f"{decision.scenario_id} {decision.note}".strip(),
        )
        return self._status()

    @classify.validator
    def _validate_classify(self, decision: TriageDecision) -> None:
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
        self._note(self._stage, SPLIT_EVENT, by=request.by, detail=detail)
        workflow.set_current_details(render_details(self._status(), **self._caller()))
        return SplitOutcome(new_ticket_id=record.new_ticket_id, status=self._status())

    @split_secondary.validator
    def _validate_split_secondary(self, request: SplitInput) -> None:
        check_split(self._classification, self._split, request)

    # ================================================================== updates: acceptance

    @workflow.update
    async def accept(self, request: AcceptInput) -> TicketStatus:
        """Acceptance stops the accept chain and starts the resolve clock at once, so the
        answer carries the resolve deadline."""
        self._owner.accepted_by = request.person_id
        await self._start_clock(Clock.RESOLVE)
        # Patched: tickets accepted before the first-contact clock existed replay without it.
        if (
            self._intake.caller_phone
            and self._contact_watch is None
            and workflow.patched("first-contact-clock")
        ):
            await self._start_clock(Clock.CONTACT)
            self._contact_watch = asyncio.create_task(
                self._follow_chain(Clock.CONTACT, done=lambda: self._contacted_at is not None)
            )
        self._set_stage(Stage.ACCEPTED, "accepted", by=request.person_id)
        return self._status()

    @accept.validator
    def _validate_accept(self, request: AcceptInput) -> None:
        if self._stage not in _WAITING_FOR_ACCEPT or self._owner.accepted_by:
            raise ValueError(
                f"ticket is {self._stage.value}; only a dispatched ticket can be accepted"
            )
        allowed = self._owner.allowed_acceptors()
        if request.person_id not in allowed:
            raise ValueError(
                f"{request.person_id} is not assigned to this ticket "
                f"(assigned: {', '.join(allowed)})"
            )

    @workflow.update
    async def return_ticket(self, request: ReturnInput) -> TicketStatus:
        """退单: not our jurisdiction or duty. Re-routed; the accept clock keeps running."""
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
        detail = f"{request.reason.code.value}: {request.reason.note}".strip(": ")
        await self._reroute(route, "returned", by=request.person_id, detail=detail)
        return self._status()

    @return_ticket.validator
    def _validate_return(self, request: ReturnInput) -> None:
        if self._stage not in _WAITING_FOR_ACCEPT:
            raise ValueError(
                f"ticket is {self._stage.value}; only a ticket not yet accepted can be returned"
            )
        self._require_assignee(request.person_id)

    @workflow.update
    async def transfer(self, request: TransferInput) -> TicketStatus:
        """A dispatcher hands the ticket to another unit, with the reason recorded."""
        assert self._owner.route is not None
        route = await workflow.execute_activity_method(
            RoutingActivities.transfer_ticket,
            TransferRequest(
                current=self._owner.route,
                target_unit=request.target_unit,
                reason=request.reason,
                at=workflow.now(),
            ),
            summary=f"transfer to {request.target_unit}",
            start_to_close_timeout=ROUTE_TIMEOUT,
            retry_policy=ROUTE_RETRY,
        )
        await self._reroute(
            route, "transferred", by=request.by, detail=f"{request.target_unit}: {request.reason}"
        )
        return self._status()

    @transfer.validator
    def _validate_transfer(self, request: TransferInput) -> None:
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
                f"{request.by} may not transfer this ticket "
                f"(dispatchers: {', '.join(dispatchers)}; the assignee only to "
                f"a unit under {assignee.unit_code})"
            )

    async def _reroute(self, route: RoutePlan, event: str, *, by: str, detail: str) -> None:
        """Put the ticket in front of the new route's assignee."""
        self._owner.reroute(route)
        self._set_stage(self._stage, event, by=by, detail=f"{detail} → {describe(route.assignee)}")
        await self._notify(
            NoticeKind.RETURNED, [route.assignee], facts={"by": by, "reason": detail}
        )

    # ================================================================== updates: the work

    @workflow.update
    def contact_citizen(self, request: ContactInput) -> TicketStatus:
        """The assignee has reached the citizen: the first-contact clock stops."""
        self._contacted_at = workflow.now()
        self._note(self._stage, "citizen_contacted", by=request.person_id, detail=request.note)
        return self._status()

    @contact_citizen.validator
    def _validate_contact(self, request: ContactInput) -> None:
        self._require_assignee_working(request.person_id)
        if self._contacted_at is not None:
            raise ValueError(
                f"first contact already recorded at {self._contacted_at:%Y-%m-%d %H:%M}"
            )

    @workflow.update
    def pause_clock(self, request: PauseInput) -> TicketStatus:
        """Stop the resolve clock while the ticket waits on the citizen."""
        self._clocks[Clock.RESOLVE].pause(workflow.now())
        self._set_stage(self._stage, "clock_paused", by=request.person_id, detail=request.reason)
        return self._status()

    @pause_clock.validator
    def _validate_pause(self, request: PauseInput) -> None:
        self._require_assignee_working(request.person_id)
        since = self._clocks[Clock.RESOLVE].paused_since
        if since is not None:
            raise ValueError(f"the clock is already paused since {since:%Y-%m-%d %H:%M}")

    @workflow.update
    async def resume_clock(self, request: ResumeInput) -> TicketStatus:
        """Restart the resolve clock; its deadline moves by the paused time on its calendar."""
        clock = self._clocks[Clock.RESOLVE]
        clock.resume(workflow.now())
        clock.moved((await self._instants(clock, [1.0]))[0])
        self._set_stage(self._stage, "clock_resumed", by=request.person_id, detail=request.note)
        return self._status()

    @resume_clock.validator
    def _validate_resume(self, request: ResumeInput) -> None:
        self._require_assignee_working(request.person_id)
        if not self._clocks[Clock.RESOLVE].paused:
            raise ValueError("the clock is not paused")

    @workflow.update
    async def request_extension(self, request: ExtensionRequest) -> TicketStatus:
        """延期: the assignee asks for a later resolve deadline; the tier above decides."""
        self._pending_extension = request
        self._note(
            self._stage,
            "extension_requested",
            by=request.person_id,
            detail=f"to {request.new_deadline:%Y-%m-%d %H:%M}: {request.reason}",
        )
        await self._notify(
            NoticeKind.EXTENSION_REQUESTED,
            self._owner.supervisors(),
            facts={
                "by": request.person_id,
                "reason": request.reason,
                "new_deadline": request.new_deadline.isoformat(),
            },
        )
        return self._status()

    @request_extension.validator
    def _validate_request_extension(self, request: ExtensionRequest) -> None:
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
            raise ValueError(
                f"the resolve deadline {deadline:%Y-%m-%d %H:%M} has passed; ask before it"
            )
        if deadline is not None and request.new_deadline <= deadline:
            raise ValueError(
                f"new_deadline must be after the current deadline {deadline:%Y-%m-%d %H:%M}"
            )

    @workflow.update
    async def decide_extension(self, decision: ExtensionDecision) -> TicketStatus:
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
            detail=decision.note,
        )
        facts = {
            "by": decision.by,
            "reason": decision.note,
            "decision": "approved" if decision.approve else "rejected",
        }
        if decision.approve:
            facts["new_deadline"] = request.new_deadline.isoformat()
        await self._notify(
            NoticeKind.EXTENSION_DECIDED, [self._owner.assignee], extra=[HOTLINE_DESK], facts=facts
        )
        return self._status()

    @decide_extension.validator
    def _validate_decide_extension(self, decision: ExtensionDecision) -> None:
        if self._pending_extension is None:
            raise ValueError("no extension request is waiting for a decision")
        deciders = self._owner.supervisor_ids()
        if decision.by not in deciders:
            raise ValueError(f"{decision.by} may not decide (deciders: {', '.join(deciders)})")

    @workflow.update
    def resolve(self, request: ResolveInput) -> TicketStatus:
        self._check.resolution = request
        self._set_stage(Stage.RESOLVED, "resolved", by=request.person_id, detail=request.note)
        return self._status()

    @resolve.validator
    def _validate_resolve(self, request: ResolveInput) -> None:
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
            raise ValueError(f"{request.person_id} is not the assignee ({assignee.person_id})")
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
        self._require_verifying(ClosureCheck.CALLBACK)

    @workflow.update
    def review(self, review: ReviewInput) -> TicketStatus:
        self._check.review = review
        return self._status()

    @review.validator
    def _validate_review(self, review: ReviewInput) -> None:
        self._require_verifying(ClosureCheck.PHOTO_REVIEW)
        reviewers = self._owner.supervisor_ids()
        if review.by not in reviewers:
            raise ValueError(
                f"{review.by} may not review this photo (reviewers: {', '.join(reviewers)})"
            )

    @workflow.update
    def recheck(self, result: RecheckInput) -> TicketStatus:
        self._check.recheck = result
        return self._status()

    @recheck.validator
    def _validate_recheck(self, result: RecheckInput) -> None:
        self._require_verifying(ClosureCheck.VIDEO_RECHECK)

    # ================================================================== updates: supervision

    @workflow.update
    async def urge(self, request: UrgeInput) -> TicketStatus:
        """A supervisor urges (催办) by hand."""
        assert self._owner.assignee is not None
        self._note(self._stage, "urged", by=request.by, detail=request.note)
        await self._notify(
            NoticeKind.URGE, [self._owner.assignee], facts={"by": request.by, "note": request.note}
        )
        return self._status()

    @urge.validator
    def _validate_urge(self, request: UrgeInput) -> None:
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
        if self._stage.is_final or not self._owner.dispatched:
            raise ValueError(
                f"ticket is {self._stage.value}; "
                "only an open, dispatched ticket can be ruled closed"
            )

    # ------------------------------------------------------------------ shared validation

    def _require_assignee(self, person_id: str) -> None:
        assignee = self._owner.assignee
        assert assignee is not None
        if person_id != assignee.person_id:
            raise ValueError(f"{person_id} is not the assignee ({assignee.person_id})")

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

    # ================================================================== signal and query

    @workflow.signal(name=ALARM_EVENT_SIGNAL)
    def alarm_event(self, event: AlarmEvent) -> None:
        """Another event from the device that raised this ticket: recorded once per event_id."""
        self._take_alarm_event(event)

    def _take_alarm_event(self, event: AlarmEvent) -> None:
        seen = self._alarms.take(event, ticket_closed=self._stage.is_final)
        if seen is Seen.RESOLVED:
            self._check.sensor_normal(workflow.now())
            self._note(self._stage, "alarm_resolved", detail=event.event_id)
        elif seen is Seen.FIRING:
            self._check.sensor_fired(workflow.now())
            if self._alarms.count > 1:
                self._note(self._stage, "alarm_repeated", detail=event.event_id)

    @workflow.query
    def status(self, request: StatusInput | None = None) -> TicketStatus:
        return self._status(include_history=request is None or request.include_history)

    # ================================================================== clocks and chains

    async def _start_clock(
        self, clock: Clock, budget: timedelta | None = None, working_time: bool | None = None
    ) -> None:
        """(Re)start a clock; by default with the plan's budget and calendar."""
        assert self._plan is not None
        sla = self._plan.sla
        state = self._clocks[clock]
        state.restart(
            workflow.now(),
            budget or _default_budget(self._plan, clock),
            sla.working_time if working_time is None else working_time,
        )
        if workflow.patched("chain-instants-at-clock-start"):
            # One local activity for the deadline and every step of the first walk.
            state.started(await self._instants(state, state.start_fractions()))
        else:
            state.deadline = (await self._instants(state, [1.0]))[0]
        if clock is not Clock.CONTACT:
            self._sla_colour = "green"

    async def _instants(self, clock: SlaClock, fractions: list[float]) -> list[datetime]:
        calendar = "working calendar" if clock.working_time else "wall clock"
        result = await workflow.execute_local_activity_method(
            DispatchActivities.compute_deadlines,
            clock.request(fractions),
            summary=f"{clock.clock.value} clock on the {calendar}",
            start_to_close_timeout=LOCAL_TIMEOUT,
        )
        return result.instants

    async def _follow_chain(self, clock: Clock, done: Callable[[], bool]) -> None:
        """Walk the plan's steps for `clock` until done; a restarted clock walks again."""

        def finished() -> bool:
            return done() or self._ruling is not None

        state = self._clocks[clock]
        while not finished():
            await self._walk_once(state, state.run, finished)

    async def _walk_once(self, clock: SlaClock, run: int, finished: Callable[[], bool]) -> None:
        """One pass over the clock's points; returns early when finished or restarted."""

        def interrupted() -> bool:
            return finished() or clock.run != run

        if clock.clock is Clock.RESOLVE and clock.paused:
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
            await self._take(point, clock.clock)
            if interrupted():
                return
        await self._wait(interrupted)

    async def _take(self, point: ChainPoint, clock: Clock) -> None:
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
                self._note(
                    self._stage, "overdue", detail=f"resolve deadline {deadline:%Y-%m-%d %H:%M}"
                )
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
        try:
            await workflow.wait_condition(condition, timeout=timeout, timeout_summary=summary)
        except TimeoutError:
            return False
        return True

    # ================================================================== bookkeeping

    def _closure_check(self) -> ClosureCheck:
        assert self._plan is not None
        return effective_check(self._plan.scenario.closure_check, self._intake)

    def _set_stage(
        self, stage: Stage, event: str, *, by: str | None = None, detail: str = ""
    ) -> None:
        self._stage = stage
        self._note(stage, event, by=by, detail=detail)
        self._upsert()

    def _note(self, stage: Stage, event: str, *, by: str | None = None, detail: str = "") -> None:
        self._history.note(workflow.now(), stage, event, by=by, detail=detail)
        self._register_history()

    def _register_history(self) -> None:
        """The one place the lasting register is written: every history entry not yet
        handed over becomes a `RegisterEvent`, keyed by its index so a retry writes nothing
        twice. A local activity (no server round trip: a regular one per event cut intake
        throughput several times over), started, not awaited, so a stage change never
        waits on the database; `_record` waits for the writes before the ticket closes.

        Entries of intake wait for classification, so the first workflow task holds
        nothing but the classification (a command beside it there broke replay when a
        query cut that task short)."""
        if self._stage is Stage.INTAKE or not workflow.patched("register-events"):
            return
        entries = self._history.entries
        while self._registered < len(entries):
            event = self._register_event(self._registered)
            self._registered += 1
            self._register_writes.append(
                workflow.start_local_activity_method(
                    StoreActivities.record_event,
                    event,
                    summary=f"register: {event.event}",
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
            detail=entry.detail[:500],
            from_stage=entries[seq - 1].stage if seq else None,
            to_stage=entry.stage,
            source=intake.source,
            received_at=intake.received_at,
            scenario_id=scenario.id if scenario else None,
            category_id=scenario.category_id if scenario else None,
            dimension=scenario.dimension if scenario else None,
            priority=scenario.priority if scenario else None,
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

    def _status(self, include_history: bool = True) -> TicketStatus:
        intake, owner = self._intake, self._owner
        scenario = self._classification.scenario if self._classification else None
        assignee = owner.assignee
        resolve = self._clocks.get(Clock.RESOLVE)
        return TicketStatus(
            ticket_id=intake.ticket_id,
            stage=self._stage,
            source=intake.source,
            text=intake.text,
            address=intake.address or (intake.alarm.site if intake.alarm else None),
            caller_phone_masked=mask_phone(intake.caller_phone),
            scenario_id=scenario.id if scenario else None,
            scenario_name=scenario.name_zh if scenario else None,
            priority=scenario.priority if scenario else None,
            street_code=owner.route.street_code if owner.route else None,
            tier=assignee.tier if assignee else None,
            assignee_id=assignee.person_id if assignee else None,
            assignee_name=assignee.person_name if assignee else None,
            accept_deadline=self._deadline(Clock.ACCEPT),
            resolve_deadline=self._deadline(Clock.RESOLVE),
            contact_deadline=self._deadline(Clock.CONTACT),
            contacted_at=self._contacted_at,
            paused=resolve is not None and resolve.paused,
            sla_colour=self._sla_colour,
            overdue=self._overdue,
            escalations=owner.escalations,
            reopens=self._check.reopens,
            alarm_events=self._alarms.count,
            returns=owner.returns,
            extensions=self._extensions,
            pending_extension=self._pending_extension,
            classification=self._classification,
            history=list(self._history.entries) if include_history else [],
            split=self._split,
            split_from=intake.split_from,
        )

    def _deadline(self, clock: Clock) -> datetime | None:
        state = self._clocks.get(clock)
        return state.deadline if state is not None else None

    async def _notify(
        self,
        kind: NoticeKind,
        assignments: list[Assignment],
        *,
        extra: list[Recipient] | None = None,
        facts: dict[str, str] | None = None,
    ) -> None:
        recipients = [recipient_of(a) for a in assignments]
        recipients += extra or []
        if not recipients:
            return
        self._notice_seq += 1
        status = self._status(include_history=False)
        info = workflow.info()
        notice = Notice(
            kind=kind,
            ticket_id=self._intake.ticket_id,
            idempotency_key=f"{info.workflow_id}/{info.run_id}/{self._notice_seq}",
            recipients=recipients,
            title=notice_title(status),
            facts=redact_facts(self._notice_facts(status) | (facts or {}), **self._caller()),
        )
        receipt = await workflow.execute_activity_method(
            NotifyActivities.send_notice,
            notice,
            summary=f"notify {kind.value}: {', '.join(r.name for r in recipients)}",
            start_to_close_timeout=NOTIFY_TIMEOUT,
            retry_policy=NOTIFY_RETRY,
        )
        if receipt.failed:
            self._note(
                self._stage, "notice_failed", detail=f"{kind.value} to {', '.join(receipt.failed)}"
            )
            failed_assignees = [a for a in assignments if a.person_id in receipt.failed]
            above = self._owner.tier_above()
            if failed_assignees and above is not None and above.person_id not in receipt.failed:
                await self._notify(NoticeKind.SUPERVISE, [above])

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
        return facts

    async def _record(self, event: str) -> None:
        """Write the register row. A local activity: one short database write needs no
        server round trip, and that round trip is what limits new tickets per second."""
        if workflow.patched("register-events"):  # every entry is written by _register_history
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
        if workflow.patched("record-as-local-activity"):
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


def _default_budget(plan: DispatchPlan, clock: Clock) -> timedelta:
    sla = plan.sla
    if clock is Clock.CONTACT:
        return sla.first_contact_within or sla.accept_within
    return sla.accept_within if clock is Clock.ACCEPT else sla.resolve_within


def notice_title(status: TicketStatus) -> str:
    return f"{status.ticket_id} {status.scenario_name or '待分类'} {status.address or ''}".strip()


def recipient_of(assignment: Assignment) -> Recipient:
    return Recipient(
        person_id=assignment.person_id,
        name=assignment.person_name,
        unit_code=assignment.unit_code,
        tier=assignment.tier,
    )


def explain_classification(classification: Classification) -> str:
    assert classification.scenario is not None
    rules = ", ".join(m.rule for m in classification.matched[:5])
    scenario, version = classification.scenario.id, classification.rules_version
    return f"{scenario} {classification.confidence:.2f} [{rules}] rules {version}"
