"""Every waiting stage has a deadline, an owner who is told and a way up (issue 12), in the
time-skipping server: triage, acceptance at every tier, each closure check's wait, the
district's binding ruling, what a sensor's recovery means, and who hears what."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from temporalio.testing import WorkflowEnvironment

from cityops.domain.models import (
    AcceptInput,
    AfterPhoto,
    AlarmEvent,
    CallbackInput,
    DismissInput,
    RecheckInput,
    ResolveInput,
    ReviewInput,
    TriageDecision,
)
from cityops.domain.stages import (
    CallbackResult,
    Reader,
    ReviewDecision,
    Stage,
    Tier,
)
from cityops.domain.zones import UTC8
from cityops.rules.calendar import is_working_day
from cityops.rules.calendar_loader import project_working_hours
from cityops.rules.handling import NoticeSettings, default_handling_rules
from cityops.service import tickets
from cityops.workflows.ticket import TicketWorkflow
from tests.conftest import eventually
from tests.workflows.alarm_tickets import device_event, start_alarm, state, until
from tests.workflows.harness import Harness, advance_to_plain_week, intake, running


async def server_now(env: WorkflowEnvironment) -> datetime:
    return (await env.get_current_time()).astimezone(UTC)


# --------------------------------------------------------------------------- triage


async def test_triage_has_an_owner_a_clock_and_a_chain_to_the_director(
    env: WorkflowEnvironment, h: Harness
) -> None:
    received = await server_now(env)
    await h.start(intake("N-TRI", text="喂喂，听得到吗", received_at=received))
    status = await h.settled("N-TRI")
    assert status.stage is Stage.TRIAGE and status.triage_deadline is not None
    assert status.triage_deadline - received == timedelta(minutes=30)
    assert status.waiting_on is not None and "P-DIST-D" in status.waiting_on
    assert h.notifier.to("P-DIST-D") == ["triage_request"]  # the owner is told at once
    register = [e.event for e in h.store.register("N-TRI")]
    assert register == ["received", "needs_triage", "triage_assigned"]  # the register has it

    await env.sleep(timedelta(minutes=16))  # half the budget: reminded
    assert h.notifier.to("P-DIST-D").count("triage_request") == 2
    await env.sleep(timedelta(minutes=15))  # past 30 minutes: the duty leader has it
    status = await h.status("N-TRI")
    assert status.waiting_on is not None and "P-DIST-L" in status.waiting_on
    assert "triage_request" in h.notifier.to("P-DIST-L")
    assert any(e.event == "triage_escalated" for e in status.history)
    await env.sleep(timedelta(minutes=30))  # and then the director, the top
    assert "triage_request" in h.notifier.to("P-DIR")
    await env.sleep(timedelta(minutes=30))  # pressed at the top, not dropped
    assert h.notifier.to("P-DIR").count("triage_request") >= 3
    history = (await h.status("N-TRI")).history
    assert any(e.event == "supervised" and "P-DIR" in e.detail for e in history)

    dismissed = DismissInput(by="P-DIR", reason="误拨")
    await tickets.update(h.client, "N-TRI", TicketWorkflow.dismiss, dismissed)
    status = await h.until_stage("N-TRI", Stage.DISMISSED)
    assert "closed" in h.notifier.to("hotline")  # the hotline answers the caller


async def test_a_ticket_intake_held_for_triage_is_classified_by_the_dispatcher(
    env: WorkflowEnvironment, h: Harness
) -> None:
    outside = intake(
        "N-OUT", scenario="PS03", received_at=await server_now(env), triage_reason="outside Pudong"
    )
    await h.start(outside)
    assert (await h.settled("N-OUT")).stage is Stage.TRIAGE
    decided = await tickets.update(
        h.client,
        "N-OUT",
        TicketWorkflow.classify,
        TriageDecision(scenario_id="PS03", by="P-DIST-D"),
    )
    assert decided.scenario_id == "PS03"
    await h.until_stage("N-OUT", Stage.AWAITING_ACCEPT)


async def test_a_triaged_ticket_runs_its_accept_clock_from_the_triage_decision(
    env: WorkflowEnvironment, h: Harness
) -> None:
    await h.start(intake("N-TR2", text="喂喂，听得到吗", received_at=await server_now(env)))
    await h.settled("N-TR2")
    await env.sleep(timedelta(minutes=10))
    decided = await server_now(env)
    classified = await tickets.update(
        h.client,
        "N-TR2",
        TicketWorkflow.classify,
        TriageDecision(scenario_id="PS03", by="P-DIST-D"),
    )
    assert classified.stage is Stage.CLASSIFIED
    status = await h.until_stage("N-TR2", Stage.AWAITING_ACCEPT)
    assert status.accept_deadline is not None
    assert status.accept_deadline - decided >= timedelta(minutes=5)


# --------------------------------------------------------------------------- acceptance


async def test_a_district_ticket_climbs_from_the_officer_to_the_director(
    env: WorkflowEnvironment, h: Harness
) -> None:
    await h.start(intake("N-DST", scenario="PS01", received_at=await server_now(env)))
    first = await h.settled("N-DST")
    assert (first.tier, first.assignee_id) == (Tier.DISTRICT, "P-DEPT")
    await env.sleep(timedelta(minutes=5, seconds=10))
    status = await h.status("N-DST")
    assert (status.assignee_id, status.escalations) == ("P-DIST-D", 1)
    assert "escalated" in h.notifier.to("P-DIST-D")
    await env.sleep(timedelta(minutes=5))
    assert (await h.status("N-DST")).assignee_id == "P-DIST-L"
    await env.sleep(timedelta(minutes=5))
    assert (await h.status("N-DST")).assignee_id == "P-DIR"
    await env.sleep(timedelta(minutes=5))
    assert "supervise" in h.notifier.to("P-DIR")
    status = await h.status("N-DST")
    assert any(e.event == "supervised" for e in status.history)  # recorded, not only mailed
    # anyone it passed through may still take it
    await tickets.update(h.client, "N-DST", TicketWorkflow.accept, AcceptInput(person_id="P-DEPT"))


async def test_the_clock_runs_from_the_intake_instant_not_the_worker_pickup(
    env: WorkflowEnvironment, h: Harness
) -> None:
    received = await server_now(env) - timedelta(seconds=37)  # the API took it earlier
    await h.start(intake("N-RCV", scenario="SC01", received_at=received))
    status = await h.settled("N-RCV")
    assert status.history[0].event == "received" and status.history[0].at == received
    assert status.accept_deadline == received + timedelta(minutes=5)


# --------------------------------------------------------------------------- verification


def _next_working_days_end(resolved: datetime, deadline: datetime) -> None:
    """The deadline is 17:30 Shanghai on the first working day after the resolve day."""
    hours = project_working_hours()
    local = deadline.astimezone(UTC8)
    assert local.time() == time(17, 30)
    day = resolved.astimezone(UTC8).date() + timedelta(days=1)
    while day < local.date():
        assert not is_working_day(day, hours), day
        day += timedelta(days=1)
    assert is_working_day(local.date(), hours)


async def test_a_callback_is_due_by_the_end_of_the_next_working_day_and_climbs(
    env: WorkflowEnvironment, h: Harness
) -> None:
    # Working time (the callback's day rule): on a plain week, not the wall-clock date.
    await h.start(intake("N-CB", scenario="CH01", received_at=await advance_to_plain_week(env)))
    await tickets.update(h.client, "N-CB", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D"))
    resolved = await server_now(env)
    await tickets.update(
        h.client, "N-CB", TicketWorkflow.resolve, ResolveInput(person_id="P-T01-D", note="已停工")
    )
    status = await h.until_stage("N-CB", Stage.VERIFYING)
    assert status.verify_deadline is not None and status.waiting_on is not None
    assert "hotline" in status.waiting_on
    _next_working_days_end(resolved, status.verify_deadline)
    await h.until(lambda: "callback_request" in h.notifier.to("hotline"))
    request = [n for n in h.notifier.notices if n.kind.value == "callback_request"]
    assert [r.reader for r in request[0].recipients] == [Reader.HOTLINE]

    await env.sleep(status.verify_deadline - await server_now(env) + timedelta(minutes=1))
    assert "supervise" in h.notifier.to("P-DIST-D")  # the district hears it is overdue
    assert h.notifier.to("hotline").count("callback_request") >= 2  # reminded before that
    await env.sleep(timedelta(days=4))  # half a budget later still nothing: handed up
    assert "callback_request" in h.notifier.to("P-DIST-D")
    assert any(e.event == "verify_escalated" for e in (await h.status("N-CB")).history)

    happy = CallbackInput(result=CallbackResult.SATISFIED, by="hotline-agent-7")
    await tickets.update(h.client, "N-CB", TicketWorkflow.callback, happy)
    await h.until_stage("N-CB", Stage.CLOSED)
    await h.until(lambda: "closed" in h.notifier.to("hotline"))
    assert "closed" in h.notifier.to("P-T01-D")  # the assignee and the hotline hear it


async def test_a_photo_nobody_reviews_goes_up_from_the_reviewer(
    env: WorkflowEnvironment, h: Harness
) -> None:
    place = {"lat": 31.2051, "lon": 121.6003}
    received = await advance_to_plain_week(env)  # photo review counts working hours
    await h.start(intake("N-PH", scenario="PS04", received_at=received, lat=31.2051, lon=121.6003))
    await tickets.update(h.client, "N-PH", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D"))
    photo = AfterPhoto(
        url="https://img/1.jpg", taken_at=await server_now(env) + timedelta(seconds=5), **place
    )
    await tickets.update(
        h.client, "N-PH", TicketWorkflow.resolve, ResolveInput(person_id="P-T01-D", photo=photo)
    )
    status = await h.until_stage("N-PH", Stage.VERIFYING)
    await h.until(lambda: "review_request" in h.notifier.to("P-DIST-D"))
    assert status.verify_deadline is not None
    await env.sleep(status.verify_deadline - await server_now(env) + timedelta(minutes=1))
    assert "supervise" in h.notifier.to("P-DIST-L")  # above the reviewer
    await env.sleep(timedelta(days=3))
    assert "review_request" in h.notifier.to("P-DIST-L")  # now theirs to review
    approve = ReviewInput(decision=ReviewDecision.APPROVED, by="P-DIST-L")
    await tickets.update(h.client, "N-PH", TicketWorkflow.review, approve)
    await h.until_stage("N-PH", Stage.CLOSED)


async def test_a_video_recheck_is_asked_of_the_camera_side_and_climbs(
    env: WorkflowEnvironment, h: Harness
) -> None:
    event = device_event("v1", "firing", device="CAM-1", sensor="video_ai", metric="street_vending")
    handle = await start_alarm(h, event, await server_now(env))
    status = await until(handle, lambda s: s.assignee_id is not None)
    person = status.assignee_id
    assert person is not None
    await handle.execute_update(TicketWorkflow.accept, AcceptInput(person_id=person))
    await handle.execute_update(TicketWorkflow.resolve, ResolveInput(person_id=person))
    status = await until(handle, lambda s: s.stage is Stage.VERIFYING)
    await h.until(lambda: "recheck_request" in h.notifier.to("camera"))
    [request] = [n for n in h.notifier.notices if n.kind.value == "recheck_request"]
    assert [r.person_id for r in request.recipients] == ["camera"]
    assert request.facts["device"] == "CAM-1" and request.facts["detection"] == "street_vending"
    assert status.verify_deadline is not None
    await env.sleep(timedelta(hours=1, minutes=1))
    assert "supervise" in h.notifier.to("P-T01-D")  # the reviewing sub-center hears
    await env.sleep(timedelta(minutes=30))
    assert "recheck_request" in h.notifier.to("P-T01-D")  # handed up to it
    await handle.execute_update(TicketWorkflow.recheck, RecheckInput(still_detected=False))
    assert (await handle.result()).fixed


# --------------------------------------------------------------------------- sensor recovery


async def test_a_bin_that_empties_closes_as_recovered_and_a_new_firing_opens_a_new_ticket(
    env: WorkflowEnvironment, h: Harness
) -> None:
    def bin_event(event_id: str, status: str) -> AlarmEvent:
        return device_event(
            event_id, status, device="BIN-7", sensor="smart_bin", metric="fill_percent"
        )

    handle = await start_alarm(h, bin_event("b1", "firing"), await server_now(env))
    first = await until(handle, lambda s: s.assignee_id is not None)
    assert first.scenario_id == "CA01"
    await handle.signal(TicketWorkflow.alarm_event, bin_event("b2", "resolved"))
    outcome = await handle.result()  # the hold (10 minutes) passes in the time-skipping server
    assert outcome.stage is Stage.CLOSED and outcome.fixed
    closed = await state(handle)
    assert closed.history[-1].detail == "recovered, verified by sensor"
    assert "closed" in h.notifier.to(first.assignee_id or "")
    assert "escalated" not in h.notifier.kinds()

    again = await start_alarm(h, bin_event("b3", "firing"), await server_now(env))
    second = await until(again, lambda s: s.assignee_id is not None)
    assert second.ticket_id != first.ticket_id and second.stage is Stage.AWAITING_ACCEPT


async def test_an_entrapment_that_clears_stops_the_chase_and_tells_the_assignee(
    env: WorkflowEnvironment, h: Harness
) -> None:
    def lift(event_id: str, status: str) -> AlarmEvent:
        return device_event(
            event_id, status, device="LIFT-3", sensor="elevator", metric="entrapment"
        )

    handle = await start_alarm(h, lift("l1", "firing"), await server_now(env))
    first = await until(handle, lambda s: s.assignee_id is not None)
    assert first.scenario_id == "PF03" and first.assignee_id == "P-DEPT"
    await handle.signal(TicketWorkflow.alarm_event, lift("l2", "resolved"))
    await until(handle, lambda s: s.chase_stopped)

    async def told() -> None:  # the notice is sent just after the stage says so
        assert "sensor_recovered" in h.notifier.to("P-DEPT")

    await eventually(told)
    await env.sleep(timedelta(minutes=10))  # 3-minute accept clock: nothing more
    status = await state(handle)
    assert status.stage is Stage.AWAITING_ACCEPT and status.escalations == 0
    assert "urge" not in h.notifier.kinds() and "escalated" not in h.notifier.kinds()

    await handle.signal(TicketWorkflow.alarm_event, lift("l3", "firing"))  # trapped again
    await until(handle, lambda s: not s.chase_stopped)
    await env.sleep(timedelta(minutes=4))
    assert (await state(handle)).escalations == 1  # the chase runs again


async def test_a_gas_reading_back_to_normal_never_closes_the_ticket(
    env: WorkflowEnvironment, h: Harness
) -> None:
    def gas(event_id: str, status: str) -> AlarmEvent:
        return device_event(
            event_id, status, device="GAS-9", sensor="gas_detector", metric="lel_percent"
        )

    handle = await start_alarm(h, gas("g1", "firing"), await server_now(env))
    await until(handle, lambda s: s.assignee_id is not None)
    for n in range(2, 6):
        await handle.signal(TicketWorkflow.alarm_event, gas(f"g{n}", "firing"))
    await handle.signal(TicketWorkflow.alarm_event, gas("g6", "resolved"))
    await env.sleep(timedelta(minutes=40))
    status = await state(handle)
    assert status.stage is Stage.ESCALATED and not status.chase_stopped
    repeats = [e for e in status.history if e.event == "alarm_repeated"]
    assert len(repeats) == 1 and repeats[0].count == 4 and repeats[0].last_at is not None
    assert status.alarm_events == 6


# --------------------------------------------------------------------------- notices


async def test_no_accept_link_once_accepted_and_each_reader_has_its_role(
    env: WorkflowEnvironment, h: Harness
) -> None:
    await h.start(intake("N-LNK", scenario="PS03", received_at=await server_now(env)))
    await env.sleep(timedelta(minutes=4, seconds=30))  # reminded before accepting
    await tickets.update(h.client, "N-LNK", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D"))
    await env.sleep(timedelta(hours=5))  # overdue, supervised, urged after acceptance
    kinds = h.notifier.kinds()
    accepted_at = kinds.index("reminder") + 1  # the accept clock's reminder came first
    before, after = h.notifier.notices[:accepted_at], h.notifier.notices[accepted_at:]
    assert [n.kind.value for n in before] == ["assigned", "reminder"]
    assert all(n.accept_link for n in before)  # 一键接单 while it waits for acceptance
    followups = [n for n in after if n.kind.value in ("reminder", "urge", "supervise", "overdue")]
    assert {"supervise", "overdue"} <= {n.kind.value for n in followups}
    assert not any(n.accept_link for n in followups)  # never on an accepted ticket
    supervise = next(n for n in followups if n.kind.value == "supervise")
    assert {r.reader for r in supervise.recipients} == {Reader.SUPERVISOR}


async def flood_storm(h: Harness, received: datetime, prefix: str, size: int) -> list[Any]:
    """`size` water-level alarms in one street (EM01 groups them as one incident), each
    dispatched: their handles."""
    handles = []
    for n in range(size):
        flood = device_event(
            f"{prefix}{n}",
            "firing",
            device=f"W{prefix}-{n}",
            sensor="water_level",
            metric="depth_cm",
        )
        handles.append(await start_alarm(h, flood, received))
    for handle in handles:
        status = await until(handle, lambda s: s.assignee_id is not None)
        assert status.scenario_id == "EM01"
    return handles


async def test_a_storm_of_one_incident_sends_one_follow_up_message_per_window(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """Three water-level alarms in one street (EM01 groups by street) go unaccepted: the
    district officer gets the first escalation at once and the other two as one message
    when the window (2 minutes, rules/sla.yaml) ends, not three e-mails. Each ticket's first
    notice is never held back."""
    received = await server_now(env)
    handles = await flood_storm(h, received, "L", 3)
    assert h.notifier.to("P-T01-D").count("assigned") == 3  # at once, one each

    await env.sleep(timedelta(minutes=5, seconds=20))  # all three escalate together
    for handle in handles:
        assert (await state(handle)).assignee_id == "P-DIST-D"
    assert h.notifier.to("P-DIST-D") == ["escalated"]  # the first, at once
    await env.sleep(timedelta(minutes=2))
    assert h.notifier.to("P-DIST-D") == ["escalated", "grouped"]
    grouped = next(n for n in h.notifier.notices if n.kind.value == "grouped")
    first = next(n for n in h.notifier.notices if n.kind.value == "escalated")
    assert len(grouped.items) == 2 and {i.kind.value for i in grouped.items} == {"escalated"}
    tickets_told = {first.ticket_id, *(i.ticket_id for i in grouped.items)}
    assert tickets_told == {(await state(handle)).ticket_id for handle in handles}


async def test_the_grouping_window_is_the_one_sla_yaml_configures(
    env: WorkflowEnvironment,
) -> None:
    """With `notices.group_window: 10m` the storm's two later escalations wait ten minutes
    for company, not two."""
    rules = default_handling_rules()
    slow = rules.model_copy(update={"notices": NoticeSettings(group_window=timedelta(minutes=10))})
    async with running(env, handling=slow) as h:
        received = await server_now(env)
        await flood_storm(h, received, "S", 3)
        await env.sleep(timedelta(minutes=5, seconds=20))
        assert h.notifier.to("P-DIST-D") == ["escalated"]  # the first, at once
        await env.sleep(timedelta(minutes=3))
        assert "grouped" not in h.notifier.to("P-DIST-D")  # two minutes is not the window
        await env.sleep(timedelta(minutes=7))  # ten minutes after the first
        grouped = [
            n
            for n in h.notifier.notices
            if n.kind.value == "grouped" and n.recipients[0].person_id == "P-DIST-D"
        ]
        assert [[i.kind.value for i in n.items] for n in grouped] == [["escalated", "escalated"]]


async def test_a_village_ticket_climbs_every_tier_to_the_director(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """PS05 (P2, village tier, 30 minutes to accept): the work station, its street
    sub-center, the district dispatcher, the duty leader, the director."""
    await h.start(intake("N-VIL", scenario="PS05", received_at=await server_now(env)))
    climbed = []
    for _ in range(5):
        climbed.append((await h.status("N-VIL")).assignee_id)
        await env.sleep(timedelta(minutes=30, seconds=10))
    ladder = ["P-T01-01-1", "P-T01-D", "P-DIST-D", "P-DIST-L", "P-DIR"]
    assert climbed == ladder
    for person in ladder[1:]:
        assert "escalated" in h.notifier.to(person)
    assert "supervise" in h.notifier.to("P-DIR")  # pressed at the top
    await tickets.update(
        h.client, "N-VIL", TicketWorkflow.accept, AcceptInput(person_id="P-T01-01-1")
    )


async def test_a_grouped_follow_up_nobody_receives_is_reported_back_to_its_tickets(
    env: WorkflowEnvironment,
) -> None:
    async with running(env, failing={"P-DIST-D"}) as h:
        received = await server_now(env)
        handles = await flood_storm(h, received, "F", 2)
        await env.sleep(timedelta(minutes=5, seconds=20))  # both escalate to P-DIST-D
        await env.sleep(timedelta(minutes=2, seconds=10))  # the group's window ends
        for handle in handles:
            status = await until(
                handle, lambda s: any(e.event == "notice_failed" for e in s.history)
            )
            failed = [e for e in status.history if e.event == "notice_failed"]
            assert "P-DIST-D" in failed[-1].detail
        await h.until(lambda: "supervise" in h.notifier.to("P-DIST-L"))  # the one above hears
