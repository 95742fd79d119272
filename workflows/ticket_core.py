"""The state of a ticket and the bookkeeping every stage shares: history, search
attributes, UI details, notices and the register. No I/O of its own: notices and records
go out through activities."""

from __future__ import annotations

import asyncio
import math
from datetime import date, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from cityops.domain.masking import mask_phone, redact_facts
    from cityops.domain.models import (
        HOTLINE_DESK_ID,
        AlarmEvent,
        Assignment,
        CallbackInput,
        Classification,
        DismissInput,
        DispatchPlan,
        ExtensionRequest,
        HistoryEntry,
        Notice,
        NoticeReceipt,
        Pause,
        RecheckInput,
        Recipient,
        ResolveInput,
        ReviewInput,
        RoutePlan,
        RuleClosureInput,
        SplitRecord,
        TicketIntake,
        TicketRecord,
        TicketStatus,
    )
    from cityops.domain.register import RECORD_EVENT, RegisterEvent, event_key
    from cityops.domain.stages import (
        Clock,
        ClosureCheck,
        NoticeKind,
        Stage,
        Tier,
    )
    from cityops.workflows import search_attributes as sa
    from cityops.workflows.details import render_details
    from cityops.workflows.escalation import ChainPoint

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


class TicketCore:
    """State shared by the stages, the clocks and the update handlers."""

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
        # Per clock: the last day the calendar is confirmed for, when its deadline is later.
        self._clock_unconfirmed: dict[Clock, date] = {}
        # Per clock: the epoch it was computed for, and each chain point with its instant.
        self._clock_schedule: dict[Clock, tuple[int, list[tuple[ChainPoint, datetime]]]] = {}
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
        self._dismissal: DismissInput | None = None
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
        self._next_firing: AlarmEvent | None = None
        self._split: SplitRecord | None = None  # the secondary issue became this ticket
        self._registered = 0  # history entries handed to the register so far
        self._register_writes: list[asyncio.Task[Any]] = []

    def _tier_above(self) -> Assignment | None:
        assert self._route is not None and self._assignee is not None
        path = self._route.escalation_path
        for candidate in path:
            if tier_rank(candidate.tier) > tier_rank(self._assignee.tier):
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
        while self._registered < len(self._history):
            event = self._register_event(self._registered)
            self._registered += 1
            self._register_writes.append(
                workflow.start_local_activity(
                    RECORD_EVENT,
                    event,
                    summary=f"register: {event.event}",
                    start_to_close_timeout=RECORD_TIMEOUT,
                )
            )

    def _register_event(self, seq: int) -> RegisterEvent:
        entry = self._history[seq]
        scenario = self._classification.scenario if self._classification else None
        route, assignee, intake = self._route, self._assignee, self._intake
        return RegisterEvent(
            ticket_id=intake.ticket_id,
            workflow_id=workflow.info().workflow_id,
            event_key=event_key(intake.ticket_id, seq),
            seq=seq,
            at=entry.at,
            event=entry.event,
            actor=entry.by,
            detail=entry.detail[:500],
            from_stage=self._history[seq - 1].stage if seq else None,
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
            accept_deadline=self._deadlines.get(Clock.ACCEPT),
            resolve_deadline=self._deadlines.get(Clock.RESOLVE),
            paused=self._paused_since is not None,
            overdue=self._overdue,
            address=(intake.address or (intake.alarm.site if intake.alarm else None))
            if seq == 0
            else None,
            text=intake.text if seq == 0 else None,
            caller_phone=intake.caller_phone if seq == 0 else None,
            caller_name=intake.caller_name if seq == 0 else None,
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
        workflow.set_current_details(render_details(self._status(), **self._caller()))

    def _caller(self) -> dict[str, list[str | None]]:
        """The caller's own name and phone, masked wherever the workflow writes for people
        (UI details, notices); the full values stay in the encrypted intake."""
        return {"names": [self._intake.caller_name], "phones": [self._intake.caller_phone]}

    def _status(self, include_history: bool = True) -> TicketStatus:
        scenario = self._classification.scenario if self._classification else None
        return TicketStatus(
            ticket_id=self._intake.ticket_id,
            stage=self._stage,
            source=self._intake.source,
            text=self._intake.text,
            address=self._intake.address
            or (self._intake.alarm.site if self._intake.alarm else None),
            caller_phone_masked=mask_phone(self._intake.caller_phone),
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
            calendar_unconfirmed_after=self._calendar_unconfirmed_after(),
            classification=self._classification,
            history=list(self._history) if include_history else [],
            split=self._split,
            split_from=self._intake.split_from,
        )

    def _calendar_unconfirmed_after(self) -> date | None:
        """The earliest unconfirmed-calendar day among the clocks still running."""
        done = {
            Clock.ACCEPT: self._accepted_by is not None,
            Clock.CONTACT: self._contacted_at is not None,
            Clock.RESOLVE: self._resolution is not None,
        }
        if self._stage.is_final:
            return None
        return min(
            (day for clock, day in self._clock_unconfirmed.items() if not done[clock]),
            default=None,
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
        recipients = [recipient_of(a) for a in assignments]
        recipients += extra or []
        if not recipients:
            return
        self._notice_seq += 1
        status = self._status(include_history=False)
        notice = Notice(
            kind=kind,
            ticket_id=self._intake.ticket_id,
            idempotency_key=f"{workflow.info().workflow_id}/{workflow.info().run_id}/{self._notice_seq}",
            recipients=recipients,
            title=_notice_title(status),
            facts=redact_facts(self._notice_facts(status) | (facts or {}), **self._caller()),
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
        """Write the register row. A local activity: one short database write needs no
        server round trip, and that round trip is what limits new tickets per second."""
        if workflow.patched("register-events"):  # every entry is written by _register_history
            writes, self._register_writes = self._register_writes, []
            await asyncio.gather(*writes)
            return
        scenario = self._classification.scenario if self._classification else None
        record = TicketRecord(
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
        )
        if workflow.patched("record-as-local-activity"):
            await workflow.execute_local_activity(
                "record_ticket",
                record,
                summary=f"record: {event}",
                start_to_close_timeout=RECORD_TIMEOUT,
            )
        else:  # tickets recorded before the change replay as they ran
            await workflow.execute_activity(
                "record_ticket",
                record,
                summary=f"record: {event}",
                start_to_close_timeout=RECORD_TIMEOUT,
            )


def _notice_title(status: TicketStatus) -> str:
    return f"{status.ticket_id} {status.scenario_name or '待分类'} {status.address or ''}".strip()


def tier_rank(tier: Tier) -> int:
    return {Tier.VILLAGE: 0, Tier.STREET: 1, Tier.DISTRICT: 2}[tier]


def recipient_of(assignment: Assignment) -> Recipient:
    return Recipient(
        person_id=assignment.person_id,
        name=assignment.person_name,
        unit_code=assignment.unit_code,
        tier=assignment.tier,
    )


def describe_assignee(assignment: Assignment) -> str:
    return f"{assignment.unit_name} {assignment.person_name} ({assignment.person_id})"


def explain_classification(classification: Classification) -> str:
    assert classification.scenario is not None
    rules = ", ".join(m.rule for m in classification.matched[:5])
    scenario, version = classification.scenario.id, classification.rules_version
    return f"{scenario} {classification.confidence:.2f} [{rules}] rules {version}"


def calendar_name(working_time: bool) -> str:
    return "working calendar" if working_time else "wall clock"


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance; plenty for 'was the photo taken at the place'."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_000 * math.asin(math.sqrt(h))
