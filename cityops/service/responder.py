"""The responder's page over a Temporal client and the organisation: one person's view of
one ticket, and that person's open tickets, most urgent first.

The view joins three sources without changing the workflow: its ``status`` query; its
input (the TicketIntake recorded in the first history event: the place's coordinates,
the caller's phone, the alarm), read once per ticket and kept, since it never changes;
and the organisation (the units under the person's own, for a transfer down).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, RPCError

from cityops.domain.models import TicketIntake, TicketStatus
from cityops.domain.responder import (
    MyTicket,
    ResponderView,
    effective_closure_check,
    most_urgent_first,
)
from cityops.domain.stages import Stage
from cityops.org.models import OrgUnit, Person
from cityops.service import tickets
from cityops.service.tickets import TicketNotFound, TicketRejected, TicketUnavailable
from cityops.workflows import search_attributes as sa

# Person ids go into a visibility query: plain codes only, so no quoting tricks.
PERSON_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_INTAKE_CACHE_SIZE = 2048


@dataclass
class Responder:
    """What the page asks of the system; one per app."""

    client: Client
    engine: Engine

    def __post_init__(self) -> None:
        self._intakes: OrderedDict[str, TicketIntake] = OrderedDict()

    async def view(self, ticket_id: str, person_id: str) -> ResponderView:
        status = await tickets.status(self.client, ticket_id)
        return await self.view_of(status, person_id)

    async def view_of(self, status: TicketStatus, person_id: str) -> ResponderView:
        intake = await self.intake(status.ticket_id)
        scenario = status.classification.scenario if status.classification else None
        check = (
            effective_closure_check(
                scenario.closure_check,
                alarm_sensor_type=intake.alarm.sensor_type if intake.alarm else None,
                has_caller_phone=bool(intake.caller_phone),
            )
            if scenario
            else None
        )
        lat, lon = intake.lat, intake.lon
        if (lat is None or lon is None) and intake.alarm is not None:
            lat, lon = intake.alarm.lat, intake.alarm.lon
        dispatched = next((e.at for e in status.history if e.event == "dispatched"), None)
        mine = status.assignee_id == person_id
        return ResponderView(
            status=status,
            person_id=person_id,
            lat=lat,
            lon=lon,
            caller_phone=intake.caller_phone,
            caller_name=intake.caller_name,
            closure_check=check,
            dispatched_at=dispatched,
            child_units=self.units_below(person_id) if mine else [],
        )

    async def intake(self, ticket_id: str) -> TicketIntake:
        """The workflow's input: the first event of its history, decoded like any payload."""
        cached = self._intakes.get(ticket_id)
        if cached is not None:
            self._intakes.move_to_end(ticket_id)
            return cached
        handle = await tickets.resolve_handle(self.client, ticket_id)
        try:
            async for event in handle.fetch_history_events(page_size=1):
                payloads = event.workflow_execution_started_event_attributes.input.payloads
                [intake] = await self.client.data_converter.decode(payloads, [TicketIntake])
                break
            else:
                raise TicketNotFound(f"no ticket {ticket_id}")
        except RPCError as exc:
            raise TicketUnavailable(f"Temporal is unavailable: {exc.message}") from exc
        if not isinstance(intake, TicketIntake):
            raise TicketRejected(f"ticket {ticket_id} has no readable intake")
        self._intakes[ticket_id] = intake
        while len(self._intakes) > _INTAKE_CACHE_SIZE:
            self._intakes.popitem(last=False)
        return intake

    def units_below(self, person_id: str) -> list[tuple[str, str]]:
        """The units directly under the person's own unit: where they may transfer down."""
        with Session(self.engine) as session:
            person = session.get(Person, person_id)
            if person is None:
                return []
            units = session.exec(
                select(OrgUnit)
                .where(OrgUnit.parent_code == person.unit_code)
                .order_by(col(OrgUnit.code))
            )
            return [(unit.code, unit.name) for unit in units]

    def person_name(self, person_id: str) -> str | None:
        with Session(self.engine) as session:
            person = session.get(Person, person_id)
            return person.name if person else None

    async def my_tickets(self, person_id: str, limit: int = 100) -> list[MyTicket]:
        """The person's open tickets from the visibility store, most urgent first."""
        if not PERSON_ID.match(person_id):
            return []
        rows = await tickets.list_tickets(
            self.client,
            f"{sa.ASSIGNEE.name} = '{person_id}' AND ExecutionStatus = 'Running'",
            limit,
        )
        found = [_my_ticket(row.ticket_id, row.attributes) for row in rows]
        return most_urgent_first([row for row in found if not row.stage.is_final])


def _my_ticket(ticket_id: str, attributes: dict[str, Any]) -> MyTicket:
    def text(key: str) -> str | None:
        value = attributes.get(key)
        return str(value) if value else None

    def instant(key: str) -> datetime | None:
        value = attributes.get(key)
        return value if isinstance(value, datetime) else None

    sla = attributes.get(sa.SLA_COLOUR.name) or ["green"]
    try:
        stage = Stage(text(sa.STAGE.name) or "intake")
    except ValueError:
        stage = Stage.INTAKE
    return MyTicket(
        ticket_id=ticket_id,
        stage=stage,
        scenario_id=text(sa.SCENARIO.name),
        priority=text(sa.PRIORITY.name),
        sla=str(sla[0]) if isinstance(sla, list) and sla else "green",
        overdue=bool(attributes.get(sa.OVERDUE.name)),
        accept_deadline=instant(sa.ACCEPT_DEADLINE.name),
        resolve_deadline=instant(sa.RESOLVE_DEADLINE.name),
    )
