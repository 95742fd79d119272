"""TicketWorkflow: one complaint or alarm, from intake to verified closure.

Read `run` top to bottom: it is the life of a work order. Everything that touches
the world (rules, the organisation, people, the database) is an activity; this
module only decides, waits and remembers.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.models import (
        AcceptInput,
        AlarmEvent,
        Assignment,
        CallbackInput,
        Classification,
        ContactInput,
        DeadlinesRequest,
        DeadlinesResult,
        DispatchPlan,
        ExtensionDecision,
        ExtensionRequest,
        HistoryEntry,
        Notice,
        NoticeReceipt,
        Pause,
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
    from domain.stages import (
        CallbackResult,
        Clock,
        ClosureCheck,
        NoticeKind,
        ReviewDecision,
        Stage,
        StepKind,
        Tier,
    )
    from workflows import search_attributes as sa
    from workflows.details import render_details
    from workflows.escalation import ChainPoint, ClockMark, chain_points

LOCAL_TIMEOUT = timedelta(seconds=10)
NOTIFY_TIMEOUT = timedelta(seconds=60)
# The notifier returns failures from attempt 5 on, so it needs at least 5 attempts.
NOTIFY_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=20)
RECORD_TIMEOUT = timedelta(seconds=30)
ROUTE_TIMEOUT = timedelta(seconds=30)
ROUTE_RETRY = RetryPolicy(maximum_attempts=5)
HOTLINE_DESK = Recipient(
    person_id="hotline", name="12345热线回访", unit_code="HOTLINE", tier=Tier.DISTRICT
)


@workflow.defn(name="TicketWorkflow")
class TicketWorkflow:
    @workflow.init
    def __init__(self, intake: TicketIntake) -> None:
        self._intake = intake
        self._stage = Stage.INTAKE
        self._history: list[HistoryEntry] = []
        self._classification: Classification | None = None
        self._plan: DispatchPlan | None = None
        self._route: RoutePlan | None = None  # the plan's route, replaced by returns and transfers
        self._returns = 0
        self._extensions = 0
        self._pending_extension: ExtensionRequest | None = None
        self._clock_budget: dict[Clock, timedelta] = {}
        self._clock_working: dict[Clock, bool] = {}
        self._clock_pauses: dict[Clock, list[Pause]] = {}
        self._clock_reached: dict[Clock, float] = {}  # last point taken on the current run
        self._paused_since: datetime | None = None
        self._contacted_at: datetime | None = None
        self._contact_watch: asyncio.Task[None] | None = None
        self._assignee: Assignment | None = None
        self._previous_assignees: list[str] = []
        self._dispatched_at: datetime | None = None
        self._accepted_by: str | None = None
        self._resolution: ResolveInput | None = None
        self._callback: CallbackInput | None = None
        self._review: ReviewInput | None = None
        self._recheck: RecheckInput | None = None
        self._ruling: RuleClosureInput | None = None
        self._deadlines: dict[Clock, datetime] = {}
        self._clock_start: dict[Clock, datetime] = {}
        self._clock_epoch: dict[Clock, int] = {clock: 0 for clock in Clock}
        self._sla_colour = "green"
        self._overdue = False
        self._escalations = 0
        self._reopens = 0
        self._notice_seq = 0
        self._event_ids: set[str] = set()
        self._alarm_events = 0
        self._recovered_at: datetime | None = None
        self._refired_at: datetime | None = None

    # ------------------------------------------------------------------ the stages

    @workflow.run
    async def run(self, intake: TicketIntake) -> TicketOutcome:
        self._note(Stage.INTAKE, "received", detail=intake.source.value)
        if intake.alarm is not None:
            self._take_alarm_event(intake.alarm)
        self._classification = await self._classify()
        if self._classification.needs_triage:
            await self._await_triage()
        await self._dispatch()
        await self._await_acceptance()
        while not await self._work_and_verify():
            if self._ruling is not None:
                break
            await self._reopen()
        return await self._close()

    async def _classify(self) -> Classification:
        classification: Classification = await workflow.execute_local_activity(
            "classify_ticket",
            self._intake,
            result_type=Classification,
            summary="classify the ticket by the rules",
            start_to_close_timeout=LOCAL_TIMEOUT,
        )
        if classification.needs_triage:
            self._set_stage(Stage.TRIAGE, "needs_triage", detail=classification.reason)
        else:
            self._set_stage(Stage.CLASSIFIED, "classified", detail=_why(classification))
        return classification

    async def _await_triage(self) -> None:
        """A district dispatcher classifies it by the `classify` update; nothing is dropped."""
        await workflow.wait_condition(
            lambda: self._classification is not None and not self._classification.needs_triage
        )

    async def _dispatch(self) -> None:
        assert self._classification is not None
        self._plan = await workflow.execute_local_activity(
            "plan_dispatch",
            PlanRequest(
                intake=self._intake, classification=self._classification, at=workflow.now()
            ),
            result_type=DispatchPlan,
            summary="route to a unit and person; snapshot SLA and escalation chain",
            start_to_close_timeout=LOCAL_TIMEOUT,
        )
        self._route = self._plan.route
        self._assignee = self._route.assignee
        self._dispatched_at = workflow.now()
        await self._start_clock(Clock.ACCEPT)
        self._set_stage(Stage.AWAITING_ACCEPT, "dispatched", detail=_who(self._assignee))
        await self._notify(NoticeKind.ASSIGNED, [self._assignee])
        if self._route.co_handlers:
            await self._notify(NoticeKind.CO_HANDLING, self._route.co_handlers)
        await self._record("dispatched")

    async def _await_acceptance(self) -> None:
        await self._follow_chain(Clock.ACCEPT, done=lambda: Clock.RESOLVE in self._deadlines)

    async def _work_and_verify(self) -> bool:
        """Wait for the fix, then prove it. True when proven (or ruled closed)."""
        await self._follow_chain(Clock.RESOLVE, done=lambda: self._resolution is not None)
        if self._ruling is not None:
            return True
        self._set_stage(Stage.VERIFYING, "verifying", detail=self._effective_closure_check().value)
        check = self._effective_closure_check()
        if check is ClosureCheck.CALLBACK:
            return await self._verify_by_callback()
        if check is ClosureCheck.PHOTO_REVIEW:
            return await self._verify_by_photo_review()
        if check is ClosureCheck.SENSOR_RECOVERY:
            return await self._verify_by_sensor_recovery()
        return await self._verify_by_video_recheck()

    async def _reopen(self) -> None:
        assert self._plan is not None and self._route is not None and self._assignee is not None
        self._reopens += 1
        self._resolution = self._callback = self._review = self._recheck = None
        self._recovered_at = self._refired_at = None
        if self._reopens > self._plan.max_reopens and self._assignee.tier is not Tier.DISTRICT:
            # Repeated failure is the district's problem now.
            self._escalate_to(self._route.escalation_path[-1], "escalated_after_reopens")
            await self._notify(NoticeKind.SUPERVISE, [self._assignee])
        await self._start_clock(Clock.RESOLVE)
        self._set_stage(Stage.REOPENED, "reopened", detail=f"reopen #{self._reopens}")
        await self._notify(NoticeKind.REOPENED, [self._assignee])

    async def _close(self) -> TicketOutcome:
        fixed = self._ruling is None
        if fixed:
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
            reopens=self._reopens,
            escalations=self._escalations,
            closed_at=workflow.now(),
        )

    # ------------------------------------------------------------------ closure checks

    def _effective_closure_check(self) -> ClosureCheck:
        """A check needs its evidence source: no device → the citizen, no camera → a photo."""
        assert self._plan is not None
        check = self._plan.scenario.closure_check
        alarm = self._intake.alarm
        if check is ClosureCheck.SENSOR_RECOVERY and (
            alarm is None or alarm.sensor_type == "video_ai"
        ):
            return ClosureCheck.CALLBACK if self._intake.caller_phone else ClosureCheck.PHOTO_REVIEW
        if check is ClosureCheck.VIDEO_RECHECK and (
            alarm is None or alarm.sensor_type != "video_ai"
        ):
            return ClosureCheck.PHOTO_REVIEW
        return check

    async def _verify_by_callback(self) -> bool:
        await self._notify(NoticeKind.CALLBACK_REQUEST, [], extra=[HOTLINE_DESK])
        await self._wait(lambda: self._callback is not None or self._ruling is not None)
        if self._ruling is not None or self._callback is None:
            return True
        self._note(
            self._stage,
            f"callback_{self._callback.result.value}",
            by=self._callback.by,
            detail=self._callback.note,
        )
        return self._callback.result is not CallbackResult.UNSATISFIED

    async def _verify_by_photo_review(self) -> bool:
        assert self._route is not None
        reviewer = self._route.dispatcher or self._route.escalation_path[0]
        await self._notify(NoticeKind.REVIEW_REQUEST, [reviewer])
        await self._wait(lambda: self._review is not None or self._ruling is not None)
        if self._ruling is not None or self._review is None:
            return True
        self._note(
            self._stage,
            f"photo_{self._review.decision.value}",
            by=self._review.by,
            detail=self._review.reason,
        )
        return self._review.decision is ReviewDecision.APPROVED

    async def _verify_by_sensor_recovery(self) -> bool:
        assert self._plan is not None
        while self._recovered_at is None and self._ruling is None:
            recovered = await self._wait(
                lambda: self._recovered_at is not None or self._ruling is not None,
                timeout=self._plan.recovery_patience,
                summary="wait for the sensor to report normal",
            )
            if not recovered:
                self._note(self._stage, "no_recovery", detail="sensor still not normal")
                await self._notify(NoticeKind.SUPERVISE, self._supervisors())
        if self._ruling is not None:
            return True
        refired = await self._wait(
            lambda: self._refired_at is not None or self._ruling is not None,
            timeout=self._plan.recovery_hold,
            summary=f"hold: sensor must stay normal for {self._plan.recovery_hold}",
        )
        if refired and self._ruling is None:
            self._note(self._stage, "sensor_refired", detail="fired again within the hold period")
            return False
        self._note(self._stage, "sensor_recovered")
        return True

    async def _verify_by_video_recheck(self) -> bool:
        await self._wait(lambda: self._recheck is not None or self._ruling is not None)
        if self._ruling is not None or self._recheck is None:
            return True
        self._note(
            self._stage,
            "video_recheck",
            detail="still detected" if self._recheck.still_detected else "cleared",
        )
        return not self._recheck.still_detected

    # ------------------------------------------------------------------ clocks and escalation

    async def _start_clock(
        self, clock: Clock, budget: timedelta | None = None, working_time: bool | None = None
    ) -> None:
        """(Re)start a clock; by default with the plan's budget and calendar."""
        assert self._plan is not None
        self._clock_epoch[clock] += 1
        self._clock_start[clock] = workflow.now()
        self._clock_budget[clock] = budget or self._default_budget(clock)
        self._clock_working[clock] = (
            self._plan.sla.working_time if working_time is None else working_time
        )
        self._clock_pauses[clock] = []
        self._clock_reached[clock] = -1.0
        self._deadlines[clock] = (await self._instants(clock, [1.0]))[0]
        if clock is not Clock.CONTACT:
            self._sla_colour = "green"

    def _default_budget(self, clock: Clock) -> timedelta:
        assert self._plan is not None
        sla = self._plan.sla
        if clock is Clock.CONTACT:
            return sla.first_contact_within or sla.accept_within
        return sla.accept_within if clock is Clock.ACCEPT else sla.resolve_within

    async def _instants(self, clock: Clock, fractions: list[float]) -> list[datetime]:
        result: DeadlinesResult = await workflow.execute_local_activity(
            "compute_deadlines",
            DeadlinesRequest(
                start=self._clock_start[clock],
                budget=self._clock_budget[clock],
                fractions=fractions,
                working_time=self._clock_working[clock],
                pauses=self._clock_pauses[clock],
            ),
            result_type=DeadlinesResult,
            summary=f"{clock.value} clock on the {_calendar_name(self._clock_working[clock])}",
            start_to_close_timeout=LOCAL_TIMEOUT,
        )
        return result.instants

    async def _follow_chain(self, clock: Clock, done: Callable[[], bool]) -> None:
        """Walk the plan's steps for `clock` until done; a restarted clock walks again."""

        def finished() -> bool:
            return done() or self._ruling is not None

        while not finished():
            await self._walk_once(clock, self._clock_epoch[clock], finished)

    async def _walk_once(self, clock: Clock, epoch: int, finished: Callable[[], bool]) -> None:
        """One pass over the clock's points; returns early when finished or restarted."""
        assert self._plan is not None

        def interrupted() -> bool:
            return finished() or self._clock_epoch[clock] != epoch

        if clock is Clock.RESOLVE and self._paused_since is not None:
            await self._wait(interrupted)  # resume restarts the walk with a later deadline
            return
        reached = self._clock_reached[clock]
        points = [p for p in chain_points(self._plan.escalation, clock) if p.fraction > reached]
        instants = await self._instants(clock, [p.fraction for p in points])
        for point, when in zip(points, instants, strict=True):
            await self._wait(interrupted, until=when, summary=f"{clock.value} clock: {point.label}")
            if interrupted():
                return
            self._clock_reached[clock] = point.fraction
            await self._take(point, clock)
            if interrupted():
                return
        await self._wait(interrupted)

    async def _take(self, point: ChainPoint, clock: Clock) -> None:
        assert self._assignee is not None
        action = point.action
        if isinstance(action, ClockMark) and clock is Clock.CONTACT:
            if action is ClockMark.RED:
                self._note(self._stage, "first_contact_overdue", detail=_who(self._assignee))
                await self._notify(
                    NoticeKind.URGE, [self._assignee], facts={"note": "首次联系市民已超时"}
                )
            return
        if isinstance(action, ClockMark):
            self._sla_colour = action.value
            if action is ClockMark.RED and clock is Clock.RESOLVE:
                self._overdue = True
                self._note(
                    self._stage,
                    "overdue",
                    detail=f"resolve deadline {self._deadlines[clock]:%Y-%m-%d %H:%M}",
                )
                await self._notify(NoticeKind.OVERDUE, [self._assignee])
            self._upsert()
            return
        if action.kind is StepKind.REMIND:
            self._note(self._stage, "reminded", detail=_who(self._assignee))
            await self._notify(NoticeKind.REMINDER, [self._assignee])
        elif action.kind is StepKind.URGE:
            self._note(self._stage, "urged", by="chain")
            await self._notify(NoticeKind.URGE, self._urge_targets())
        elif action.kind is StepKind.SUPERVISE:
            self._note(self._stage, "supervised", detail=f"{clock.value} clock")
            await self._notify(NoticeKind.SUPERVISE, self._supervisors())
        elif action.kind is StepKind.ESCALATE:
            above = self._tier_above()
            if above is None:
                # Already at the district: nobody higher, so press the district again.
                await self._notify(NoticeKind.SUPERVISE, [self._assignee])
                return
            self._escalate_to(above, "escalated")
            await self._start_clock(Clock.ACCEPT)
            await self._notify(NoticeKind.ESCALATED, [above])

    def _escalate_to(self, target: Assignment, event: str) -> None:
        assert self._assignee is not None
        self._previous_assignees.append(self._assignee.person_id)
        self._assignee = target
        self._escalations += 1
        stage = (
            Stage.ESCALATED
            if self._stage in (Stage.AWAITING_ACCEPT, Stage.ESCALATED)
            else self._stage
        )
        self._set_stage(stage, event, detail=_who(target))

    def _tier_above(self) -> Assignment | None:
        assert self._route is not None and self._assignee is not None
        path = self._route.escalation_path
        for candidate in path:
            if _rank(candidate.tier) > _rank(self._assignee.tier):
                return candidate
        return None

    def _supervisor_ids(self) -> list[str]:
        """Who may review, decide extensions or transfer: the dispatcher and the tiers above."""
        assert self._route is not None
        people = [self._route.dispatcher, *self._route.escalation_path]
        return list(dict.fromkeys(a.person_id for a in people if a is not None))

    def _urge_targets(self) -> list[Assignment]:
        """催办 goes to the assignee and through the dispatcher of the ticket (or the tier
        above when the assignee is the dispatcher)."""
        assert self._assignee is not None and self._route is not None
        dispatcher = self._route.dispatcher
        if dispatcher is None or dispatcher.person_id == self._assignee.person_id:
            return list(dict.fromkeys([self._assignee, *self._supervisors()]))
        return [self._assignee, dispatcher]

    def _supervisors(self) -> list[Assignment]:
        above = self._tier_above()
        assert self._assignee is not None
        return [above] if above is not None else [self._assignee]

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

    # ------------------------------------------------------------------ updates, signals, query

    @workflow.update
    async def classify(self, decision: TriageDecision) -> TicketStatus:
        """A district dispatcher classifies a ticket that the rules could not."""
        classification: Classification = await workflow.execute_local_activity(
            "classify_ticket",
            self._intake.model_copy(update={"service_code": decision.scenario_id}),
            result_type=Classification,
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
    async def accept(self, request: AcceptInput) -> TicketStatus:
        """Acceptance stops the accept chain and starts the resolve clock at once, so the
        answer carries the resolve deadline."""
        self._accepted_by = request.person_id
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
        if self._stage not in (Stage.AWAITING_ACCEPT, Stage.ESCALATED) or self._accepted_by:
            raise ValueError(
                f"ticket is {self._stage.value}; only a dispatched ticket can be accepted"
            )
        allowed = self._allowed_acceptors()
        if request.person_id not in allowed:
            raise ValueError(
                f"{request.person_id} is not assigned to this ticket "
                f"(assigned: {', '.join(allowed)})"
            )

    @workflow.update
    def resolve(self, request: ResolveInput) -> TicketStatus:
        self._resolution = request
        self._set_stage(Stage.RESOLVED, "resolved", by=request.person_id, detail=request.note)
        return self._status()

    @resolve.validator
    def _validate_resolve(self, request: ResolveInput) -> None:
        if self._stage not in (Stage.ACCEPTED, Stage.REOPENED):
            hint = (
                "accept it before resolving"
                if self._stage in (Stage.AWAITING_ACCEPT, Stage.ESCALATED)
                else "only an accepted or reopened ticket can be resolved"
            )
            raise ValueError(f"ticket is {self._stage.value}; {hint}")
        assert self._assignee is not None
        if request.person_id not in (self._assignee.person_id, self._accepted_by):
            raise ValueError(
                f"{request.person_id} is not the assignee ({self._assignee.person_id})"
            )
        if self._effective_closure_check() is ClosureCheck.PHOTO_REVIEW:
            self._validate_photo(request)

    def _validate_photo(self, request: ResolveInput) -> None:
        photo = request.photo
        if photo is None:
            raise ValueError(
                "photo: an after-photo (url, taken_at, lat, lon) is required for photo review"
            )
        if self._dispatched_at is not None and photo.taken_at < self._dispatched_at:
            raise ValueError("photo.taken_at: the photo was taken before the ticket was dispatched")
        place = self._place()
        if place is not None:
            distance = _distance_m(place, (photo.lat, photo.lon))
            assert self._plan is not None
            radius = self._plan.photo_radius_m
            if distance > radius:
                raise ValueError(
                    f"photo.lat/lon: taken {distance:.0f} m from the place (limit {radius:.0f} m)"
                )

    @workflow.update
    def callback(self, result: CallbackInput) -> TicketStatus:
        self._callback = result
        return self._status()

    @callback.validator
    def _validate_callback(self, result: CallbackInput) -> None:
        self._require_verifying(ClosureCheck.CALLBACK)

    @workflow.update
    def review(self, review: ReviewInput) -> TicketStatus:
        self._review = review
        return self._status()

    @review.validator
    def _validate_review(self, review: ReviewInput) -> None:
        self._require_verifying(ClosureCheck.PHOTO_REVIEW)
        reviewers = self._supervisor_ids()
        if review.by not in reviewers:
            raise ValueError(
                f"{review.by} may not review this photo (reviewers: {', '.join(reviewers)})"
            )

    @workflow.update
    def recheck(self, result: RecheckInput) -> TicketStatus:
        self._recheck = result
        return self._status()

    @recheck.validator
    def _validate_recheck(self, result: RecheckInput) -> None:
        self._require_verifying(ClosureCheck.VIDEO_RECHECK)

    @workflow.update
    async def urge(self, request: UrgeInput) -> TicketStatus:
        """A supervisor urges (催办) by hand."""
        assert self._assignee is not None
        self._note(self._stage, "urged", by=request.by, detail=request.note)
        await self._notify(
            NoticeKind.URGE, [self._assignee], facts={"by": request.by, "note": request.note}
        )
        return self._status()

    @urge.validator
    def _validate_urge(self, request: UrgeInput) -> None:
        if self._assignee is None or self._stage.is_final:
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
        if self._stage.is_final or self._assignee is None:
            raise ValueError(
                f"ticket is {self._stage.value}; "
                "only an open, dispatched ticket can be ruled closed"
            )

    @workflow.update
    async def return_ticket(self, request: ReturnInput) -> TicketStatus:
        """退单: not our jurisdiction or duty. Re-routed; the accept clock keeps running."""
        assert self._route is not None
        self._returns += 1
        route: RoutePlan = await workflow.execute_activity(
            "return_ticket",
            ReturnRequest(
                current=self._route,
                reason=request.reason,
                returns_so_far=self._returns - 1,
                at=workflow.now(),
            ),
            result_type=RoutePlan,
            summary=f"return #{self._returns}: {request.reason.code.value}",
            start_to_close_timeout=ROUTE_TIMEOUT,
            retry_policy=ROUTE_RETRY,
        )
        detail = f"{request.reason.code.value}: {request.reason.note}".strip(": ")
        await self._reroute(route, "returned", by=request.person_id, detail=detail)
        return self._status()

    @return_ticket.validator
    def _validate_return(self, request: ReturnInput) -> None:
        if self._stage not in (Stage.AWAITING_ACCEPT, Stage.ESCALATED):
            raise ValueError(
                f"ticket is {self._stage.value}; only a ticket not yet accepted can be returned"
            )
        assert self._assignee is not None
        if request.person_id != self._assignee.person_id:
            raise ValueError(
                f"{request.person_id} is not the assignee ({self._assignee.person_id})"
            )

    @workflow.update
    async def transfer(self, request: TransferInput) -> TicketStatus:
        """A dispatcher hands the ticket to another unit, with the reason recorded."""
        assert self._route is not None
        route: RoutePlan = await workflow.execute_activity(
            "transfer_ticket",
            TransferRequest(
                current=self._route,
                target_unit=request.target_unit,
                reason=request.reason,
                at=workflow.now(),
            ),
            result_type=RoutePlan,
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
        if (
            self._assignee is None
            or self._stage.is_final
            or self._stage in (Stage.RESOLVED, Stage.VERIFYING)
        ):
            raise ValueError(
                f"ticket is {self._stage.value}; it can be transferred only before it is resolved"
            )
        if request.by not in self._supervisor_ids():
            raise ValueError(
                f"{request.by} may not transfer this ticket "
                f"(dispatchers: {', '.join(self._supervisor_ids())})"
            )

    async def _reroute(self, route: RoutePlan, event: str, *, by: str, detail: str) -> None:
        """Put the ticket in front of the new route's assignee. An accepted ticket stays
        accepted (the dispatcher reassigned it); otherwise the new assignee must accept."""
        self._route = route
        self._assignee = route.assignee
        self._previous_assignees = []
        if self._accepted_by is not None:
            self._accepted_by = route.assignee.person_id
        self._set_stage(self._stage, event, by=by, detail=f"{detail} → {_who(route.assignee)}")
        await self._notify(
            NoticeKind.RETURNED, [route.assignee], facts={"by": by, "reason": detail}
        )

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
            self._supervisors(),
            facts={
                "by": request.person_id,
                "reason": request.reason,
                "new_deadline": request.new_deadline.isoformat(),
            },
        )
        return self._status()

    @request_extension.validator
    def _validate_request_extension(self, request: ExtensionRequest) -> None:
        if self._stage not in (Stage.ACCEPTED, Stage.REOPENED):
            raise ValueError(
                f"ticket is {self._stage.value}; only an accepted ticket can be extended"
            )
        assert self._assignee is not None and self._plan is not None
        if request.person_id != self._assignee.person_id:
            raise ValueError(
                f"{request.person_id} is not the assignee ({self._assignee.person_id})"
            )
        if self._pending_extension is not None:
            raise ValueError("an extension request is already waiting for a decision")
        if self._extensions >= self._plan.max_extensions:
            raise ValueError(
                f"no more extensions: the limit is {self._plan.max_extensions} per ticket"
            )
        deadline = self._deadlines.get(Clock.RESOLVE)
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
        assert request is not None and self._assignee is not None
        self._pending_extension = None
        self._note(
            self._stage,
            "extension_approved" if decision.approve else "extension_rejected",
            by=decision.by,
            detail=decision.note,
        )
        if decision.approve:
            self._extensions += 1
            self._overdue = False
            # An approved date is explicit, so the moved clock runs on the wall calendar.
            await self._start_clock(
                Clock.RESOLVE, budget=request.new_deadline - workflow.now(), working_time=False
            )
            self._upsert()
        facts = {
            "by": decision.by,
            "reason": decision.note,
            "decision": "approved" if decision.approve else "rejected",
        }
        if decision.approve:
            facts["new_deadline"] = request.new_deadline.isoformat()
        await self._notify(
            NoticeKind.EXTENSION_DECIDED, [self._assignee], extra=[HOTLINE_DESK], facts=facts
        )
        return self._status()

    @decide_extension.validator
    def _validate_decide_extension(self, decision: ExtensionDecision) -> None:
        if self._pending_extension is None:
            raise ValueError("no extension request is waiting for a decision")
        if decision.by not in self._supervisor_ids():
            raise ValueError(
                f"{decision.by} may not decide (deciders: {', '.join(self._supervisor_ids())})"
            )

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
        self._paused_since = workflow.now()
        self._clock_epoch[Clock.RESOLVE] += 1  # interrupts the walk
        self._set_stage(self._stage, "clock_paused", by=request.person_id, detail=request.reason)
        return self._status()

    @pause_clock.validator
    def _validate_pause(self, request: PauseInput) -> None:
        self._require_assignee_working(request.person_id)
        if self._paused_since is not None:
            raise ValueError(
                f"the clock is already paused since {self._paused_since:%Y-%m-%d %H:%M}"
            )

    @workflow.update
    async def resume_clock(self, request: ResumeInput) -> TicketStatus:
        """Restart the resolve clock; its deadline moves by the paused time on its calendar."""
        assert self._paused_since is not None
        pause = Pause(start=self._paused_since, end=workflow.now())
        self._clock_pauses[Clock.RESOLVE].append(pause)
        self._paused_since = None
        self._deadlines[Clock.RESOLVE] = (await self._instants(Clock.RESOLVE, [1.0]))[0]
        self._clock_epoch[Clock.RESOLVE] += 1
        self._set_stage(self._stage, "clock_resumed", by=request.person_id, detail=request.note)
        return self._status()

    @resume_clock.validator
    def _validate_resume(self, request: ResumeInput) -> None:
        self._require_assignee_working(request.person_id)
        if self._paused_since is None:
            raise ValueError("the clock is not paused")

    def _require_assignee_working(self, person_id: str) -> None:
        if self._stage not in (Stage.ACCEPTED, Stage.REOPENED):
            raise ValueError(f"ticket is {self._stage.value}; only while it is being worked on")
        assert self._assignee is not None
        if person_id != self._assignee.person_id:
            raise ValueError(f"{person_id} is not the assignee ({self._assignee.person_id})")

    @workflow.signal
    def alarm_event(self, event: AlarmEvent) -> None:
        """Another event from the device that raised this ticket: recorded once per event_id."""
        self._take_alarm_event(event)

    @workflow.query
    def status(self, request: StatusInput | None = None) -> TicketStatus:
        status = self._status()
        if request is not None and not request.include_history:
            return status.model_copy(update={"history": []})
        return status

    def _require_verifying(self, check: ClosureCheck) -> None:
        if self._stage not in (Stage.RESOLVED, Stage.VERIFYING):
            raise ValueError(f"ticket is {self._stage.value}, not resolved and being verified")
        actual = self._effective_closure_check()
        if actual is not check:
            raise ValueError(f"this ticket is verified by {actual.value}, not {check.value}")

    def _allowed_acceptors(self) -> list[str]:
        assert self._assignee is not None
        return [self._assignee.person_id, *self._previous_assignees]

    def _take_alarm_event(self, event: AlarmEvent) -> None:
        if event.event_id in self._event_ids:
            return
        self._event_ids.add(event.event_id)
        self._alarm_events += 1
        if event.status == "resolved":
            self._recovered_at = workflow.now()
            self._refired_at = None
            self._note(self._stage, "alarm_resolved", detail=event.event_id)
        else:
            if self._recovered_at is not None:
                self._refired_at = workflow.now()
                self._recovered_at = None
            if self._alarm_events > 1:
                self._note(self._stage, "alarm_repeated", detail=event.event_id)

    # ------------------------------------------------------------------ bookkeeping

    def _set_stage(
        self, stage: Stage, event: str, *, by: str | None = None, detail: str = ""
    ) -> None:
        self._stage = stage
        self._note(stage, event, by=by, detail=detail)
        self._upsert()

    def _note(self, stage: Stage, event: str, *, by: str | None = None, detail: str = "") -> None:
        self._history.append(
            HistoryEntry(at=workflow.now(), stage=stage, event=event, by=by, detail=detail)
        )

    def _upsert(self) -> None:
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.TICKET_ID.value_set(self._intake.ticket_id),
            sa.SOURCE.value_set(self._intake.source.value),
            sa.STAGE.value_set(self._stage.value),
            sa.SLA_COLOUR.value_set(
                [self._sla_colour, "paused"] if self._paused_since else [self._sla_colour]
            ),
            sa.OVERDUE.value_set(self._overdue),
            sa.ESCALATIONS.value_set(self._escalations),
            sa.REOPENS.value_set(self._reopens),
        ]
        scenario = self._classification.scenario if self._classification else None
        if scenario is not None:
            updates += [
                sa.SCENARIO.value_set(scenario.id),
                sa.CATEGORY.value_set(scenario.category_id),
                sa.DIMENSION.value_set(scenario.dimension.value),
                sa.PRIORITY.value_set(scenario.priority.value),
            ]
        if self._route is not None and self._route.street_code:
            updates.append(sa.STREET.value_set(self._route.street_code))
        if self._assignee is not None:
            updates += [
                sa.TIER.value_set(self._assignee.tier.value),
                sa.ASSIGNEE.value_set(self._assignee.person_id),
            ]
        if Clock.ACCEPT in self._deadlines:
            updates.append(sa.ACCEPT_DEADLINE.value_set(self._deadlines[Clock.ACCEPT]))
        if Clock.RESOLVE in self._deadlines:
            updates.append(sa.RESOLVE_DEADLINE.value_set(self._deadlines[Clock.RESOLVE]))
        workflow.upsert_search_attributes(updates)
        workflow.set_current_details(render_details(self._status()))

    def _status(self) -> TicketStatus:
        scenario = self._classification.scenario if self._classification else None
        return TicketStatus(
            ticket_id=self._intake.ticket_id,
            stage=self._stage,
            source=self._intake.source,
            text=self._intake.text,
            address=self._intake.address
            or (self._intake.alarm.site if self._intake.alarm else None),
            scenario_id=scenario.id if scenario else None,
            scenario_name=scenario.name_zh if scenario else None,
            priority=scenario.priority if scenario else None,
            street_code=self._route.street_code if self._route else None,
            tier=self._assignee.tier if self._assignee else None,
            assignee_id=self._assignee.person_id if self._assignee else None,
            assignee_name=self._assignee.person_name if self._assignee else None,
            accept_deadline=self._deadlines.get(Clock.ACCEPT),
            resolve_deadline=self._deadlines.get(Clock.RESOLVE),
            contact_deadline=self._deadlines.get(Clock.CONTACT),
            contacted_at=self._contacted_at,
            paused=self._paused_since is not None,
            sla_colour=self._sla_colour,
            overdue=self._overdue,
            escalations=self._escalations,
            reopens=self._reopens,
            alarm_events=self._alarm_events,
            returns=self._returns,
            extensions=self._extensions,
            pending_extension=self._pending_extension,
            classification=self._classification,
            history=list(self._history),
        )

    def _place(self) -> tuple[float, float] | None:
        if self._intake.lat is not None and self._intake.lon is not None:
            return (self._intake.lat, self._intake.lon)
        if self._intake.alarm is not None:
            return (self._intake.alarm.lat, self._intake.alarm.lon)
        return None

    async def _notify(
        self,
        kind: NoticeKind,
        assignments: list[Assignment],
        *,
        extra: list[Recipient] | None = None,
        facts: dict[str, str] | None = None,
    ) -> None:
        recipients = [_recipient(a) for a in assignments]
        recipients += extra or []
        if not recipients:
            return
        self._notice_seq += 1
        notice = Notice(
            kind=kind,
            ticket_id=self._intake.ticket_id,
            idempotency_key=f"{workflow.info().workflow_id}/{workflow.info().run_id}/{self._notice_seq}",
            recipients=recipients,
            title=self._notice_title(),
            facts=self._notice_facts() | (facts or {}),
        )
        receipt: NoticeReceipt = await workflow.execute_activity(
            "send_notice",
            notice,
            result_type=NoticeReceipt,
            summary=f"notify {kind.value}: {', '.join(r.name for r in recipients)}",
            start_to_close_timeout=NOTIFY_TIMEOUT,
            retry_policy=NOTIFY_RETRY,
        )
        if receipt.failed:
            self._note(
                self._stage, "notice_failed", detail=f"{kind.value} to {', '.join(receipt.failed)}"
            )
            failed_assignees = [a for a in assignments if a.person_id in receipt.failed]
            above = self._tier_above()
            if failed_assignees and above is not None and above.person_id not in receipt.failed:
                await self._notify(NoticeKind.SUPERVISE, [above])

    def _notice_title(self) -> str:
        status = self._status()
        return (
            f"{status.ticket_id} {status.scenario_name or '待分类'} {status.address or ''}".strip()
        )

    def _notice_facts(self) -> dict[str, str]:
        status = self._status()
        facts = {
            "ticket_id": status.ticket_id,
            "stage": status.stage.value,
            "scenario": f"{status.scenario_id} {status.scenario_name}"
            if status.scenario_id
            else "",
            "priority": status.priority.value if status.priority else "",
            "place": status.address or "",
            "text": status.text or "",
            "street": status.street_code or "",
            "reopens": str(self._reopens),
        }
        for clock, deadline in self._deadlines.items():
            facts[f"{clock.value}_deadline"] = deadline.isoformat()
        if self._resolution is not None:
            facts["resolution"] = self._resolution.note
            if self._resolution.photo is not None:
                facts["photo_url"] = self._resolution.photo.url
        return facts

    async def _record(self, event: str) -> None:
        scenario = self._classification.scenario if self._classification else None
        await workflow.execute_activity(
            "record_ticket",
            TicketRecord(
                ticket_id=self._intake.ticket_id,
                workflow_id=workflow.info().workflow_id,
                stage=self._stage,
                intake=self._intake,
                scenario_id=scenario.id if scenario else None,
                street_code=self._route.street_code if self._route else None,
                assignee_id=self._assignee.person_id if self._assignee else None,
                tier=self._assignee.tier if self._assignee else None,
                event=event,
                at=workflow.now(),
            ),
            summary=f"record: {event}",
            start_to_close_timeout=RECORD_TIMEOUT,
        )


def _rank(tier: Tier) -> int:
    return {Tier.VILLAGE: 0, Tier.STREET: 1, Tier.DISTRICT: 2}[tier]


def _recipient(assignment: Assignment) -> Recipient:
    return Recipient(
        person_id=assignment.person_id,
        name=assignment.person_name,
        unit_code=assignment.unit_code,
        tier=assignment.tier,
    )


def _who(assignment: Assignment) -> str:
    return f"{assignment.unit_name} {assignment.person_name} ({assignment.person_id})"


def _why(classification: Classification) -> str:
    assert classification.scenario is not None
    rules = ", ".join(m.rule for m in classification.matched[:5])
    scenario, version = classification.scenario.id, classification.rules_version
    return f"{scenario} {classification.confidence:.2f} [{rules}] rules {version}"


def _calendar_name(working_time: bool) -> str:
    return "working calendar" if working_time else "wall clock"


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance; plenty for 'was the photo taken at the place'."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_000 * math.asin(math.sqrt(h))
