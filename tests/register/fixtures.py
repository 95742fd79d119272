"""A hand-made register: nine tickets of 1 December 2026 (Shanghai) and around it, each
written event by event as the workflow would. tests/register/test_kpis.py holds the
figures computed by hand from this table (docs/kpis.md has the definitions)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from cityops.db.audit import AlarmEventRow, record_events
from cityops.domain.register import RegisterEvent, event_key
from cityops.domain.stages import Dimension, Source, Stage
from cityops.domain.zones import SHANGHAI
from cityops.register.records import EventRecord
from cityops.register.write import write_event
from tests.api.stack import Organisation, seeded_organisation

DAY = datetime(2026, 12, 1, tzinfo=SHANGHAI)


def at(hhmm: str, day: int = 0) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return DAY + timedelta(days=day, hours=hour, minutes=minute)


@dataclass
class Ticket:
    """Builds one ticket's events; facts set by `place` carry into the later events."""

    ticket_id: str
    source: Source
    received: datetime
    records: list[EventRecord] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)
    stage: Stage = Stage.INTAKE

    def __post_init__(self) -> None:
        self.add("received", Stage.INTAKE, self.received)

    def add(self, event: str, stage: Stage, when: datetime, **facts: object) -> Ticket:
        self.facts.update(facts)
        self.records.append(
            EventRecord(
                ticket_id=self.ticket_id,
                event=event,
                stage=stage,
                at=when,
                source=self.source,
                received_at=self.received,
                seq=len(self.records),
                from_stage=self.stage if self.records else None,
                **self.facts,  # type: ignore[arg-type]
            )
        )
        self.stage = stage
        return self

    def place(self, scenario: str, street: str | None, station: str | None) -> Ticket:
        dimension = SCENARIOS[scenario]
        self.facts.update(
            scenario_id=scenario, category_id=scenario[:2], dimension=dimension,
            street_code=street, station_code=station,
        )  # fmt: skip
        return self

    def dispatch(self, when: datetime, accept_within: int = 30) -> Ticket:
        return self.add(
            "dispatched",
            Stage.AWAITING_ACCEPT,
            when,
            accept_deadline=when + timedelta(minutes=accept_within),
            assignee_id=f"P-{self.facts.get('station_code') or 'X'}",
        )

    def accept(self, when: datetime, resolve_deadline: datetime) -> Ticket:
        return self.add("accepted", Stage.ACCEPTED, when, resolve_deadline=resolve_deadline)

    def resolve(self, when: datetime) -> Ticket:
        self.add("resolved", Stage.RESOLVED, when)
        return self.add("verifying", Stage.VERIFYING, when)


SCENARIOS = {
    "PS01": "safe", "PS03": "safe", "PS06": "safe", "CA01": "clean", "TR01": "orderly",
    "CA04": "orderly", "EN01": "orderly", "CH01": "orderly",
}  # fmt: skip


def tickets() -> list[Ticket]:
    a = Ticket("A", Source.HOTLINE, at("09:00")).place("PS03", "T01", "T01-01")
    a.dispatch(at("09:01")).accept(at("09:11"), at("13:11")).resolve(at("10:11"))
    a.add("callback_satisfied", Stage.VERIFYING, at("10:40"), actor="hotline-7")
    a.add("closed", Stage.CLOSED, at("10:40"))

    b = Ticket("B", Source.IOT, at("10:00")).place("CA01", "T01", "T01-02")
    b.dispatch(at("10:00"))
    b.add("escalated", Stage.ESCALATED, at("10:30"), accept_deadline=at("11:00"))
    b.accept(at("10:50"), at("14:50")).resolve(at("16:00"))
    b.add("sensor_refired", Stage.VERIFYING, at("16:20"))
    b.add("reopened", Stage.REOPENED, at("16:20"), resolve_deadline=at("20:20"))
    b.resolve(at("18:00")).add("closed", Stage.CLOSED, at("18:30"))

    c = Ticket("C", Source.HOTLINE, at("11:00")).place("TR01", "T02", "T02-01")
    c.dispatch(at("11:01"))
    c.add("returned", Stage.AWAITING_ACCEPT, at("11:05"), street_code="T03",
          station_code="T03-01", assignee_id="P-T03-01")  # fmt: skip
    c.accept(at("11:20"), at("11:20", day=2))
    c.add("extension_requested", Stage.ACCEPTED, at("14:00"))
    c.add("extension_approved", Stage.ACCEPTED, at("15:00"), resolve_deadline=at("18:00", day=4))

    d = Ticket("D", Source.GRID, at("12:00")).place("CA04", "T02", "T02-02")
    d.dispatch(at("12:01")).accept(at("12:10"), at("14:10"))
    d.add("overdue", Stage.ACCEPTED, at("14:10"))

    e = Ticket("E", Source.HOTLINE, at("13:00"))
    e.add("needs_triage", Stage.TRIAGE, at("13:00"))
    e.add("dismissed", Stage.DISMISSED, at("13:30"), actor="P-DIST-1")

    f = Ticket("F", Source.HOTLINE, at("14:00")).add("needs_triage", Stage.TRIAGE, at("14:00"))

    g = Ticket("G", Source.HOTLINE, at("20:00", day=-1)).place("PS06", "T01", "T01-01")
    g.dispatch(at("20:01", day=-1)).accept(at("20:05", day=-1), at("08:05"))
    g.add("clock_paused", Stage.ACCEPTED, at("07:00"), paused=True)

    h = Ticket("H", Source.VIDEO, at("15:00")).place("CA04", "T02", "T02-02")
    h.dispatch(at("15:00")).accept(at("15:10"), at("17:10")).resolve(at("16:00"))
    h.add("closed_unfixed", Stage.CLOSED_UNFIXED, at("20:00"), actor="P-SUP-1")

    i = Ticket("I", Source.HOTLINE, at("16:00")).place("EN01", "T01", "T01-03")
    i.dispatch(at("16:01")).accept(at("16:20"), at("18:20")).resolve(at("17:00"))
    i.add("callback_unsatisfied", Stage.VERIFYING, at("17:30"))
    i.add("reopened", Stage.REOPENED, at("17:30"), resolve_deadline=at("19:30"))
    i.resolve(at("09:00", day=1))  # after the window: not seen at its end

    j = Ticket("J", Source.IOT, at("01:00", day=1)).place("PS01", "T01", "T01-01")
    j.dispatch(at("01:00", day=1))

    k = Ticket("K", Source.HOTLINE, at("10:00", day=-1)).place("CH01", "T01", "T01-01")
    k.dispatch(at("10:01", day=-1)).accept(at("10:05", day=-1), at("12:00", day=-1))
    k.resolve(at("11:00", day=-1)).add("closed", Stage.CLOSED, at("18:00", day=-1))
    return [a, b, c, d, e, f, g, h, i, j, k]


def records() -> list[EventRecord]:
    return [record for ticket in tickets() for record in ticket.records]


# Alarm events of the day: a gas detector still firing at 30 %LEL, a smart bin that fired
# three times (ticket B's device), a water-level sensor that fired and resolved.
ALARMS = [
    ("a1", "GAS-1", "gas_detector", "lel_percent", 30.0, "firing", at("08:00"), None),
    ("a2", "BIN-1", "smart_bin", "fill_percent", 95.0, "firing", at("10:00"), "B"),
    ("a3", "BIN-1", "smart_bin", "fill_percent", 96.0, "firing", at("12:00"), "B"),
    ("a4", "BIN-1", "smart_bin", "fill_percent", 99.0, "firing", at("15:00"), "B"),
    ("a5", "WL-1", "water_level", "depth_cm", 12.0, "firing", at("09:00"), None),
    ("a6", "WL-1", "water_level", "depth_cm", 2.0, "resolved", at("11:00"), None),
]


def register_events() -> list[RegisterEvent]:
    """The fixture as the workflow would send it to the register."""
    made = []
    for ticket in tickets():
        for record in ticket.records:
            assert record.seq is not None
            made.append(
                RegisterEvent(
                    ticket_id=record.ticket_id,
                    workflow_id=f"ticket-{record.ticket_id}",
                    event_key=event_key(record.ticket_id, record.seq),
                    seq=record.seq,
                    at=record.at,
                    event=record.event,
                    actor=record.actor,
                    from_stage=record.from_stage,
                    to_stage=record.stage,
                    source=record.source,
                    received_at=record.received_at,
                    scenario_id=record.scenario_id,
                    category_id=record.category_id,
                    dimension=Dimension(record.dimension) if record.dimension else None,
                    street_code=record.street_code,
                    station_code=record.station_code,
                    assignee_id=record.assignee_id,
                    accept_deadline=record.accept_deadline,
                    resolve_deadline=record.resolve_deadline,
                    paused=record.paused,
                    address=f"浦东新区{record.ticket_id}路1号" if record.seq == 0 else None,
                )
            )
    return made


def write_fixture(engine: Engine) -> None:
    """The fixture's tickets and alarms in a migrated database."""
    for event in register_events():
        write_event(engine, event)
    rows = [
        AlarmEventRow(
            event_id=event_id, device_id=device, sensor_type=sensor, metric=metric,
            status=status, occurred_at=when.astimezone(UTC), received_at=when.astimezone(UTC),
            outcome="new_ticket" if ticket else "no_scenario", ticket_id=ticket,
            payload=json.dumps({"value": value, "attributes": {}}),
        )
        for event_id, device, sensor, metric, value, status, when, ticket in ALARMS
    ]  # fmt: skip
    record_events(engine, rows)


def seeded_register(directory: Path) -> Organisation:
    """A migrated database with the demo organisation and this register in it."""
    organisation = seeded_organisation(directory)
    write_fixture(organisation.engine)
    return organisation
