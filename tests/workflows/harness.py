"""Run TicketWorkflow with the real rules, a fake organisation and recording channels."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from cityops.activities.calls import CallActivities
from cityops.activities.dispatch import DispatchActivities
from cityops.activities.grouping import NoticeGroupActivities
from cityops.activities.route import RoutingActivities
from cityops.activities.store import StoreActivities
from cityops.activities.testing import FakeRouter, RecordingNotifier, RecordingStore
from cityops.domain.models import ENGINE_REVISION, TicketIntake, TicketOutcome, TicketStatus
from cityops.domain.register import RECORD_EVENT, RECORD_EVENTS, RegisterEvent
from cityops.domain.stages import Source, Stage
from cityops.org.models import DISTRICT_CENTER
from cityops.org.routing import OrgRouter
from cityops.rules.calendar import WorkingHours, is_working_day
from cityops.rules.calendar_loader import project_working_hours
from cityops.rules.handling import HandlingRules
from cityops.service import tickets
from cityops.workers.main import build_worker
from cityops.workflows.ticket import TicketWorkflow
from tests.conftest import eventually, fresh_queue

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def advance_to_local_hour(env: WorkflowEnvironment, hour: int) -> datetime:
    """Move the time-skipping server's clock to the next HH:00 Shanghai time and return that
    instant: rosters change with the hour, so a test that depends on who is on duty pins
    the hour instead of inheriting the wall clock's. The day may be any day, a weekend or a
    holiday: a test whose clocks count working time uses advance_to_plain_week instead."""
    current = (await env.get_current_time()).astimezone(SHANGHAI)
    target = current.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= current:
        target += timedelta(days=1)
    await env.sleep(target - current)
    return target.astimezone(UTC)


def plain_days(first: date, days: int, hours: WorkingHours) -> bool:
    """Whether `hours` works exactly Monday to Friday over the `days` days from `first`:
    no holiday, no make-up working day."""
    span = [first + timedelta(days=n) for n in range(days)]
    return all(is_working_day(day, hours) == (day.weekday() < 5) for day in span)


async def advance_to_plain_week(
    env: WorkflowEnvironment, weekday: int = 2, hour: int = 10
) -> datetime:
    """Move the time-skipping server's clock to HH:00 Shanghai time on the next `weekday`
    (0 is Monday) that starts a plain fortnight on the project's working calendar: Monday
    to Friday work, no holiday, no make-up day. A test whose waits count working time then
    runs the same whatever the wall-clock date."""
    hours = project_working_hours()
    current = (await env.get_current_time()).astimezone(SHANGHAI)
    day = current.date() + timedelta(days=1)
    while day.weekday() != weekday or not plain_days(day, 14, hours):
        day += timedelta(days=1)
    target = datetime.combine(day, time(hour), SHANGHAI)
    await env.sleep(target - current)
    return target.astimezone(UTC)


def on_duty_district_dispatcher(at: datetime) -> str:
    """Who the seeded demo organisation puts on duty at the district center at `at`: the
    organisation answers, the test does not assume a shift."""
    return OrgRouter.demo().directory.on_duty(DISTRICT_CENTER, at).id


@dataclass
class Harness:
    env: WorkflowEnvironment
    client: Client
    task_queue: str
    notifier: RecordingNotifier
    store: RecordingStore

    async def start(self, intake: TicketIntake) -> WorkflowHandle[TicketWorkflow, TicketOutcome]:
        """Submit, and return once the ticket is dispatched or waiting for triage, as a
        person would only act on a ticket they have been told about."""
        await tickets.submit(self.client, intake, self.task_queue)
        await self.settled(intake.ticket_id)
        return self.client.get_workflow_handle_for(
            TicketWorkflow.run, tickets.workflow_id_for(intake.ticket_id)
        )

    async def status(self, ticket_id: str) -> TicketStatus:
        return await tickets.status(self.client, ticket_id)

    async def until_stage(self, ticket_id: str, stage: Stage) -> TicketStatus:
        async def check() -> TicketStatus:
            status = await self.status(ticket_id)
            assert status.stage is stage, f"stage {status.stage}, waiting for {stage}"
            return status

        return await eventually(check)

    async def settled(self, ticket_id: str) -> TicketStatus:
        """The status once the ticket is dispatched (or waiting for triage)."""

        async def check() -> TicketStatus:
            status = await self.status(ticket_id)
            assert status.assignee_id is not None or status.stage is Stage.TRIAGE
            return status

        return await eventually(check)

    async def closing_recorded(self) -> None:
        await asyncio.wait_for(self.store.closing.wait(), timeout=10)

    async def until(self, predicate: Callable[[], bool]) -> None:
        async def check() -> None:
            assert predicate()

        await eventually(check)


class LostAnswers:
    """The real register writer whose first attempt at each event commits the row and then
    fails, as when the database's answer is lost: the workflow's local activity retries."""

    def __init__(self, store: StoreActivities) -> None:
        self._store = store

    @activity.defn(name=RECORD_EVENT)
    def record_event(self, event: RegisterEvent) -> None:
        self._store.record_event(event)
        if activity.info().attempt == 1:
            raise RuntimeError(f"lost the answer for {event.event_key}")

    @activity.defn(name=RECORD_EVENTS)
    def record_events(self, events: list[RegisterEvent]) -> None:
        self._store.record_events(events)
        if activity.info().attempt == 1:
            raise RuntimeError(f"lost the answer for {events[0].event_key} and after")


@asynccontextmanager
async def running(
    env: WorkflowEnvironment,
    failing: set[str] | None = None,
    *,
    demo_org: bool = False,
    hours: WorkingHours | None = None,
    register: Engine | None = None,
    handling: HandlingRules | None = None,
    lose_first_answers: bool = False,
    router: FakeRouter | None = None,
    replay_every_task: bool = False,
) -> AsyncIterator[Harness]:
    """A worker on a fresh queue: the fake three-person organisation by default, or the
    seeded demo organisation (real routing, returns and transfers) with demo_org=True;
    `hours` replaces the project's working calendar, `handling` its SLA and chains;
    `register` writes the register into that database with the real store activities
    instead of recording it (`lose_first_answers`: each event's first write commits and
    then fails, so every write is retried); `router` replaces the fake organisation
    (a variant of FakeRouter, e.g. NoSupervisorRouter); `replay_every_task` keeps no run
    in memory, so every task replays the history, and runs outside the sandbox, so a test
    may swap a method for the code before a change (a ticket in flight across a deploy)."""
    queue = fresh_queue()
    notifier = RecordingNotifier(failing=failing or set())
    store = RecordingStore()
    activities: list[Callable[..., Any]] = [
        notifier.send_notice,
        *store.activities(),
        NoticeGroupActivities().group_notice,
    ]
    if register is not None:
        real = StoreActivities(register)
        activities = [
            notifier.send_notice,
            LostAnswers(real).record_event if lose_first_answers else real.record_event,
            LostAnswers(real).record_events if lose_first_answers else real.record_events,
            real.record_ticket,
            NoticeGroupActivities().group_notice,
        ]
    if demo_org:
        demo = OrgRouter.demo()
        routing = RoutingActivities(demo)
        dispatch = DispatchActivities(router=demo, hours=hours, handling=handling)
        calls = CallActivities(demo)
        activities += [routing.return_ticket, routing.transfer_ticket]
    else:
        fake = router or FakeRouter()
        dispatch = DispatchActivities(router=fake, hours=hours, handling=handling)
        calls = CallActivities(fake)
    activities += [*dispatch.activities(), *calls.activities()]
    # The workflow package runs inside the sandbox here: a clock or I/O in it fails the test.
    worker = build_worker(
        env.client,
        queue,
        activities,
        check_workflow_code=not replay_every_task,
        max_cached_workflows=0 if replay_every_task else 1000,
    )
    async with worker:
        yield Harness(env, env.client, queue, notifier, store)


def intake(
    ticket_id: str,
    *,
    scenario: str | None = None,
    text: str | None = "测试工单",
    received_at: datetime,
    **extra: object,
) -> TicketIntake:
    return TicketIntake.model_validate(
        {
            "ticket_id": ticket_id,
            "source": Source.HOTLINE,
            "text": text,
            "address": "浦东新区张江镇碧波路690号",
            "caller_phone": "13900001234",
            "received_at": received_at,
            "service_code": scenario,
            "engine": ENGINE_REVISION,  # as the intake starts every new ticket
            **extra,
        }
    )
