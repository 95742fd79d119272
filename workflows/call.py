"""CallWorkflow: a hotline call that is no work order, under a ticket number like any other.

Read `run` top to bottom. The agent recorded the call's kind at submission:

    consultation ─► answered ──┐  (final at once; open for `rate` and `convert` a while)
    referral ─────► referred ──┤
                               └─► converted ─► continues as a TicketWorkflow, same number
    suggestion ───► recorded ─► replied   (reply clock: remind, escalate, supervise)

Complaints never come here: they are TicketWorkflows from the start. Everything that
touches the world is an activity, called through its definition.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate, TypedSearchAttributes
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from cityops.activities.calls import CallActivities
    from cityops.activities.dispatch import DispatchActivities
    from cityops.activities.notify import NotifyActivities
    from cityops.activities.store import StoreActivities
    from cityops.domain import limits
    from cityops.domain.calls import (
        CONVERSION_MEMO,
        CallIntake,
        CallOutcome,
        CallPlan,
        CallPlanRequest,
        Consultation,
        Conversion,
        ConvertInput,
        RateInput,
        ReferralCall,
        ReplyInput,
        Suggestion,
    )
    from cityops.domain.masking import mask_phone, redact_facts
    from cityops.domain.models import (
        Assignment,
        CallFacts,
        DeadlinesRequest,
        HistoryEntry,
        Notice,
        Recipient,
        StatusInput,
        TicketIntake,
        TicketRecord,
        TicketStatus,
    )
    from cityops.domain.stages import CallKind, NoticeKind, Stage, StepKind
    from cityops.workflows import search_attributes as sa
    from cityops.workflows.call_inbox import ReplyInbox, ReplyPoint
    from cityops.workflows.details import render_details
    from cityops.workflows.history import entry as history_entry

from cityops.workflows.ticket import TicketWorkflow

CALL_WORKFLOW = "CallWorkflow"
LOCAL_TIMEOUT = timedelta(seconds=10)
RECORD_TIMEOUT = timedelta(seconds=30)
NOTIFY_TIMEOUT = timedelta(seconds=60)
# The notifier returns failures from attempt 5 on, so it needs at least 5 attempts.
NOTIFY_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=20)
CONVERTIBLE = {CallKind.CONSULTATION: Stage.ANSWERED, CallKind.REFERRAL: Stage.REFERRED}


@workflow.defn(name=CALL_WORKFLOW)
class CallWorkflow:
    @workflow.init
    def __init__(self, call: CallIntake) -> None:
        self._call = call
        self._stage = Stage.INTAKE
        self._history: list[HistoryEntry] = []
        self._plan: CallPlan | None = None
        self._inbox: ReplyInbox | None = None
        self._reply: ReplyInput | None = None
        self._rating: RateInput | None = None
        self._conversion: ConvertInput | None = None
        self._open_until: datetime | None = None
        self._notice_seq = 0

    # ------------------------------------------------------------------ the stages

    @workflow.run
    async def run(self, call: CallIntake) -> CallOutcome:
        self._note(Stage.INTAKE, "received", by=call.agent, detail=call.kind.value)
        self._plan = await workflow.execute_local_activity_method(
            CallActivities.plan_call,
            CallPlanRequest(call=call, at=workflow.now()),
            summary=f"plan the {call.kind.value}",
            start_to_close_timeout=LOCAL_TIMEOUT,
        )
        suggested = self._plan.suggested
        if suggested.kind is not call.kind:
            self._note(Stage.INTAKE, "kind_differs", detail=f"rules: {suggested.kind.value}")
        details = call.details
        if isinstance(details, Consultation):
            await self._close_at_once(Stage.ANSWERED, details.answer)
        elif isinstance(details, ReferralCall):
            referral = details.referral
            await self._close_at_once(Stage.REFERRED, f"{referral.body}: {referral.reference}")
        else:
            await self._await_reply(details)
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._conversion is not None:
            self._continue_as_work_order(self._conversion)
        return CallOutcome(
            ticket_id=call.intake.ticket_id, kind=call.kind, stage=self._stage, at=workflow.now()
        )

    async def _close_at_once(self, stage: Stage, detail: str) -> None:
        """Answered or referred on the spot: final now. The record stays open for the
        policy's window so the caller's rating and a conversion can still come."""
        assert self._plan is not None
        self._set_stage(stage, stage.value, by=self._call.agent, detail=detail[:200])
        await self._record(stage.value)
        self._open_until = workflow.now() + self._plan.policy.open_for
        await _until(
            lambda: self._conversion is not None,
            self._open_until,
            f"open for rating or conversion until {self._open_until:%Y-%m-%d %H:%M} UTC",
        )

    async def _await_reply(self, details: Suggestion) -> None:
        """In the inbox with an owner and a reply deadline; the chain climbs until answered."""
        assert self._plan is not None and self._plan.inbox is not None
        policy = self._plan.policy
        points = policy.reply_points()
        result = await workflow.execute_local_activity_method(
            DispatchActivities.compute_deadlines,
            DeadlinesRequest(
                start=self._call.intake.received_at,  # the caller's clock starts at the call
                budget=policy.reply_within,
                fractions=[fraction for fraction, _ in points],
                working_time=policy.working_time,
            ),
            summary="reply deadline on the calendar",
            start_to_close_timeout=LOCAL_TIMEOUT,
        )
        self._inbox = ReplyInbox.open(self._plan.inbox, points, result.instants)
        owner = self._inbox.owner
        self._set_stage(Stage.RECORDED, "recorded", by=self._call.agent, detail=_describe(owner))
        await self._notify(NoticeKind.SUGGESTION, [owner])
        await self._record("recorded")
        for point in self._inbox.ahead():
            summary = f"reply clock: {point.kind.value} at {point.fraction:g}"
            if await _until(lambda: self._reply is not None, point.at, summary):
                return
            await self._take(point)
        await workflow.wait_condition(lambda: self._reply is not None)

    async def _take(self, point: ReplyPoint) -> None:
        assert self._inbox is not None
        inbox = self._inbox
        inbox.take(point)
        if point.kind is StepKind.ESCALATE and (above := inbox.escalate()) is not None:
            self._set_stage(self._stage, "escalated", detail=_describe(above))
            await self._notify(NoticeKind.ESCALATED, [above])
            await self._record("escalated")
            return
        if point.kind is StepKind.REMIND:
            self._note(self._stage, "reminded", detail=_describe(inbox.owner))
            await self._notify(NoticeKind.REMINDER, [inbox.owner])
        elif point.kind is StepKind.URGE:
            self._note(self._stage, "urged", detail=_describe(inbox.owner))
            await self._notify(NoticeKind.URGE, [inbox.owner, *inbox.supervisors()])
        else:  # supervise, or an escalation with nobody above
            self._note(self._stage, "supervised", detail=_describe(inbox.owner))
            await self._notify(NoticeKind.SUPERVISE, _unique([*inbox.supervisors(), inbox.owner]))
        self._upsert()

    def _continue_as_work_order(self, request: ConvertInput) -> None:
        """Same workflow id, a new run of TicketWorkflow: the number is kept, and the call's
        facts and history travel in the memo for the ticket's status."""
        intake = self._call.intake.on_current_engine()
        if request.scenario_id is not None:
            intake = intake.model_copy(update={"service_code": request.scenario_id})
        status = self._status()
        assert status.call is not None
        conversion = Conversion(
            kind=self._call.kind,
            by=request.by,
            reason=request.reason,
            at=workflow.now(),
            call_run_id=workflow.info().run_id,
            facts=status.call,
            history=status.history,
        )
        workflow.continue_as_new(
            intake,
            workflow=TicketWorkflow.run,
            memo={CONVERSION_MEMO: conversion},
            search_attributes=_work_order_attributes(intake, self._call.kind),
        )

    # ------------------------------------------------------------------ updates and query

    @workflow.update
    async def rate(self, request: RateInput) -> TicketStatus:
        """The caller's one-question rating of an answered consultation."""
        if self._rating is not None:
            raise ApplicationError("this consultation was rated already", type="AlreadyRated")
        self._rating = request
        self._note(
            self._stage,
            f"rated_{request.result.value}",
            by=request.by,
            acted_by=request.acted_by,
            detail=request.note,
        )
        await self._record(f"rated_{request.result.value}")
        return self._status()

    @rate.validator
    def _validate_rate(self, request: RateInput) -> None:
        limits.refuse_overlong(request)  # new input only: validators never replay
        if self._call.kind is not CallKind.CONSULTATION:
            raise ValueError(f"a {self._call.kind.value} is not rated; only a consultation is")
        if self._stage is not Stage.ANSWERED:
            raise ValueError(f"call is {self._stage.value}; only an answered one can be rated")
        if self._rating is not None:
            raise ValueError(f"rated already ({self._rating.result.value})")

    @workflow.update
    async def reply(self, request: ReplyInput) -> TicketStatus:
        """The department's reply to a suggestion: the inbox is done."""
        if self._reply is not None:
            raise ApplicationError("this suggestion was replied to already", type="Replied")
        self._reply = request
        self._set_stage(
            Stage.REPLIED,
            "replied",
            by=request.by,
            acted_by=request.acted_by,
            detail=request.reply[:200],
        )
        await self._record("replied")
        return self._status()

    @reply.validator
    def _validate_reply(self, request: ReplyInput) -> None:
        limits.refuse_overlong(request)  # new input only: validators never replay
        if self._stage is not Stage.RECORDED or self._inbox is None:
            raise ValueError(
                f"call is {self._stage.value}; only a recorded suggestion takes a reply"
            )
        allowed = self._inbox.may_reply()
        if request.by not in allowed:
            raise ValueError(
                f"{request.by} does not own this suggestion (its department, an earlier "
                "owner or the tiers above may reply)"
            )

    @workflow.update
    async def convert(self, request: ConvertInput) -> TicketStatus:
        """It needs action after all: it becomes a work order under the same number."""
        if self._conversion is not None:
            raise ApplicationError("this call was converted already", type="Converted")
        self._conversion = request
        detail = f"{request.reason} → {request.scenario_id or 'rules'}"
        self._set_stage(
            Stage.CONVERTED,
            "converted",
            by=request.by,
            acted_by=request.acted_by,
            detail=detail[:200],
        )
        await self._record("converted")
        return self._status()

    @convert.validator
    def _validate_convert(self, request: ConvertInput) -> None:
        limits.refuse_overlong(request)  # new input only: validators never replay
        stage = CONVERTIBLE.get(self._call.kind)
        if stage is None:
            raise ValueError(
                f"a {self._call.kind.value} is not converted; only a consultation or referral"
            )
        if self._stage is not stage:
            raise ValueError(f"call is {self._stage.value}; it cannot be converted now")

    @workflow.query
    def status(self, request: StatusInput) -> TicketStatus:
        return self._status(include_history=request.include_history)

    # ------------------------------------------------------------------ bookkeeping

    def _set_stage(
        self,
        stage: Stage,
        event: str,
        *,
        by: str | None = None,
        detail: str = "",
        acted_by: str | None = None,
    ) -> None:
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
        acted_by: str | None = None,
    ) -> None:
        self._history.append(
            history_entry(workflow.now(), stage, event, by=by, detail=detail, acted_by=acted_by)
        )

    def _upsert(self) -> None:
        intake = self._call.intake
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.TICKET_ID.value_set(intake.ticket_id),
            sa.SOURCE.value_set(intake.source.value),
            sa.STAGE.value_set(self._stage.value),
            sa.KIND.value_set([self._call.kind.value]),
        ]
        inbox = self._inbox
        if inbox is not None:
            updates += [
                sa.ASSIGNEE.value_set(inbox.owner.person_id),
                sa.TIER.value_set(inbox.owner.tier.value),
                sa.RESOLVE_DEADLINE.value_set(inbox.deadline),
                sa.SLA_COLOUR.value_set([inbox.sla_colour]),
                sa.OVERDUE.value_set(inbox.overdue),
                sa.ESCALATIONS.value_set(inbox.escalations),
            ]
        if self._street is not None:
            updates.append(sa.STREET.value_set(self._street))
        workflow.upsert_search_attributes(updates)
        workflow.set_current_details(render_details(self._status(), **self._caller()))

    def _caller(self) -> dict[str, list[str | None]]:
        """The caller's own name and phone, masked in details and notices (docs/privacy.md)."""
        intake = self._call.intake
        return {"names": [intake.caller_name], "phones": [intake.caller_phone]}

    @property
    def _street(self) -> str | None:
        route = self._plan.inbox if self._plan else None
        return route.street_code if route else None

    def _status(self, include_history: bool = True) -> TicketStatus:
        intake, details, inbox = self._call.intake, self._call.details, self._inbox
        return TicketStatus(
            ticket_id=intake.ticket_id,
            stage=self._stage,
            source=intake.source,
            text=intake.text,
            address=intake.address,
            street_code=self._street,
            tier=inbox.owner.tier if inbox else None,
            assignee_id=inbox.owner.person_id if inbox else None,
            assignee_name=inbox.owner.person_name if inbox else None,
            resolve_deadline=inbox.deadline if inbox else None,
            sla_colour=inbox.sla_colour if inbox else "green",
            overdue=inbox.overdue if inbox else False,
            escalations=inbox.escalations if inbox else 0,
            history=list(self._history) if include_history else [],
            call=CallFacts(
                kind=details.kind,
                answer=details.answer if isinstance(details, Consultation) else None,
                link=details.link,
                referral=details.referral if isinstance(details, ReferralCall) else None,
                department=inbox.owner.unit_code if inbox else None,
                reply_deadline=inbox.deadline if inbox else None,
                reply=self._reply.reply if self._reply else None,
                rating=self._rating.result if self._rating else None,
                open_until=self._open_until,
            ),
        )

    async def _notify(self, kind: NoticeKind, people: list[Assignment]) -> None:
        self._notice_seq += 1
        info = workflow.info()
        status = self._status(include_history=False)
        facts = {
            "ticket_id": status.ticket_id,
            "stage": status.stage.value,
            "kind": self._call.kind.value,
            "place": status.address or "",
            "text": status.text or "",
            "caller_phone": mask_phone(self._call.intake.caller_phone) or "",
        }
        if self._inbox is not None:
            facts["reply_deadline"] = self._inbox.deadline.isoformat()
        facts = redact_facts(facts, **self._caller())
        notice = Notice(
            kind=kind,
            ticket_id=status.ticket_id,
            idempotency_key=f"{info.workflow_id}/{info.run_id}/{self._notice_seq}",
            recipients=[_recipient(a) for a in people],
            title=f"{status.ticket_id} 市民建议 {status.address or ''}".strip(),
            facts=facts,
            accept_link=False,  # nothing to accept: the reply is the action
        )
        receipt = await workflow.execute_activity_method(
            NotifyActivities.send_notice,
            notice,
            summary=f"notify {kind.value}: {', '.join(a.person_name for a in people)}",
            start_to_close_timeout=NOTIFY_TIMEOUT,
            retry_policy=NOTIFY_RETRY,
        )
        if receipt.failed:
            self._note(self._stage, "notice_failed", detail=f"{kind.value} to {receipt.failed}")
            inbox = self._inbox
            above = inbox.supervisors()[0] if inbox else None
            if above is not None and above.person_id not in receipt.failed:
                await self._notify(NoticeKind.SUPERVISE, [above])

    async def _record(self, event: str) -> None:
        """The same register row as a ticket's (`record_ticket`, a local activity)."""
        inbox = self._inbox
        await workflow.execute_local_activity_method(
            StoreActivities.record_ticket,
            TicketRecord(
                ticket_id=self._call.intake.ticket_id,
                workflow_id=workflow.info().workflow_id,
                stage=self._stage,
                intake=self._call.intake,
                street_code=self._street,
                assignee_id=inbox.owner.person_id if inbox else None,
                tier=inbox.owner.tier if inbox else None,
                event=event,
                at=workflow.now(),
            ),
            summary=f"record: {event}",
            start_to_close_timeout=RECORD_TIMEOUT,
        )


async def _until(condition: Callable[[], bool], until: datetime, summary: str) -> bool:
    """Wait for `condition` until an instant; False if the time ran out first."""
    timeout = until - workflow.now()
    if timeout <= timedelta(0):
        return condition()
    try:
        await workflow.wait_condition(condition, timeout=timeout, timeout_summary=summary)
    except TimeoutError:
        return False
    return True


def _describe(person: Assignment) -> str:
    return f"{person.unit_name} {person.person_name} ({person.person_id})"


def _recipient(person: Assignment) -> Recipient:
    return Recipient(
        person_id=person.person_id,
        name=person.person_name,
        unit_code=person.unit_code,
        tier=person.tier,
    )


def _unique(people: list[Assignment]) -> list[Assignment]:
    return list({a.person_id: a for a in people}.values())


def _work_order_attributes(intake: TicketIntake, kind: CallKind) -> TypedSearchAttributes:
    """The work order's run starts listable at once, its kinds saying where it came from."""
    return sa.initial(intake, CallKind.COMPLAINT, kind)
