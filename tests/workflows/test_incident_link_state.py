"""IncidentLinks without Temporal: what a ticket keeps of its incidents and repeat calls,
bounded; who waits on a primary; the group key of its follow-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cityops.domain.incidents import IncidentJoined, PrimaryClosed
from cityops.domain.models import IncidentLink, TicketIntake
from cityops.domain.stages import LinkKind, Priority, Source, Stage
from cityops.workflows.incident_link import KEPT, IncidentLinks

AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def intake(
    ticket_id: str, link: IncidentLink | None = None, text: str = "垃圾房满了"
) -> TicketIntake:
    return TicketIntake(
        ticket_id=ticket_id,
        source=Source.HOTLINE,
        text=text,
        caller_phone="13812345678",
        received_at=AT,
        incident=link,
    )


def repeat_link(**extra: str | None) -> IncidentLink:
    fields: dict[str, str | None] = {
        "primary_ticket_id": "P1",
        "primary_workflow_id": "ticket-P1",
        **extra,
    }
    return IncidentLink(incident_id="IN1", kind=LinkKind.REPEAT_CALL, **fields)


def test_only_a_repeat_report_with_a_primary_found_waits_on_it() -> None:
    links = IncidentLinks()
    assert links.waits_on_primary(intake("R1", repeat_link()))
    known = repeat_link().model_copy(update={"kind": LinkKind.KNOWN_FROM_SENSORS})
    assert links.waits_on_primary(intake("R1", known))
    assert not links.waits_on_primary(intake("R1", repeat_link(primary_workflow_id=None)))
    assert not links.waits_on_primary(intake("P1", repeat_link()))  # never on itself
    new = IncidentLink(incident_id="IN1", kind=LinkKind.NEW)
    assert not links.waits_on_primary(intake("R1", new))
    assert not links.waits_on_primary(intake("R1"))


def test_a_primary_keeps_the_count_and_the_latest_calls_short() -> None:
    primary = IncidentLinks.of(intake("P1", IncidentLink(incident_id="IN1", kind=LinkKind.NEW)))
    for n in range(KEPT + 3):
        caller = intake(f"R{n}", repeat_link(), text="满" * 1000)
        call = IncidentLinks.call_of(caller, f"ticket-R{n}", None, AT + timedelta(minutes=n))
        assert call.caller_phone_masked == "138****5678" and call.text is not None
        assert len(call.text) == 200
        assert primary.take_call(call)
        assert not primary.take_call(call)  # the same caller's signal again counts once
    summary = primary.summary()
    assert summary is not None and summary.repeat_calls == KEPT + 3
    assert [c.ticket_id for c in summary.latest_calls] == [f"R{n}" for n in range(3, KEPT + 3)]
    assert all(c.text is not None and len(c.text) <= 200 for c in summary.latest_calls)
    # Every caller's ticket is told of the closure, once.
    assert {c.ticket_id for c in primary.untold()} == {f"R{n}" for n in range(KEPT + 3)}
    assert primary.untold() == []


def test_a_late_incident_is_published_and_becomes_the_group_key_only_when_first() -> None:
    alarm = IncidentLinks()
    assert alarm.group_key() is None and alarm.summary() is None
    assert alarm.join(IncidentJoined(incident_id="INSTORM"))
    assert not alarm.join(IncidentJoined(incident_id="INSTORM"))
    assert alarm.unpublished and alarm.group_key() == "incident:INSTORM"
    caller = intake("R1", repeat_link().model_copy(update={"incident_id": "INPLACE"}))
    alarm.take_call(IncidentLinks.call_of(caller, "ticket-R1", None, AT))
    assert alarm.incident_ids == ["INSTORM", "INPLACE"]
    assert alarm.group_key() == "incident:INSTORM"  # stable: the first one it joined


def test_a_step_up_remembers_where_it_started_and_a_primary_closes_once() -> None:
    links = IncidentLinks()
    links.step_up(Priority.P3, Priority.P2)
    links.step_up(Priority.P2, Priority.P1)
    assert (links.stepped_up_from, links.priority) == (Priority.P3, Priority.P1)
    first = PrimaryClosed(ticket_id="P1", stage=Stage.CLOSED, fixed=True, closed_at=AT)
    links.closed_with(first)
    links.closed_with(first.model_copy(update={"fixed": False}))
    assert links.primary_outcome == first
