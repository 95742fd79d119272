"""Every human action on a ticket is a Temporal update with a validator (refused at once,
with the reason, writing nothing); the alarm stream is a signal; `status` is the query."""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from cityops.domain.models import (
        AcceptInput,
        AlarmEvent,
        CallbackInput,
        Classification,
        ContactInput,
        DismissInput,
        ExtensionDecision,
        ExtensionRequest,
        Pause,
        PauseInput,
        RecheckInput,
        ResolveInput,
        ResumeInput,
        ReturnInput,
        ReturnRequest,
        ReviewInput,
        RoutePlan,
        RuleClosureInput,
        SplitInput,
        SplitOutcome,
        StatusInput,
        TicketStatus,
        TransferInput,
        TransferRequest,
        TriageDecision,
        UrgeInput,
    )
    from cityops.domain.stages import (
        Clock,
        ClosureCheck,
        NoticeKind,
        Stage,
    )
    from cityops.workflows.details import render_details
    from cityops.workflows.split import SPLIT_EVENT, check_split, split_detail, split_record
    from cityops.workflows.ticket_core import (
        HOTLINE_DESK,
        LOCAL_TIMEOUT,
        ROUTE_RETRY,
        ROUTE_TIMEOUT,
        describe_assignee,
        distance_m,
    )

from cityops.workflows.ticket_clocks import TicketClocks


class TicketUpdates(TicketClocks):
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
            distance = distance_m(place, (photo.lat, photo.lon))
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
        # A sub-center holding a ticket may hand it down to one of its own work stations.
        assigning_down = request.by == self._assignee.person_id and request.target_unit.startswith(
            f"{self._assignee.unit_code}-"
        )
        if request.by not in self._supervisor_ids() and not assigning_down:
            raise ValueError(
                f"{request.by} may not transfer this ticket "
                f"(dispatchers: {', '.join(self._supervisor_ids())}; the assignee only to "
                f"a unit under {self._assignee.unit_code})"
            )

    async def _reroute(self, route: RoutePlan, event: str, *, by: str, detail: str) -> None:
        """Put the ticket in front of the new route's assignee. An accepted ticket stays
        accepted (the dispatcher reassigned it); otherwise the new assignee must accept."""
        self._route = route
        self._assignee = route.assignee
        self._previous_assignees = []
        if self._accepted_by is not None:
            self._accepted_by = route.assignee.person_id
        self._set_stage(
            self._stage, event, by=by, detail=f"{detail} → {describe_assignee(route.assignee)}"
        )
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

    @workflow.signal
    def alarm_event(self, event: AlarmEvent) -> None:
        """Another event from the device that raised this ticket: recorded once per event_id."""
        self._take_alarm_event(event)

    @workflow.query
    def status(self, request: StatusInput | None = None) -> TicketStatus:
        return self._status(include_history=request is None or request.include_history)

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
        if self._stage.is_final:
            # The device fired again as its ticket closed: that firing opens the next ticket.
            if event.status == "firing" and self._next_firing is None:
                self._next_firing = event
            return
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
