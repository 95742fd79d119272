"""A pause ends by a stated time, and a sensor's hold shows as the verify deadline, in the
time-skipping server: a pause nobody resumes reminds the assignee before its end, then
the resolve clock runs again, the assignee is told and the one above hears; a pause is
extended by a later `until` and resumed before its end; a gas detector normal before the
fix is reported shows the hold's end as its verify deadline (patches `pause-deadline`,
`sensor-hold-shown`; tickets from before them replay in test_replay.py, -v6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from cityops.domain.models import (
    AcceptInput,
    AlarmEvent,
    PauseInput,
    ResolveInput,
    ResumeInput,
    TicketStatus,
)
from cityops.domain.stages import Stage
from cityops.service import tickets
from cityops.service.tickets import TicketRejected
from cityops.workflows import search_attributes as sa
from cityops.workflows.details import render_details
from cityops.workflows.ticket import TicketWorkflow
from tests.workflows.alarm_tickets import device_event, start_alarm, until
from tests.workflows.harness import Harness, intake

PERSON = "P-T01-D"


async def server_now(env: WorkflowEnvironment) -> datetime:
    return (await env.get_current_time()).astimezone(UTC)


def pause_attribute(status: TicketStatus) -> object:
    """TicketPauseDeadline as the ticket upserts it from this status (None: left as it
    was)."""
    values = [u.value for u in sa.updates(status) if u.key == sa.PAUSE_DEADLINE]
    return values[0] if values else None


async def accepted(env: WorkflowEnvironment, h: Harness, ticket_id: str) -> datetime:
    await h.start(intake(ticket_id, scenario="PS03", received_at=await server_now(env)))
    await h.settled(ticket_id)
    status = await tickets.update(
        h.client, ticket_id, TicketWorkflow.accept, AcceptInput(person_id=PERSON)
    )
    assert status.resolve_deadline is not None
    return status.resolve_deadline


async def test_a_pause_nobody_resumes_ends_tells_the_assignee_and_the_one_above(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """PS03 (P1, 4 h to resolve): paused with no stated end, so it ends two days later
    (sla.yaml pause.within). The assignee is reminded at 80 % of the pause; at its end
    the resolve clock runs again two days later than it would have, the assignee is told
    and the district dispatcher above hears (督办)."""
    deadline = await accepted(env, h, "P-1")
    paused_at = await server_now(env)
    paused = await tickets.update(
        h.client, "P-1", TicketWorkflow.pause_clock, PauseInput(person_id=PERSON, reason="等业主")
    )
    assert paused.paused and paused.pause_deadline is not None
    assert timedelta(days=2) <= paused.pause_deadline - paused_at < timedelta(days=2, seconds=5)
    assert pause_attribute(paused) == paused.pause_deadline
    assert "paused until" in render_details(paused)

    await env.sleep(timedelta(hours=38))  # 79 % of 48 h
    assert "reminder" not in h.notifier.to(PERSON)
    await env.sleep(timedelta(minutes=40))  # 80 %: reminded before the end
    assert h.notifier.to(PERSON).count("reminder") == 1
    assert "supervise" not in h.notifier.to("P-DIST-D")

    await env.sleep(timedelta(hours=10))  # past the end
    status = await h.status("P-1")
    assert not status.paused and status.pause_deadline is None
    events = [e.event for e in status.history]
    assert "pause_reminded" in events and "pause_expired" in events
    assert status.resolve_deadline is not None
    moved = status.resolve_deadline - deadline
    assert timedelta(days=2) - timedelta(seconds=5) < moved < timedelta(days=2, seconds=5)
    assert h.notifier.to(PERSON).count("reminder") == 2  # the end, told
    assert h.notifier.to("P-DIST-D").count("supervise") == 1  # the one above hears
    assert pause_attribute(status) is None
    assert not status.overdue


async def test_a_pause_is_extended_by_a_later_end_and_resumed_before_it(
    env: WorkflowEnvironment, h: Harness
) -> None:
    await accepted(env, h, "P-2")
    start = await server_now(env)
    asked = PauseInput(person_id=PERSON, reason="等材料", until=start + timedelta(hours=3))
    paused = await tickets.update(h.client, "P-2", TicketWorkflow.pause_clock, asked)
    assert paused.pause_deadline == start + timedelta(hours=3)
    with pytest.raises(TicketRejected, match="name a later time"):
        await tickets.update(
            h.client,
            "P-2",
            TicketWorkflow.pause_clock,
            PauseInput(person_id=PERSON, reason="x", until=start + timedelta(hours=2)),
        )
    with pytest.raises(TicketRejected, match="at most"):
        await tickets.update(
            h.client,
            "P-2",
            TicketWorkflow.pause_clock,
            PauseInput(person_id=PERSON, reason="x", until=start + timedelta(days=15)),
        )
    await env.sleep(timedelta(hours=2, minutes=30))  # reminded at 80 % of three hours
    assert h.notifier.to(PERSON).count("reminder") == 1
    later = start + timedelta(hours=6)
    extended = await tickets.update(
        h.client,
        "P-2",
        TicketWorkflow.pause_clock,
        PauseInput(person_id=PERSON, reason="业主出差", until=later),
    )
    assert extended.paused and extended.pause_deadline == later
    assert pause_attribute(extended) == later
    await env.sleep(timedelta(hours=1))  # past the first end: nothing, it was extended
    status = await h.status("P-2")
    assert status.paused and "pause_expired" not in [e.event for e in status.history]
    resumed = await tickets.update(
        h.client, "P-2", TicketWorkflow.resume_clock, ResumeInput(person_id=PERSON)
    )
    assert not resumed.paused and resumed.pause_deadline is None
    assert pause_attribute(resumed) is None
    await env.sleep(timedelta(hours=3))  # past the extended end: nothing either
    events = [e.event for e in (await h.status("P-2")).history]
    assert "pause_extended" in events and "pause_expired" not in events
    assert "supervise" not in h.notifier.to("P-DIST-D")


def gas(event_id: str, status: str) -> AlarmEvent:
    return device_event(
        event_id, status, device="GAS-H1", sensor="gas_detector", metric="lel_percent"
    )


async def test_a_detector_normal_before_the_fix_shows_its_hold_as_the_verify_deadline(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """No verify clock starts (the evidence is in), but a clock runs: the hold. Its end is
    the verify deadline in the status, and the ticket closes then."""
    handle = await start_alarm(h, gas("h1", "firing"), await server_now(env))
    first = await until(handle, lambda s: s.assignee_id is not None)
    person = first.assignee_id
    assert person is not None
    await handle.execute_update(TicketWorkflow.accept, AcceptInput(person_id=person))
    await handle.signal(TicketWorkflow.alarm_event, gas("h2", "resolved"))
    await env.sleep(timedelta(minutes=5))
    resolved = await server_now(env)
    await handle.execute_update(TicketWorkflow.resolve, ResolveInput(person_id=person))
    status = await until(handle, lambda s: s.stage is Stage.VERIFYING)
    status = await until(handle, lambda s: s.verify_deadline is not None)
    assert status.verify_deadline is not None
    hold = status.verify_deadline - resolved
    assert timedelta(0) < hold <= timedelta(hours=1)
    await env.sleep(hold + timedelta(minutes=1))
    closed = await until(handle, lambda s: s.stage.is_final)
    assert closed.stage is Stage.CLOSED
