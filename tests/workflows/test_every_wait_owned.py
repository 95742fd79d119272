"""Every wait keeps an owner who is told, past the top of its chain too (issue 12), in the
time-skipping server: a sensor's recovery waits on the verify clock with its own ladder; a
chain that pressed the director three times in vain stalls, and the district center's duty
supervisor is told every day until someone acts; a district-tier unit's extension goes to
that supervisor, who decides it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from cityops.activities.testing import DIRECTOR, DUTY_LEADER, DUTY_SUPERVISOR, NoSupervisorRouter
from cityops.cli.tickets import print_status
from cityops.domain.models import (
    AcceptInput,
    AfterPhoto,
    AlarmEvent,
    CallbackInput,
    ContactInput,
    DismissInput,
    ExtensionDecision,
    ExtensionRequest,
    PauseInput,
    RecheckInput,
    ResolveInput,
    ResumeInput,
    ReviewInput,
    StatusInput,
    TicketStatus,
)
from cityops.domain.stages import CallbackResult, Clock, Reader, ReviewDecision, Stage
from cityops.service import tickets
from cityops.service.tickets import TicketRejected
from cityops.workflows import search_attributes as sa
from cityops.workflows.details import render_details
from cityops.workflows.ladder import PRESSES_AT_TOP
from cityops.workflows.ticket import TicketWorkflow
from tests.conftest import eventually
from tests.workflows.alarm_tickets import device_event, start_alarm, state, until
from tests.workflows.harness import Harness, advance_to_plain_week, intake, running

SUPERVISOR = DUTY_SUPERVISOR.person_id  # the fake organisation's duty supervisor


async def server_now(env: WorkflowEnvironment) -> datetime:
    return (await env.get_current_time()).astimezone(UTC)


def events(status: TicketStatus) -> list[str]:
    return [entry.event for entry in status.history]


async def sla_attribute(h: Harness, ticket_id: str) -> list[str]:
    """TicketSla as the server holds it (what the Temporal UI filters by)."""
    return await colours(h.client.get_workflow_handle(tickets.workflow_id_for(ticket_id)))


async def colours(handle: WorkflowHandle[Any, Any]) -> list[str]:
    described = await handle.describe()
    return list(described.typed_search_attributes.get(sa.SLA_COLOUR) or [])


# --------------------------------------------------------------------------- stalled waits


async def test_an_accept_chain_that_pressed_the_director_in_vain_is_supervised_daily(
    env: WorkflowEnvironment, h: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    """PS01 (5 minutes to accept): officer → district dispatcher → duty leader → director
    by 15 minutes; the director is pressed at 20, 25 and 30 minutes; at 35 nobody has
    acted: stalled. The duty supervisor and the director hear at once and every day after,
    each time recorded, until the officer accepts."""
    received = await server_now(env)
    await h.start(intake("W-STL", scenario="PS01", received_at=received))
    await env.sleep(timedelta(minutes=34))
    status = await h.status("W-STL")
    assert status.assignee_id == "P-DIR" and status.stalled_since is None
    assert h.notifier.to("P-DIR").count("supervise") == PRESSES_AT_TOP
    assert SUPERVISOR not in {r.person_id for n in h.notifier.notices for r in n.recipients}

    await env.sleep(timedelta(minutes=2))  # the third press's budget runs out: stalled
    status = await h.status("W-STL")
    assert status.stalled_since is not None and status.stalled_clock is Clock.ACCEPT
    assert received + timedelta(minutes=35) <= status.stalled_since
    assert status.stalled_since < received + timedelta(minutes=36)
    assert status.stall_supervisor is not None and SUPERVISOR in status.stall_supervisor
    assert events(status).count("stalled") == 1
    assert events(status).count("stall_supervised") == 1
    [told] = [n for n in h.notifier.notices if any(r.person_id == SUPERVISOR for r in n.recipients)]
    assert told.kind.value == "supervise" and "已停滞" in told.facts["note"]
    readers = {r.person_id: r.reader for r in told.recipients}
    assert readers == {"P-DIR": Reader.ASSIGNEE, SUPERVISOR: Reader.SUPERVISOR}
    assert "stalled" in await sla_attribute(h, "W-STL")  # TicketSla='stalled' lists it
    assert "STALLED since" in render_details(status)
    print_status(status)
    shown = capsys.readouterr().out
    assert "STALLED" in shown and "督办 daily: " in shown and SUPERVISOR in shown
    register = [e.event for e in h.store.register("W-STL")]
    assert "stalled" in register  # the city view's vital signs count it

    await env.sleep(timedelta(days=1))  # a day later, still nobody: told again
    status = await h.status("W-STL")
    assert events(status).count("stall_supervised") == 2
    assert h.notifier.to(SUPERVISOR) == ["supervise", "supervise"]
    assert h.notifier.to("P-DIR").count("supervise") == PRESSES_AT_TOP + 2

    accepted = await tickets.update(
        h.client, "W-STL", TicketWorkflow.accept, AcceptInput(person_id="P-DEPT")
    )
    # The officer it passed through holds it again: they contact, pause, extend, are told.
    assert (accepted.stage, accepted.assignee_id) == (Stage.ACCEPTED, "P-DEPT")
    contacted = ContactInput(person_id="P-DEPT", note="已联系报警人")
    await tickets.update(h.client, "W-STL", TicketWorkflow.contact_citizen, contacted)

    async def unstalled() -> TicketStatus:
        status = await h.status("W-STL")
        assert status.stalled_since is None and "stall_ended" in events(status)
        assert "stalled" not in await sla_attribute(h, "W-STL")
        return status

    await eventually(unstalled)
    # No more 督办 once someone acted (until the resolve wait, 7 hours on, stalls itself).
    await env.sleep(timedelta(hours=6))
    assert h.notifier.to(SUPERVISOR) == ["supervise", "supervise"]
    assert "stall_ended" in [e.event for e in h.store.register("W-STL")]


async def test_a_fix_never_reported_stalls_after_the_resolve_chain_and_is_supervised_daily(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """PS01 (4 hours to resolve, the emergency chain: 督办 at 100, 125, 150 and 175 %):
    accepted and never resolved. Its chain's last step passed in vain, the resolve wait
    stalls (before, it waited with no timer and nobody heard again): the duty supervisor
    hears at once and a day later, with a timer always pending, until the fix comes."""
    received = await server_now(env)
    handle = await h.start(intake("W-RST", scenario="PS01", received_at=received))
    await tickets.update(h.client, "W-RST", TicketWorkflow.accept, AcceptInput(person_id="P-DEPT"))
    accepted_at = await server_now(env)
    await env.sleep(timedelta(hours=6, minutes=50))  # the last step (175 %) is at 7 hours
    status = await h.status("W-RST")
    assert status.stalled_since is None and h.notifier.to(SUPERVISOR) == []
    await env.sleep(timedelta(minutes=20))
    status = await h.status("W-RST")
    assert status.stage is Stage.ACCEPTED and status.stalled_clock is Clock.RESOLVE
    assert status.stalled_since is not None
    assert status.resolve_deadline is not None  # the last step: 175 % of the 4-hour budget
    after_last_step = status.stalled_since - (status.resolve_deadline + timedelta(hours=3))
    assert timedelta(0) <= after_last_step < timedelta(seconds=1)
    assert status.stalled_since - accepted_at < timedelta(hours=7, seconds=1)
    assert events(status).count("stalled") == 1 and events(status).count("stall_supervised") == 1
    assert h.notifier.to(SUPERVISOR) == ["supervise"]
    [told] = [n for n in h.notifier.notices if any(r.person_id == SUPERVISOR for r in n.recipients)]
    assert "超过办理时限" in told.facts["note"]
    assert "P-DEPT" in {r.person_id for r in told.recipients}  # with the assignee
    timers = await handle.query(TicketWorkflow.status_and_timers, StatusInput())
    assert timers.timers, "a stalled wait still has its next 督办 on a timer"
    assert "stalled" in await sla_attribute(h, "W-RST")

    await env.sleep(timedelta(days=1))
    assert h.notifier.to(SUPERVISOR) == ["supervise", "supervise"]
    await tickets.update(
        h.client, "W-RST", TicketWorkflow.resolve, ResolveInput(person_id="P-DEPT", note="已修复")
    )

    async def unstalled() -> None:
        status = await h.status("W-RST")
        assert status.stalled_since is None
        assert events(status).index("stall_ended") > events(status).index("stalled")

    await eventually(unstalled)


async def test_a_ticket_silent_at_the_old_dead_end_stalls_once_its_walk_ends_again(
    env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ticket that reached the resolve chain's end before `resolve-stalls` was deployed
    (the new code, replaying, is told no there, and Temporal keeps that answer for the
    run) stalls the next time its walk ends, here after a pause and a resume: it asks
    under the clock run's own id. The worker replays the history at every task, as a
    newly deployed one does."""
    async with running(env, replay_every_task=True) as h:
        # The code before the change: the walk ended in a wait with no timer, asking nothing.
        monkeypatch.setattr(TicketWorkflow, "_resolve_stalls", lambda self, clock: False)
        handle = await h.start(intake("W-OLD", scenario="PS01", received_at=await server_now(env)))
        accept = AcceptInput(person_id="P-DEPT")
        await tickets.update(h.client, "W-OLD", TicketWorkflow.accept, accept)
        await env.sleep(timedelta(hours=7, minutes=10))
        silent = await handle.query(TicketWorkflow.status_and_timers, StatusInput())
        assert silent.status.stalled_since is None and silent.timers == []

        monkeypatch.undo()  # the new code, deployed
        pause = PauseInput(person_id="P-DEPT", reason="等业主")
        await tickets.update(h.client, "W-OLD", TicketWorkflow.pause_clock, pause)
        resume = ResumeInput(person_id="P-DEPT")
        await tickets.update(h.client, "W-OLD", TicketWorkflow.resume_clock, resume)

        async def stalled() -> None:
            answer = await handle.query(TicketWorkflow.status_and_timers, StatusInput())
            assert answer.status.stalled_clock is Clock.RESOLVE and answer.timers

        await eventually(stalled)
        assert h.notifier.to(SUPERVISOR) == ["supervise"]
        patches = [
            event.marker_recorded_event_attributes.details["patch-data"].payloads[0].data
            async for event in handle.fetch_history_events()
            if event.marker_recorded_event_attributes.marker_name == "core_patch"
        ]
        assert [b"resolve-stalls-run-" in p for p in patches] == [True]


async def test_a_triage_nobody_does_stalls_after_the_director_and_ends_when_dismissed(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """Triage (30 minutes a rung): dispatcher → duty leader at 30 → director at 60,
    pressed at 90, 120 and 150 minutes; stalled at 180."""
    await h.start(intake("W-TRI", text="喂喂，听得到吗", received_at=await server_now(env)))
    await env.sleep(timedelta(minutes=179))
    status = await h.status("W-TRI")
    assert status.stage is Stage.TRIAGE and status.stalled_since is None
    top = [e for e in status.history if e.event == "supervised" and "triage chain" in e.detail]
    assert len(top) == PRESSES_AT_TOP and all("P-DIR" in e.detail for e in top)
    await env.sleep(timedelta(minutes=2))
    status = await h.status("W-TRI")
    assert status.stalled_clock is Clock.TRIAGE and status.waiting_on is not None
    assert "P-DIR" in status.waiting_on  # the wait keeps its owner
    [told] = [n for n in h.notifier.notices if any(r.person_id == SUPERVISOR for r in n.recipients)]
    assert {r.person_id for r in told.recipients} == {"P-DIR", SUPERVISOR}

    dismissed = DismissInput(by="P-DIR", reason="误拨")
    await tickets.update(h.client, "W-TRI", TicketWorkflow.dismiss, dismissed)
    status = await h.until_stage("W-TRI", Stage.DISMISSED)
    assert status.stalled_since is None
    assert events(status)[-2:] == ["stall_ended", "dismissed"]


async def test_a_stalled_entrapment_that_clears_is_not_pressed_while_the_lift_is_normal(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """PF03 (3 minutes to accept, stop the chase when the lift reports normal): stalled at
    21 minutes; the lift then clears, so the daily 督办 is skipped like the chain's own
    steps; trapped again, the chase starts over with a fresh clock and the stall ends."""

    def lift(event_id: str, status: str) -> AlarmEvent:
        return device_event(
            event_id, status, device="LIFT-W", sensor="elevator", metric="entrapment"
        )

    handle = await start_alarm(h, lift("l1", "firing"), await server_now(env))
    await until(handle, lambda s: s.assignee_id is not None)
    await env.sleep(timedelta(minutes=22))
    assert (await state(handle)).stalled_clock is Clock.ACCEPT
    assert h.notifier.to(SUPERVISOR) == ["supervise"]
    await handle.signal(TicketWorkflow.alarm_event, lift("l2", "resolved"))
    await until(handle, lambda s: s.chase_stopped)
    await env.sleep(timedelta(days=1, minutes=1))
    assert h.notifier.to(SUPERVISOR) == ["supervise"]
    assert "step_skipped" in events(await state(handle))
    await handle.signal(TicketWorkflow.alarm_event, lift("l3", "firing"))
    status = await until(handle, lambda s: s.stalled_since is None and not s.chase_stopped)
    assert events(status).count("stall_ended") == 1


# --------------------------------------------------------------------------- sensor recovery


def gas(event_id: str, status: str) -> AlarmEvent:
    return device_event(
        event_id, status, device="GAS-W1", sensor="gas_detector", metric="lel_percent"
    )


async def test_a_fixed_gas_leak_whose_detector_stays_abnormal_climbs_and_then_stalls(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """The officer reports the leak fixed; the detector does not come back to normal. The
    officer owns the wait for an hour on the verify clock (the emergency chain: reminded at
    30 minutes, the one above hears at the hour, takes the wait at 90 minutes), and so on
    up to the director, pressed three times; then it stalls. The detector's return to
    normal ends the stall, and the ticket closes after the hold."""
    handle = await start_alarm(h, gas("g1", "firing"), await server_now(env))
    first = await until(handle, lambda s: s.assignee_id is not None)
    assert (first.scenario_id, first.assignee_id) == ("PS01", "P-DEPT")
    await handle.execute_update(TicketWorkflow.accept, AcceptInput(person_id="P-DEPT"))
    resolved = await server_now(env)
    await handle.execute_update(
        TicketWorkflow.resolve, ResolveInput(person_id="P-DEPT", note="已关阀")
    )
    status = await until(handle, lambda s: s.stage is Stage.VERIFYING)
    assert status.verify_deadline is not None and status.waiting_on is not None
    assert timedelta(hours=1) <= status.verify_deadline - resolved < timedelta(hours=1, seconds=5)
    assert "P-DEPT" in status.waiting_on
    await h.until(lambda: "recovery_request" in h.notifier.to("P-DEPT"))
    [asked] = [n for n in h.notifier.notices if n.kind.value == "recovery_request"]
    assert [r.reader for r in asked.recipients] == [Reader.ASSIGNEE]
    assert asked.facts["device"] == "GAS-W1" and "verify_deadline" in asked.facts

    await env.sleep(timedelta(minutes=31))
    assert h.notifier.to("P-DEPT").count("recovery_request") == 2  # reminded
    await env.sleep(timedelta(minutes=30))
    assert "supervise" in h.notifier.to("P-DIST-D")  # the one above hears at the hour
    await env.sleep(timedelta(minutes=30))
    status = await state(handle)
    assert status.waiting_on is not None and "P-DIST-D" in status.waiting_on  # handed up
    assert "recovery_request" in h.notifier.to("P-DIST-D")
    assert "verify_escalated" in events(status)

    # 1.5 h a rung: the duty leader at 3 h, the director at 4.5 h, pressed at 6, 7.5, 9 h.
    await env.sleep(timedelta(hours=10, minutes=31) - timedelta(minutes=91))
    status = await state(handle)
    assert status.stalled_clock is Clock.VERIFY and status.stage is Stage.VERIFYING
    assert status.waiting_on is not None and "P-DIR" in status.waiting_on
    assert "supervise" in h.notifier.to(SUPERVISOR)
    # Each rung was handed the wait and told to coordinate, up to the director.
    for rung in ("P-DIST-L", "P-DIR"):
        assert "recovery_request" in h.notifier.to(rung), rung
    assert events(status).count("verify_escalated") == 3  # dispatcher, leader, director

    await handle.signal(TicketWorkflow.alarm_event, gas("g2", "resolved"))
    status = await until(handle, lambda s: s.stalled_since is None)
    assert "stall_ended" in events(status)
    outcome = await handle.result()  # the 30-minute hold passes
    assert outcome.stage is Stage.CLOSED and outcome.fixed
    assert "sensor_recovered" in events(await state(handle))


# --------------------------------------------------------------------------- the other verify waits


def top_presses(status: TicketStatus) -> int:
    """How often the verify chain pressed the top of its ladder (the director)."""
    return sum(
        1
        for e in status.history
        if e.event == "supervised" and "top of the verify chain" in e.detail and "P-DIR" in e.detail
    )


async def stalled_after_three_presses(
    env: WorkflowEnvironment,
    h: Harness,
    handle: WorkflowHandle[Any, Any],
    step: timedelta,
    limit: timedelta,
) -> TicketStatus:
    """Let the verify chain run, `step` at a time: it climbs to the director, presses them
    three times with no stall, and stalls on the fourth budget run out (not before, not
    after): the wait keeps the director as its owner and the duty supervisor hears at once
    with them; a day later both hear again."""
    slept, pressed_thrice_unstalled = timedelta(0), False
    while True:
        status = await state(handle)
        if status.stalled_since is not None:
            break
        assert top_presses(status) <= PRESSES_AT_TOP
        pressed_thrice_unstalled |= top_presses(status) == PRESSES_AT_TOP
        assert slept < limit, f"not stalled after {slept}: {events(status)[-5:]}"
        await env.sleep(step)
        slept += step
    assert pressed_thrice_unstalled  # the director was pressed three times before it stalled
    assert top_presses(status) == PRESSES_AT_TOP
    assert status.stage is Stage.VERIFYING and status.stalled_clock is Clock.VERIFY
    assert status.waiting_on is not None and "P-DIR" in status.waiting_on
    assert events(status).count("verify_escalated") >= 2  # handed up rung by rung
    assert events(status).count("stalled") == 1
    assert events(status).count("stall_supervised") == 1
    assert status.stall_supervisor is not None and SUPERVISOR in status.stall_supervisor
    [told] = [n for n in h.notifier.notices if any(r.person_id == SUPERVISOR for r in n.recipients)]
    assert told.kind.value == "supervise" and "已停滞" in told.facts["note"]
    readers = {r.person_id: r.reader for r in told.recipients}
    assert readers == {"P-DIR": Reader.SUPERVISOR, SUPERVISOR: Reader.SUPERVISOR}
    assert "stalled" in await colours(handle)

    await env.sleep(timedelta(days=1))  # a day later, still nobody: told again
    status = await state(handle)
    assert status.stalled_clock is Clock.VERIFY
    assert events(status).count("stall_supervised") == 2
    assert h.notifier.to(SUPERVISOR) == ["supervise", "supervise"]
    assert top_presses(status) == PRESSES_AT_TOP  # the chain itself presses no more
    return status


async def the_stall_ends_as_it_closes(h: Harness, handle: WorkflowHandle[Any, Any]) -> None:
    assert (await handle.result()).stage is Stage.CLOSED
    status = await state(handle)
    assert status.stalled_since is None
    assert "stall_ended" in events(status)
    assert events(status).index("stall_ended") > events(status).index("stalled")
    assert "stalled" not in await colours(handle)
    assert h.notifier.to(SUPERVISOR) == ["supervise", "supervise"]


async def test_a_callback_the_hotline_never_makes_stalls_after_the_director(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """The callback (by the end of the next working day) waits on the hotline, then the
    district, the duty leader and the director, each with the same working budget; the
    director pressed three times in vain, it stalls into daily 督办 until the callback."""
    received = await advance_to_plain_week(env)
    handle = await h.start(intake("W-CBS", scenario="CH01", received_at=received))
    await tickets.update(h.client, "W-CBS", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D"))
    await tickets.update(
        h.client, "W-CBS", TicketWorkflow.resolve, ResolveInput(person_id="P-T01-D", note="已停工")
    )
    status = await h.until_stage("W-CBS", Stage.VERIFYING)
    assert status.waiting_on is not None and "hotline" in status.waiting_on
    # 1.5 budgets a rung (about 22 working hours): 3 climbs, 3 presses, then stalled.
    await stalled_after_three_presses(
        env, h, handle, step=timedelta(hours=6), limit=timedelta(days=70)
    )
    for rung in ("P-DIST-D", "P-DIST-L", "P-DIR"):
        assert "callback_request" in h.notifier.to(rung), rung
    happy = CallbackInput(result=CallbackResult.SATISFIED, by="hotline-agent-7")
    await tickets.update(h.client, "W-CBS", TicketWorkflow.callback, happy)
    await the_stall_ends_as_it_closes(h, handle)


async def test_a_photo_nobody_reviews_stalls_after_the_director(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """The after-photo (4 working hours a rung, 1.5 budgets to climb) waits on the
    district dispatcher, then the duty leader and the director; pressed three times in
    vain, it stalls into daily 督办 until the director approves it."""
    place = {"lat": 31.2051, "lon": 121.6003}
    received = await advance_to_plain_week(env)
    handle = await h.start(
        intake("W-PHS", scenario="PS04", received_at=received, lat=31.2051, lon=121.6003)
    )
    await tickets.update(h.client, "W-PHS", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D"))
    photo = AfterPhoto(
        url="https://img/1.jpg", taken_at=await server_now(env) + timedelta(seconds=5), **place
    )
    await tickets.update(
        h.client, "W-PHS", TicketWorkflow.resolve, ResolveInput(person_id="P-T01-D", photo=photo)
    )
    status = await h.until_stage("W-PHS", Stage.VERIFYING)
    assert status.waiting_on is not None and "P-DIST-D" in status.waiting_on
    await stalled_after_three_presses(
        env, h, handle, step=timedelta(hours=2), limit=timedelta(days=21)
    )
    assert "review_request" in h.notifier.to("P-DIST-L")
    approve = ReviewInput(decision=ReviewDecision.APPROVED, by="P-DIR")
    await tickets.update(h.client, "W-PHS", TicketWorkflow.review, approve)
    await the_stall_ends_as_it_closes(h, handle)


async def test_a_video_recheck_nobody_makes_stalls_after_the_director(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """The camera side (1 hour, climbing at 1.5 hours) → the reviewing sub-center → the
    district → the duty leader → the director at 6 hours, pressed at 7.5, 9 and 10.5:
    stalled at 12 hours, supervised daily until the camera re-detects."""
    event = device_event("v1", "firing", device="CAM-S", sensor="video_ai", metric="street_vending")
    handle = await start_alarm(h, event, await server_now(env))
    status = await until(handle, lambda s: s.assignee_id is not None)
    person = status.assignee_id
    assert person is not None
    await handle.execute_update(TicketWorkflow.accept, AcceptInput(person_id=person))
    asked = await server_now(env)
    await handle.execute_update(TicketWorkflow.resolve, ResolveInput(person_id=person))
    status = await until(handle, lambda s: s.stage is Stage.VERIFYING)
    assert status.waiting_on is not None and "camera" in status.waiting_on
    stalled = await stalled_after_three_presses(
        env, h, handle, step=timedelta(minutes=20), limit=timedelta(hours=14)
    )
    assert stalled.stalled_since is not None
    since = stalled.stalled_since - asked
    assert timedelta(hours=12) <= since < timedelta(hours=12, minutes=1), since
    await handle.execute_update(TicketWorkflow.recheck, RecheckInput(still_detected=False))
    assert (await handle.result()).fixed
    await the_stall_ends_as_it_closes(h, handle)


async def test_a_detector_already_normal_when_the_fix_is_reported_asks_nobody(
    env: WorkflowEnvironment, h: Harness
) -> None:
    handle = await start_alarm(h, gas("n1", "firing"), await server_now(env))
    await until(handle, lambda s: s.assignee_id is not None)
    await handle.execute_update(TicketWorkflow.accept, AcceptInput(person_id="P-DEPT"))
    await handle.signal(TicketWorkflow.alarm_event, gas("n2", "resolved"))
    await until(handle, lambda s: "alarm_resolved" in events(s))
    await handle.execute_update(TicketWorkflow.resolve, ResolveInput(person_id="P-DEPT"))
    outcome = await handle.result()  # only the hold
    assert outcome.stage is Stage.CLOSED and outcome.fixed
    assert "recovery_request" not in h.notifier.kinds()


# --------------------------------------------------------------------------- extensions


async def test_a_district_department_asks_for_more_time_and_the_duty_supervisor_decides(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """Nobody is above a district department by tier: its request goes to the district
    center's duty supervisor, who may decide it; the officer may not decide their own."""
    await h.start(intake("W-EXT", scenario="PS01", received_at=await server_now(env)))
    accepted = await tickets.update(
        h.client, "W-EXT", TicketWorkflow.accept, AcceptInput(person_id="P-DEPT")
    )
    assert accepted.resolve_deadline is not None and accepted.tier is not None
    wanted = accepted.resolve_deadline + timedelta(hours=4)
    await tickets.update(
        h.client,
        "W-EXT",
        TicketWorkflow.request_extension,
        ExtensionRequest(person_id="P-DEPT", new_deadline=wanted, reason="需燃气公司配合"),
    )
    [asked] = [n for n in h.notifier.notices if n.kind.value == "extension_requested"]
    assert [(r.person_id, r.reader) for r in asked.recipients] == [(SUPERVISOR, Reader.SUPERVISOR)]
    with pytest.raises(TicketRejected, match="may not decide"):
        await tickets.update(
            h.client,
            "W-EXT",
            TicketWorkflow.decide_extension,
            ExtensionDecision(by="P-DEPT", approve=True),
        )
    decided = await tickets.update(
        h.client,
        "W-EXT",
        TicketWorkflow.decide_extension,
        ExtensionDecision(by=SUPERVISOR, approve=True, note="同意"),
    )
    assert decided.extensions == 1 and decided.resolve_deadline is not None
    assert abs(decided.resolve_deadline - wanted) < timedelta(seconds=1)
    approved = [e for e in decided.history if e.event == "extension_approved"]
    assert [e.by for e in approved] == [SUPERVISOR]


async def test_a_duty_leader_holding_it_asks_the_director_when_the_center_has_no_supervisor(
    env: WorkflowEnvironment,
) -> None:
    """No supervisor at the district center: the organisation names its duty leader as
    the duty supervisor. Nobody accepted the officer's P1, so it went up to the duty
    leader, who accepts it and asks for more time: the request goes to the director (the
    next one up), not back to the asker, and the director may decide it; the duty leader
    may not decide their own."""
    async with running(env, router=NoSupervisorRouter()) as h:
        await h.start(intake("W-NSV", scenario="PS01", received_at=await server_now(env)))
        await env.sleep(timedelta(minutes=11))  # officer → dispatcher at 5 → duty leader at 10
        leader = DUTY_LEADER.person_id
        assert (await h.status("W-NSV")).assignee_id == leader
        accepted = await tickets.update(
            h.client, "W-NSV", TicketWorkflow.accept, AcceptInput(person_id=leader)
        )
        assert accepted.assignee_id == leader and accepted.resolve_deadline is not None
        wanted = accepted.resolve_deadline + timedelta(hours=4)
        await tickets.update(
            h.client,
            "W-NSV",
            TicketWorkflow.request_extension,
            ExtensionRequest(person_id=leader, new_deadline=wanted, reason="需燃气公司配合"),
        )
        [asked] = [n for n in h.notifier.notices if n.kind.value == "extension_requested"]
        assert [(r.person_id, r.reader) for r in asked.recipients] == [
            (DIRECTOR.person_id, Reader.SUPERVISOR)
        ]
        with pytest.raises(TicketRejected, match=f"may not decide.*{DIRECTOR.person_id}"):
            await tickets.update(
                h.client,
                "W-NSV",
                TicketWorkflow.decide_extension,
                ExtensionDecision(by=leader, approve=True),
            )
        decided = await tickets.update(
            h.client,
            "W-NSV",
            TicketWorkflow.decide_extension,
            ExtensionDecision(by=DIRECTOR.person_id, approve=True, note="同意"),
        )
        assert decided.extensions == 1 and decided.resolve_deadline is not None
        assert abs(decided.resolve_deadline - wanted) < timedelta(seconds=1)
        approved = [e for e in decided.history if e.event == "extension_approved"]
        assert [e.by for e in approved] == [DIRECTOR.person_id]
        assert "extension_decided" in h.notifier.to(leader)
