"""TicketWorkflow: one complaint or alarm, from intake to verified closure.

Read `run` top to bottom: it is the life of a work order. Everything that touches
the world (rules, the organisation, people, the database) is an activity; this
module only decides, waits and remembers. The rest of the ticket lives beside it:

    ticket_core.py     state, history, search attributes, notices, the register
    ticket_clocks.py   SLA clocks and the escalation chain walk
    ticket_updates.py  every human action (updates with validators), signal and query
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from cityops.domain.alarms import alarm_intake
    from cityops.domain.models import (
        Classification,
        DispatchPlan,
        PlanRequest,
        TicketIntake,
        TicketOutcome,
    )
    from cityops.domain.stages import (
        CallbackResult,
        Clock,
        ClosureCheck,
        NoticeKind,
        ReviewDecision,
        Stage,
        Tier,
    )
    from cityops.workflows.split import SPLIT_FROM_EVENT

from cityops.workflows.ticket_core import (
    HOTLINE_DESK,
    LOCAL_TIMEOUT,
    describe_assignee,
    explain_classification,
)
from cityops.workflows.ticket_updates import TicketUpdates


@workflow.defn(name="TicketWorkflow")
class TicketWorkflow(TicketUpdates):
    @workflow.init
    def __init__(self, intake: TicketIntake) -> None:
        super().__init__(intake)

    # ------------------------------------------------------------------ the stages

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
        if self._next_firing is not None:
            # Same workflow id, new run, new ticket number: as if intake had started it.
            workflow.continue_as_new(alarm_intake(self._next_firing, workflow.now()))
        return outcome

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
        self._set_stage(
            Stage.AWAITING_ACCEPT, "dispatched", detail=describe_assignee(self._assignee)
        )
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
        check = self._effective_closure_check()
        self._set_stage(Stage.VERIFYING, "verifying", detail=check.value)
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
            reopens=self._reopens,
            escalations=self._escalations,
            closed_at=workflow.now(),
        )

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
