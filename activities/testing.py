"""Test doubles shipped with the code, registered under the real activity names.

Used by the time-skipping workflow tests and by anyone who wants to run the
workflow without an organisation database or real channels.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from temporalio import activity

from cityops.domain.models import (
    Assignment,
    Notice,
    NoticeReceipt,
    RoutePlan,
    ScenarioRef,
    TicketIntake,
    TicketRecord,
)
from cityops.domain.register import RECORD_EVENT, RECORD_EVENTS, RegisterEvent
from cityops.domain.stages import Tier
from cityops.register.write import write_events

STATION = Assignment(
    tier=Tier.VILLAGE,
    unit_code="T01-01",
    unit_name="碧波居委工作站",
    person_id="P-T01-01-1",
    person_name="网格员甲",
)
STREET = Assignment(
    tier=Tier.STREET,
    unit_code="T01",
    unit_name="张江镇城运分中心",
    person_id="P-T01-D",
    person_name="分中心值班长",
)
DISTRICT = Assignment(
    tier=Tier.DISTRICT,
    unit_code="DISTRICT",
    unit_name="浦东新区城运中心",
    person_id="P-DIST-D",
    person_name="区城运调度员",
)
DUTY_LEADER = DISTRICT.model_copy(update={"person_id": "P-DIST-L", "person_name": "区城运值班长"})
DIRECTOR = DISTRICT.model_copy(update={"person_id": "P-DIR", "person_name": "区城运中心主任"})
LEADERS = [DUTY_LEADER, DIRECTOR]
DUTY_SUPERVISOR = DISTRICT.model_copy(
    update={"person_id": "P-DIST-S", "person_name": "区城运督办员"}
)


class FakeRouter:
    """Routes every ticket into street T01 of a small organisation: a station, its street,
    a district department officer, the district dispatcher, duty leader and director, and
    the district's duty supervisor (督办)."""

    def triage(self, intake: TicketIntake, at: datetime) -> RoutePlan:
        return RoutePlan(
            street_code="T01",
            station_code=None,
            assignee=DISTRICT,
            dispatcher=DISTRICT,
            leaders=LEADERS,
            rule="triage",
        )

    def district_supervisor(self, at: datetime) -> Assignment:
        return DUTY_SUPERVISOR

    def route(self, scenario: ScenarioRef, intake: TicketIntake) -> RoutePlan:
        if scenario.handling_tier is Tier.VILLAGE:
            return RoutePlan(
                street_code="T01",
                station_code="T01-01",
                assignee=STATION,
                escalation_path=[STREET, DISTRICT],
                dispatcher=STREET,
                leaders=LEADERS,
                rule="fake",
            )
        if scenario.handling_tier is Tier.STREET:
            return RoutePlan(
                street_code="T01",
                station_code="T01-01",
                assignee=STREET,
                escalation_path=[DISTRICT],
                dispatcher=DISTRICT,
                leaders=LEADERS,
                rule="fake",
            )
        officer = DISTRICT.model_copy(
            update={
                "person_id": "P-DEPT",
                "person_name": "委办局值班员",
                "department": scenario.lead_department,
            }
        )
        return RoutePlan(
            street_code="T01",
            station_code="T01-01",
            assignee=officer,
            escalation_path=[DISTRICT],
            co_handlers=[STREET],
            dispatcher=DISTRICT,
            leaders=LEADERS,
            rule="fake",
        )

    def inbox(self, unit_code: str | None, intake: TicketIntake, at: datetime) -> RoutePlan:
        """A named department's officer owns a suggestion; without one, the district."""
        if unit_code is None:
            return RoutePlan(
                street_code="T01", station_code=None, assignee=DISTRICT, rule="fake-inbox"
            )
        officer = DISTRICT.model_copy(
            update={
                "unit_code": unit_code,
                "person_id": "P-DEPT",
                "person_name": "委办局值班员",
                "department": unit_code,
            }
        )
        return RoutePlan(
            street_code="T01",
            station_code=None,
            assignee=officer,
            escalation_path=[DISTRICT],
            dispatcher=DISTRICT,
            rule="fake-inbox",
        )


class NoSupervisorRouter(FakeRouter):
    """The same organisation with no supervisor (督办) at the district center: like
    OrgDirectory.duty_supervisor, it names the center's duty leader instead."""

    def district_supervisor(self, at: datetime) -> Assignment:
        return DUTY_LEADER


@dataclass
class RecordingNotifier:
    """Keeps every notice; `failing` names persons whose every channel is down. A local
    attempt (a new ticket's assignment, engine revision 2) takes `local_delay` seconds
    (a slow channel), then raises when `local_down` (a channel down), sending nothing."""

    notices: list[Notice] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)
    local_delay: float = 0.0
    local_down: bool = False
    local_attempts: int = 0

    @activity.defn(name="send_notice")
    async def send_notice(self, notice: Notice) -> NoticeReceipt:
        if activity.info().is_local:
            self.local_attempts += 1
            await asyncio.sleep(self.local_delay)
            if self.local_down:
                raise ConnectionError("every channel is down")
        self.notices.append(notice)
        ids = [r.person_id for r in notice.recipients]
        return NoticeReceipt(
            delivered_to=[i for i in ids if i not in self.failing],
            failed=[i for i in ids if i in self.failing],
        )

    def kinds(self) -> list[str]:
        return [n.kind.value for n in self.notices]

    def to(self, person_id: str) -> list[str]:
        return [
            n.kind.value
            for n in self.notices
            if any(r.person_id == person_id for r in n.recipients)
        ]


@dataclass
class RecordingStore:
    """Keeps every register event (and record of the earlier writer, for histories from
    before the register); `gate_closing` holds the event of a final stage until released,
    so a test can act in the moment between a ticket's final stage and the end of its run.
    Like the real register, an event delivered twice (a retried write) is kept once.
    With `engine`, the events are written to that database's register too (`tickets`,
    `ticket_events`), for an app that reads it (scope checks, station lists)."""

    events: dict[str, RegisterEvent] = field(default_factory=dict)
    engine: Engine | None = None
    records: list[TicketRecord] = field(default_factory=list)
    gate_closing: asyncio.Event | None = None
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    def activities(self) -> list[Callable[..., Any]]:
        return [self.record_event, self.record_events, self.record_ticket]

    def register(self, ticket_id: str) -> list[RegisterEvent]:
        """One ticket's register events in history order."""
        return sorted(
            (e for e in self.events.values() if e.ticket_id == ticket_id), key=lambda e: e.seq
        )

    @activity.defn(name=RECORD_EVENT)
    async def record_event(self, event: RegisterEvent) -> None:
        if event.to_stage.is_final:
            self.closing.set()
            if self.gate_closing is not None:
                await self.gate_closing.wait()
        self.events[event.event_key] = event
        if self.engine is not None:
            await asyncio.to_thread(write_events, self.engine, [event])

    @activity.defn(name=RECORD_EVENTS)
    async def record_events(self, events: list[RegisterEvent]) -> None:
        for event in events:
            await self.record_event(event)

    @activity.defn(name="record_ticket")
    async def record_ticket(self, record: TicketRecord) -> None:
        if record.event == "closed":
            self.closing.set()
            if self.gate_closing is not None:
                await self.gate_closing.wait()
        self.records.append(record)
