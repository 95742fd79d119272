"""Timer paths of TicketWorkflow in the time-skipping test server (a fresh one per test)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest
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
    RuleClosureInput,
    TriageDecision,
    UrgeInput,
)
from cityops.domain.stages import CallbackResult, ReviewDecision, Source, Stage, Tier
from cityops.rules.calendar import WorkingHours
from cityops.service import tickets
from cityops.service.tickets import TicketRejected
from cityops.workflows.ticket import TicketWorkflow
from tests.conftest import eventually
from tests.workflows.harness import Harness, intake, plain_days, running


def now() -> datetime:
    return datetime.now(UTC)


async def test_p1_not_accepted_escalates_village_to_street_to_district(
    env: WorkflowEnvironment, h: Harness
) -> None:
    await h.start(intake("T-ESC", scenario="SC01", received_at=now()))  # P1, village tier
    await env.sleep(timedelta(minutes=4))
    status = await h.status("T-ESC")
    assert (status.stage, status.tier, status.escalations) == (
        Stage.AWAITING_ACCEPT,
        Tier.VILLAGE,
        0,
    )

    await env.sleep(timedelta(minutes=2))  # past the 5-minute accept deadline
    status = await h.status("T-ESC")
    assert (status.stage, status.tier, status.escalations) == (Stage.ESCALATED, Tier.STREET, 1)
    assert status.assignee_id == "P-T01-D"
    assert "escalated" in h.notifier.to("P-T01-D")

    await env.sleep(timedelta(minutes=5))  # the street's own 5 minutes run out too
    status = await h.status("T-ESC")
    assert (status.tier, status.escalations) == (Tier.DISTRICT, 2)
    assert "escalated" in h.notifier.to("P-DIST-D")


async def test_accept_stops_escalation(env: WorkflowEnvironment, h: Harness) -> None:
    await h.start(intake("T-ACC", scenario="SC01", received_at=now()))
    await env.sleep(timedelta(minutes=3))
    accepted = await tickets.update(
        h.client, "T-ACC", TicketWorkflow.accept, AcceptInput(person_id="P-T01-01-1")
    )
    assert accepted.stage is Stage.ACCEPTED
    await env.sleep(timedelta(minutes=30))
    status = await h.status("T-ACC")
    assert (status.tier, status.escalations) == (Tier.VILLAGE, 0)
    assert "escalated" not in h.notifier.kinds()


async def test_accept_by_someone_not_assigned_is_refused_with_the_reason(h: Harness) -> None:
    await h.start(intake("T-WHO", scenario="SC01", received_at=now()))
    with pytest.raises(TicketRejected, match="P-NOBODY is not assigned"):
        await tickets.update(
            h.client, "T-WHO", TicketWorkflow.accept, AcceptInput(person_id="P-NOBODY")
        )
    assert (await h.status("T-WHO")).stage is Stage.AWAITING_ACCEPT


async def test_overdue_resolve_notifies_the_tier_above_and_flags_overdue(
    env: WorkflowEnvironment, h: Harness
) -> None:
    await h.start(intake("T-OVD", scenario="PS03", received_at=now()))  # P1, street tier, 4 h
    await tickets.update(h.client, "T-OVD", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D"))
    await env.sleep(timedelta(hours=3))
    assert not (await h.status("T-OVD")).overdue
    await env.sleep(timedelta(hours=1, minutes=5))
    status = await h.status("T-OVD")
    assert status.overdue and status.sla_colour == "red"
    assert "supervise" in h.notifier.to("P-DIST-D")
    assert any(e.event == "overdue" for e in status.history)


async def test_unsatisfied_callback_reopens_then_satisfied_closes(h: Harness) -> None:
    handle = await h.start(intake("T-CB", scenario="CH01", received_at=now()))  # callback check
    await tickets.update(h.client, "T-CB", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D"))
    await tickets.update(
        h.client,
        "T-CB",
        TicketWorkflow.resolve,
        ResolveInput(person_id="P-T01-D", note="已责令停工"),
    )
    await h.until(lambda: "callback_request" in h.notifier.kinds())
    unhappy = CallbackInput(
        result=CallbackResult.UNSATISFIED, by="hotline-agent-7", note="还在施工"
    )
    status = await tickets.update(h.client, "T-CB", TicketWorkflow.callback, unhappy)
    reopened = await h.until_stage("T-CB", Stage.REOPENED)
    assert reopened.reopens == 1
    # The notice follows the stage change (it is sent after the stage is published).
    await h.until(lambda: "reopened" in h.notifier.to("P-T01-D"))

    await tickets.update(
        h.client, "T-CB", TicketWorkflow.resolve, ResolveInput(person_id="P-T01-D", note="已查处")
    )
    happy = CallbackInput(result=CallbackResult.SATISFIED, by="hotline-agent-7")
    status = await tickets.update(h.client, "T-CB", TicketWorkflow.callback, happy)
    outcome = await handle.result()
    assert outcome.stage is Stage.CLOSED and outcome.fixed and outcome.reopens == 1
    assert status.stage in (Stage.VERIFYING, Stage.CLOSED)
    # The register holds every history entry, in order, with the stage the workflow had.
    history = (await h.status("T-CB")).history
    register = h.store.register("T-CB")
    assert [(e.event, e.to_stage, e.actor) for e in register] == [
        (entry.event, entry.stage, entry.by) for entry in history
    ]
    assert [e.seq for e in register] == list(range(len(history)))
    reopen_event = next(e for e in register if e.event == "reopened")
    assert (reopen_event.from_stage, reopen_event.to_stage) == (Stage.VERIFYING, Stage.REOPENED)
    unhappy_event = next(e for e in register if e.event == "callback_unsatisfied")
    assert unhappy_event.actor == "hotline-agent-7"
    assert register[0].text is not None and register[1].text is None
    assert register[-1].to_stage is Stage.CLOSED and register[-1].scenario_id == "CH01"
    assert h.store.records == []  # the earlier two-row writer is not used by new tickets


async def test_triage_ticket_waits_for_a_dispatcher_then_dispatches(h: Harness) -> None:
    await h.start(intake("T-TRI", text="喂喂，听得到吗", received_at=now()))
    status = await h.settled("T-TRI")
    assert status.stage is Stage.TRIAGE and status.scenario_id is None
    with pytest.raises(TicketRejected, match="unknown scenario"):
        await tickets.update(
            h.client,
            "T-TRI",
            TicketWorkflow.classify,
            TriageDecision(scenario_id="ZZ99", by="P-DIST-D"),
        )
    classified = await tickets.update(
        h.client,
        "T-TRI",
        TicketWorkflow.classify,
        TriageDecision(scenario_id="PS03", by="P-DIST-D"),
    )
    assert classified.scenario_id == "PS03"
    status = await h.status("T-TRI")
    assert status.stage is Stage.AWAITING_ACCEPT and status.assignee_id == "P-T01-D"
    events = [e.event for e in status.history]
    assert events[:4] == ["received", "needs_triage", "triage_assigned", "triaged"]


def _alarm(
    event_id: str, status: str, *, detection: str | None = None, sensor: str = "gas_detector"
) -> AlarmEvent:
    attributes: dict[str, Any] = {"site": "碧波路690号地下车库"}
    if detection:
        attributes["detection"] = detection
    return AlarmEvent(
        event_id=event_id,
        device_id="GAS-T01-00042",
        sensor_type=sensor,
        metric="detection" if detection else "lel_percent",
        value=0.9 if detection else 27.5,
        status=status,
        lat=31.2051,
        lon=121.6003,
        occurred_at=now(),
        attributes=attributes,
    )


async def test_sensor_recovery_needs_a_resolved_event_that_holds(
    env: WorkflowEnvironment, h: Harness
) -> None:
    first = _alarm("evt-1", "firing")
    handle = await h.start(
        intake(
            "T-GAS", received_at=now(), text=None, source=Source.IOT, alarm=first, caller_phone=None
        )
    )
    status = await h.settled("T-GAS")
    assert status.scenario_id == "PS01"
    person = status.assignee_id
    assert person is not None
    await handle.signal(
        TicketWorkflow.alarm_event, _alarm("evt-1", "firing")
    )  # duplicate: recorded once
    await handle.signal(TicketWorkflow.alarm_event, _alarm("evt-2", "firing"))
    await tickets.update(h.client, "T-GAS", TicketWorkflow.accept, AcceptInput(person_id=person))
    await tickets.update(
        h.client, "T-GAS", TicketWorkflow.resolve, ResolveInput(person_id=person, note="关阀")
    )
    await handle.signal(TicketWorkflow.alarm_event, _alarm("evt-3", "resolved"))
    await env.sleep(timedelta(minutes=1))
    await handle.signal(
        TicketWorkflow.alarm_event, _alarm("evt-4", "firing")
    )  # fires again inside the hold
    status = await h.until_stage("T-GAS", Stage.REOPENED)
    assert (status.reopens, status.alarm_events) == (1, 4)

    await tickets.update(
        h.client, "T-GAS", TicketWorkflow.resolve, ResolveInput(person_id=person, note="更换管件")
    )
    await handle.signal(TicketWorkflow.alarm_event, _alarm("evt-5", "resolved"))
    await h.until_stage("T-GAS", Stage.VERIFYING)
    await env.sleep(timedelta(minutes=31))  # the hold for PS01 is 30 minutes
    outcome = await handle.result()
    assert outcome.stage is Stage.CLOSED and outcome.reopens == 1


async def test_photo_review_checks_place_and_time_then_reviewer_decides(h: Harness) -> None:
    handle = await h.start(
        intake("T-PH", scenario="PS04", received_at=now(), lat=31.2051, lon=121.6003)
    )
    await tickets.update(h.client, "T-PH", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D"))
    with pytest.raises(TicketRejected, match="photo: an after-photo"):
        await tickets.update(
            h.client, "T-PH", TicketWorkflow.resolve, ResolveInput(person_id="P-T01-D")
        )
    far = AfterPhoto(
        url="https://img/1.jpg", taken_at=now() + timedelta(seconds=5), lat=31.30, lon=121.60
    )
    with pytest.raises(TicketRejected, match=r"photo.lat/lon: taken \d+ m from the place"):
        await tickets.update(
            h.client, "T-PH", TicketWorkflow.resolve, ResolveInput(person_id="P-T01-D", photo=far)
        )
    good = far.model_copy(update={"lat": 31.2052, "lon": 121.6004})
    await tickets.update(
        h.client, "T-PH", TicketWorkflow.resolve, ResolveInput(person_id="P-T01-D", photo=good)
    )
    await h.until(lambda: "review_request" in h.notifier.to("P-DIST-D"))
    with pytest.raises(TicketRejected, match="may not review"):
        await tickets.update(
            h.client,
            "T-PH",
            TicketWorkflow.review,
            ReviewInput(decision=ReviewDecision.APPROVED, by="P-T01-D"),
        )
    await tickets.update(
        h.client,
        "T-PH",
        TicketWorkflow.review,
        ReviewInput(decision=ReviewDecision.REJECTED, by="P-DIST-D", reason="仍有隐患"),
    )
    await h.until_stage("T-PH", Stage.REOPENED)
    await tickets.update(
        h.client, "T-PH", TicketWorkflow.resolve, ResolveInput(person_id="P-T01-D", photo=good)
    )
    await tickets.update(
        h.client,
        "T-PH",
        TicketWorkflow.review,
        ReviewInput(decision=ReviewDecision.APPROVED, by="P-DIST-D"),
    )
    outcome = await handle.result()
    assert outcome.fixed and outcome.reopens == 1


async def test_video_recheck_still_detected_reopens(h: Harness) -> None:
    event = _alarm("evt-v1", "firing", detection="street_vending", sensor="video_ai")
    handle = await h.start(
        intake("T-VID", received_at=now(), text=None, source=Source.VIDEO, alarm=event)
    )
    status = await h.settled("T-VID")
    assert status.scenario_id == "CA04" and status.assignee_id is not None
    person = status.assignee_id
    await tickets.update(h.client, "T-VID", TicketWorkflow.accept, AcceptInput(person_id=person))
    await tickets.update(
        h.client, "T-VID", TicketWorkflow.resolve, ResolveInput(person_id=person, note="已劝离")
    )
    await tickets.update(
        h.client, "T-VID", TicketWorkflow.recheck, RecheckInput(still_detected=True)
    )
    await h.until_stage("T-VID", Stage.REOPENED)
    await tickets.update(
        h.client, "T-VID", TicketWorkflow.resolve, ResolveInput(person_id=person, note="再次劝离")
    )
    await tickets.update(
        h.client, "T-VID", TicketWorkflow.recheck, RecheckInput(still_detected=False)
    )
    assert (await handle.result()).fixed


async def test_ruled_closure_is_closed_unfixed_not_closed(h: Harness) -> None:
    handle = await h.start(intake("T-RUL", scenario="CH01", received_at=now()))
    await tickets.update(
        h.client, "T-RUL", TicketWorkflow.urge, UrgeInput(by="P-DIST-D", note="尽快处理")
    )
    assert "urge" in h.notifier.to("P-T01-D")  # the update returns after the notice went out
    await tickets.update(
        h.client,
        "T-RUL",
        TicketWorkflow.rule_closure,
        RuleClosureInput(by="P-DIST-D", reason="工地已停工撤场"),
    )
    outcome = await handle.result()
    assert outcome.stage is Stage.CLOSED_UNFIXED and not outcome.fixed


async def test_failed_notice_is_on_the_ticket_and_tells_the_tier_above(
    env: WorkflowEnvironment,
) -> None:
    async with running(env, failing={"P-T01-D"}) as h:
        await h.start(intake("T-FAIL", scenario="PS03", received_at=now()))
        await h.until(lambda: "supervise" in h.notifier.to("P-DIST-D"))
        status = await h.status("T-FAIL")
        assert any(e.event == "notice_failed" for e in status.history)


async def test_p3_ticket_on_a_holiday_eve_waits_for_the_first_working_morning(
    env: WorkflowEnvironment,
) -> None:
    """Dispatched on a Thursday at 19:00 Shanghai time whose Friday is a holiday (as New
    Year's Day 2027 is): the holiday and the weekend follow, so 2 working hours run out on
    the Monday at 10:30. The Thursday is the first one at least a day ahead of the test
    server's clock (which starts at the wall clock and only moves forward) that starts a
    plain fortnight, and the holiday is the test's own: the test holds on any date. The
    project calendar's real New Year's Eve is checked without a server in
    tests/rules/test_calendar.py."""
    shanghai = timezone(timedelta(hours=8))
    today = (await env.get_current_time()).astimezone(shanghai).date() + timedelta(days=1)
    thursday = today + timedelta(days=(3 - today.weekday()) % 7)
    while not plain_days(thursday, 14, WorkingHours()):
        thursday += timedelta(days=7)
    holiday, monday = thursday + timedelta(days=1), thursday + timedelta(days=4)

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=shanghai)

    evening = at(thursday, 19)
    await env.sleep(evening - await env.get_current_time())
    async with running(env, hours=WorkingHours(extra_holidays=frozenset({holiday}))) as h:
        await h.start(intake("T-NY", scenario="CA04", received_at=evening))  # P3, village tier
        status = await h.settled("T-NY")
        assert status.accept_deadline == at(monday, 10, 30)

        await env.sleep(at(monday, 10, 10) - await env.get_current_time())
        status = await h.status("T-NY")
        assert (status.tier, status.sla_colour) == (Tier.VILLAGE, "yellow")  # 80% at 10:06
        assert "reminder" in h.notifier.to("P-T01-01-1")

        await env.sleep(timedelta(minutes=21))
        status = await h.status("T-NY")
        assert (status.stage, status.tier) == (Stage.ESCALATED, Tier.STREET)


async def test_a_firing_as_the_ticket_closes_opens_the_next_ticket_on_the_same_device(
    h: Harness,
) -> None:
    h.store.gate_closing = asyncio.Event()
    first = _alarm("evt-c1", "firing", detection="street_vending", sensor="video_ai")
    await h.start(intake("T-CLS", received_at=now(), text=None, source=Source.VIDEO, alarm=first))
    person = (await h.settled("T-CLS")).assignee_id
    assert person is not None
    await tickets.update(h.client, "T-CLS", TicketWorkflow.accept, AcceptInput(person_id=person))
    await tickets.update(
        h.client, "T-CLS", TicketWorkflow.resolve, ResolveInput(person_id=person, note="已劝离")
    )
    await tickets.update(
        h.client, "T-CLS", TicketWorkflow.recheck, RecheckInput(still_detected=False)
    )
    await h.closing_recorded()
    handle = h.client.get_workflow_handle(tickets.workflow_id_for("T-CLS"))
    await handle.signal(
        TicketWorkflow.alarm_event,
        _alarm("evt-c2", "firing", detection="street_vending", sensor="video_ai"),
    )
    h.store.gate_closing.set()

    async def next_ticket() -> None:
        status = await handle.query(TicketWorkflow.status)
        assert status.ticket_id != "T-CLS" and status.ticket_id.startswith("AL")
        assert status.stage is Stage.AWAITING_ACCEPT and status.scenario_id == "CA04"

    await eventually(next_ticket)
    # Local activities run at least once; the register is idempotent on the event key.
    register = h.store.register("T-CLS")
    assert register[0].event == "received" and register[-1].to_stage is Stage.CLOSED
    assert [e.seq for e in register] == list(range(len(register)))


async def test_a_triage_ticket_that_is_no_work_order_is_dismissed_with_its_reason(
    h: Harness,
) -> None:
    handle = await h.start(intake("T-DIS", text="请问社保卡在哪里补办", received_at=now()))
    assert (await h.status("T-DIS")).stage is Stage.TRIAGE
    dismissal = DismissInput(by="P-DIST-D", reason="咨询类，已答复")
    await tickets.update(h.client, "T-DIS", TicketWorkflow.dismiss, dismissal)
    outcome = await handle.result()
    assert outcome.stage is Stage.DISMISSED and not outcome.fixed
    history = (await h.status("T-DIS")).history
    assert history[-1].event == "dismissed" and history[-1].detail == "咨询类，已答复"


async def test_a_dispatched_ticket_cannot_be_dismissed(h: Harness) -> None:
    await h.start(intake("T-NDIS", scenario="PS03", received_at=now()))
    with pytest.raises(TicketRejected, match="only a ticket waiting for triage"):
        await tickets.update(
            h.client, "T-NDIS", TicketWorkflow.dismiss, DismissInput(by="P-DIST-D", reason="x")
        )
