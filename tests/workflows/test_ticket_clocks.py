"""Chain steps and clock pauses in the time-skipping server: each step type fires at its
fraction of the clock, a pause moves the deadline, the first-contact clock urges."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.testing import WorkflowEnvironment

from cityops.domain.models import AcceptInput, ContactInput, PauseInput, ResumeInput
from cityops.rules.calendar import OFFICIAL, WorkingHours
from cityops.service import tickets
from cityops.service.tickets import TicketRejected
from cityops.workflows.details import render_details
from cityops.workflows.ticket import TicketWorkflow
from tests.workflows.harness import Harness, intake, plain_days, running


def now() -> datetime:
    return datetime.now(UTC)


async def test_resolve_chain_reminds_at_80_percent_then_supervises_then_urges_both(
    env: WorkflowEnvironment, h: Harness
) -> None:
    await h.start(intake("C-1", scenario="PS03", received_at=now()))  # P1: 4 h, default chain
    await h.settled("C-1")
    await tickets.update(h.client, "C-1", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D"))
    await env.sleep(timedelta(hours=3, minutes=10))  # 79%
    assert "reminder" not in h.notifier.to("P-T01-D")
    await env.sleep(timedelta(minutes=5))  # 81%
    assert h.notifier.to("P-T01-D").count("reminder") == 1
    assert (await h.status("C-1")).sla_colour == "yellow"
    await env.sleep(timedelta(hours=1))  # past the deadline: supervise from the district
    assert "supervise" in h.notifier.to("P-DIST-D")
    await env.sleep(timedelta(hours=2))  # 150%: urge both the assignee and the tier above
    assert "urge" in h.notifier.to("P-T01-D") and "urge" in h.notifier.to("P-DIST-D")


async def test_emergency_chain_urges_the_dispatcher_before_the_accept_deadline(
    env: WorkflowEnvironment, h: Harness
) -> None:
    await h.start(intake("C-2", scenario="PF03", received_at=now()))  # 3 min, emergency chain
    await h.settled("C-2")
    await env.sleep(timedelta(minutes=1, seconds=40))  # 0.6 of 3 minutes is 1:48
    assert "urge" not in h.notifier.kinds()
    await env.sleep(timedelta(seconds=20))
    assert "urge" in h.notifier.to("P-DEPT") and "urge" in h.notifier.to("P-DIST-D")


async def test_pause_stops_the_resolve_clock_and_resume_moves_the_deadline(
    env: WorkflowEnvironment, h: Harness
) -> None:
    await h.start(intake("C-3", scenario="PS03", received_at=now()))
    await h.settled("C-3")
    accepted = await tickets.update(
        h.client, "C-3", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D")
    )
    assert accepted.resolve_deadline is not None
    await env.sleep(timedelta(hours=3, minutes=20))  # reminder at 80% has fired
    paused = await tickets.update(
        h.client,
        "C-3",
        TicketWorkflow.pause_clock,
        PauseInput(person_id="P-T01-D", reason="等业主开门"),
    )
    assert paused.paused
    with pytest.raises(TicketRejected, match="already paused"):
        await tickets.update(
            h.client, "C-3", TicketWorkflow.pause_clock, PauseInput(person_id="P-T01-D", reason="x")
        )
    await env.sleep(timedelta(hours=2))
    assert not (await h.status("C-3")).overdue  # the old deadline passed while paused
    resumed = await tickets.update(
        h.client, "C-3", TicketWorkflow.resume_clock, ResumeInput(person_id="P-T01-D")
    )
    assert resumed.resolve_deadline is not None and not resumed.paused
    moved = resumed.resolve_deadline - accepted.resolve_deadline
    assert timedelta(hours=1, minutes=59) < moved < timedelta(hours=2, minutes=1)
    await env.sleep(timedelta(minutes=30))
    status = await h.status("C-3")
    assert not status.overdue
    assert h.notifier.to("P-T01-D").count("reminder") == 1  # not repeated after the resume
    await env.sleep(timedelta(minutes=15))
    assert (await h.status("C-3")).overdue


async def test_first_contact_clock_urges_when_the_citizen_is_not_called(
    env: WorkflowEnvironment, h: Harness
) -> None:
    await h.start(intake("C-4", scenario="CH01", received_at=now()))  # P2: first contact 30 min
    await h.settled("C-4")
    accepted = await tickets.update(
        h.client, "C-4", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D")
    )
    assert accepted.contact_deadline is not None
    await env.sleep(timedelta(minutes=31))
    status = await h.status("C-4")
    assert any(e.event == "first_contact_overdue" for e in status.history)
    assert "urge" in h.notifier.to("P-T01-D")


async def test_first_contact_in_time_stops_the_clock(env: WorkflowEnvironment, h: Harness) -> None:
    await h.start(intake("C-5", scenario="CH01", received_at=now()))
    await h.settled("C-5")
    await tickets.update(h.client, "C-5", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D"))
    contacted = await tickets.update(
        h.client,
        "C-5",
        TicketWorkflow.contact_citizen,
        ContactInput(person_id="P-T01-D", note="已电话联系"),
    )
    assert contacted.contacted_at is not None
    with pytest.raises(TicketRejected, match="already recorded"):
        await tickets.update(
            h.client, "C-5", TicketWorkflow.contact_citizen, ContactInput(person_id="P-T01-D")
        )
    await env.sleep(timedelta(minutes=40))
    status = await h.status("C-5")
    assert not any(e.event == "first_contact_overdue" for e in status.history)


async def test_p4_ticket_on_a_friday_evening_before_a_holiday_counts_the_make_up_day(
    env: WorkflowEnvironment,
) -> None:
    """The first Friday 19:00 at least a day ahead of the test server's clock; the Monday
    after it a holiday and the Saturday after that a make-up working day (a calendar of the
    shape the State Council publishes, built relative to the clock so the test holds on any
    date). P4: accept within 1 working day, resolve within 5."""
    shanghai = timezone(timedelta(hours=8))
    today = (await env.get_current_time()).astimezone(shanghai).date() + timedelta(days=1)
    friday = today + timedelta(days=(4 - today.weekday()) % 7)
    # Skip weeks the real calendar already marks: the test's own holiday and make-up day
    # are then the only exceptions in the 11 days from the Friday.
    while not plain_days(friday, 11, WorkingHours()):
        friday += timedelta(days=7)
    monday, tuesday = friday + timedelta(days=3), friday + timedelta(days=4)
    saturday, next_monday = friday + timedelta(days=8), friday + timedelta(days=10)

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=shanghai)

    hours = WorkingHours(extra_holidays=frozenset({monday}), extra_workdays=frozenset({saturday}))
    evening = at(friday, 19)
    await env.sleep(evening - await env.get_current_time())
    async with running(env, hours=hours) as h:
        await h.start(intake("C-6", scenario="CA03", received_at=evening))  # P4, village tier
        status = await h.settled("C-6")
        # Saturday, Sunday and the holiday Monday do not count: 8 working hours on Tuesday.
        assert status.accept_deadline == at(tuesday, 17, 30)
        await env.sleep(at(tuesday, 9) - await env.get_current_time())
        accepted = await tickets.update(
            h.client, "C-6", TicketWorkflow.accept, AcceptInput(person_id="P-T01-01-1")
        )
        # Tue 7.5 h + Wed, Thu, Fri 8 h each + the make-up Saturday 8 h = 39.5 h; 0.5 h on Monday.
        assert accepted.resolve_deadline is not None
        assert abs(accepted.resolve_deadline - at(next_monday, 9)) < timedelta(seconds=1)
        await env.sleep(at(saturday, 17) - await env.get_current_time())
        assert (await h.status("C-6")).sla_colour == "yellow"  # the make-up Saturday ran the clock


async def test_a_deadline_beyond_the_confirmed_calendar_says_so_in_the_details(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """A P4 ticket dispatched on the evening of the last day the installed chinese_calendar
    release knows (or at once, if the test server's clock is already past it): its
    working-time deadlines fall where the calendar is unconfirmed, and the ticket says so
    where supervisors look (status, Temporal UI details) until the clocks are done."""
    shanghai = timezone(timedelta(hours=8))
    last = OFFICIAL.last_day
    evening = datetime.combine(last, time(19), tzinfo=shanghai)
    current = await env.get_current_time()
    if evening > current:
        await env.sleep(evening - current)
    received = await env.get_current_time()
    handle = await h.start(intake("C-CAL", scenario="CA03", received_at=received))  # P4
    status = await h.settled("C-CAL")
    assert status.accept_deadline is not None
    assert status.accept_deadline.astimezone(shanghai).date() > last
    assert status.calendar_unconfirmed_after == last
    warning = f"calendar not confirmed after {last:%Y-%m-%d}"
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert warning in metadata.current_details  # what the Temporal UI shows
    assert warning in render_details(status)

    accepted = await tickets.update(
        h.client, "C-CAL", TicketWorkflow.accept, AcceptInput(person_id="P-T01-01-1")
    )
    assert accepted.calendar_unconfirmed_after == last  # the resolve deadline is beyond it too
