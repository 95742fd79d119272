"""SLA clocks and escalation chains: start a clock, compute its instants, walk the
plan's steps at their fractions of the budget, and take each step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from cityops.domain.models import (
        Assignment,
        DeadlinesRequest,
        DeadlinesResult,
    )
    from cityops.domain.stages import (
        Clock,
        NoticeKind,
        Stage,
        StepKind,
    )
    from cityops.workflows.escalation import ChainPoint, ClockMark, chain_points

from cityops.workflows.ticket_core import (
    LOCAL_TIMEOUT,
    TicketCore,
    calendar_name,
    describe_assignee,
)


class TicketClocks(TicketCore):
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
        if workflow.patched("chain-instants-at-clock-start"):
            # One local activity for the deadline and every step of the first walk.
            points = chain_points(self._plan.escalation, clock)
            instants = await self._instants(clock, [1.0, *(p.fraction for p in points)])
            self._deadlines[clock] = instants[0]
            self._clock_schedule[clock] = (
                self._clock_epoch[clock],
                list(zip(points, instants[1:], strict=True)),
            )
        else:
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
            summary=f"{clock.value} clock on the {calendar_name(self._clock_working[clock])}",
            start_to_close_timeout=LOCAL_TIMEOUT,
        )
        if 1.0 in fractions:  # the deadline itself: does it fall where the calendar is unknown?
            if result.unconfirmed_after is None:
                self._clock_unconfirmed.pop(clock, None)
            else:
                self._clock_unconfirmed[clock] = result.unconfirmed_after
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
        for point, when in await self._schedule(clock, epoch):
            await self._wait(interrupted, until=when, summary=f"{clock.value} clock: {point.label}")
            if interrupted():
                return
            self._clock_reached[clock] = point.fraction
            await self._take(point, clock)
            if interrupted():
                return
        await self._wait(interrupted)

    async def _schedule(self, clock: Clock, epoch: int) -> list[tuple[ChainPoint, datetime]]:
        """The points still ahead on this run of the clock, with their instants: from the
        clock's start when nothing moved it since, else computed anew (after a pause)."""
        assert self._plan is not None
        reached = self._clock_reached[clock]
        cached = self._clock_schedule.get(clock)
        if cached is not None and cached[0] == epoch:
            return [(point, when) for point, when in cached[1] if point.fraction > reached]
        points = [p for p in chain_points(self._plan.escalation, clock) if p.fraction > reached]
        instants = await self._instants(clock, [p.fraction for p in points])
        return list(zip(points, instants, strict=True))

    async def _take(self, point: ChainPoint, clock: Clock) -> None:
        assert self._assignee is not None
        action = point.action
        if isinstance(action, ClockMark) and clock is Clock.CONTACT:
            if action is ClockMark.RED:
                self._note(
                    self._stage, "first_contact_overdue", detail=describe_assignee(self._assignee)
                )
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
            self._note(self._stage, "reminded", detail=describe_assignee(self._assignee))
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
        self._set_stage(stage, event, detail=describe_assignee(target))

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
