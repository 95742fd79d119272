"""Record TicketWorkflow histories for the replay test.

    .venv/bin/python -m tests.workflows.record_histories [--suffix -v3] [SCENARIO ...]

Run it BEFORE a workflow change that alters the commands a ticket issues, on the code
as it is, so tickets in flight on that code are held to replaying on the new one (and
version the change with workflow.patched). Each history is saved as
`tests/data/histories/<ticket><suffix>.json`; existing files are never overwritten.

Histories are recorded without the encryption codec (the callers in them are made up):
a stored encrypted history would need its key stored beside it, and keys never live in
the repository. The replay test reads them through the workers' converter, whose codec
passes unencrypted payloads through.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from cityops.activities.testing import FakeRouter, NoSupervisorRouter
from cityops.domain.models import (
    AcceptInput,
    AfterPhoto,
    AlarmEvent,
    CallbackInput,
    ContactInput,
    DismissInput,
    ExtensionDecision,
    ExtensionRequest,
    IncidentLink,
    PauseInput,
    RecheckInput,
    ReconsiderationDecision,
    ReconsiderationRequest,
    ResolveInput,
    ResumeInput,
    ReturnInput,
    ReturnReason,
    ReturnReasonCode,
    ReviewInput,
    RuleClosureInput,
    TransferInput,
    TriageDecision,
    UrgeInput,
)
from cityops.domain.stages import CallbackResult, LinkKind, ReviewDecision, Source, Stage
from cityops.service import tickets
from cityops.workflows import search_attributes as sa
from cityops.workflows.ticket import TicketWorkflow
from tests.conftest import TEST_SERVER
from tests.workflows.harness import Harness, intake, running

HISTORIES = Path(__file__).parent.parent / "data" / "histories"


async def escalated_then_callback(env: WorkflowEnvironment, h: Harness) -> str:
    now = datetime.now(UTC)
    await h.start(intake("H-ESC", scenario="SC01", received_at=now))
    await env.sleep(timedelta(minutes=6))
    await tickets.update(h.client, "H-ESC", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D"))
    await tickets.update(
        h.client, "H-ESC", TicketWorkflow.resolve, ResolveInput(person_id="P-T01-D", note="已上门")
    )
    unhappy = CallbackInput(result=CallbackResult.UNSATISFIED, by="agent")
    await h.until(lambda: "callback_request" in h.notifier.kinds())
    await tickets.update(h.client, "H-ESC", TicketWorkflow.callback, unhappy)
    await h.until(lambda: "reopened" in h.notifier.kinds())
    await tickets.update(
        h.client,
        "H-ESC",
        TicketWorkflow.resolve,
        ResolveInput(person_id="P-T01-D", note="再次上门"),
    )
    await tickets.update(
        h.client,
        "H-ESC",
        TicketWorkflow.callback,
        CallbackInput(result=CallbackResult.SATISFIED, by="agent"),
    )
    return "H-ESC"


async def triaged_photo_review(env: WorkflowEnvironment, h: Harness) -> str:
    now = datetime.now(UTC)
    await h.start(intake("H-TRI", text="喂喂听得到吗", received_at=now, lat=31.2051, lon=121.6003))
    await h.settled("H-TRI")
    await tickets.update(
        h.client,
        "H-TRI",
        TicketWorkflow.classify,
        TriageDecision(scenario_id="PS04", by="P-DIST-D"),
    )
    await h.settled("H-TRI")
    await tickets.update(h.client, "H-TRI", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D"))
    photo = AfterPhoto(
        url="https://img/1.jpg", taken_at=now + timedelta(minutes=1), lat=31.2051, lon=121.6003
    )
    await tickets.update(
        h.client, "H-TRI", TicketWorkflow.resolve, ResolveInput(person_id="P-T01-D", photo=photo)
    )
    await tickets.update(
        h.client,
        "H-TRI",
        TicketWorkflow.review,
        ReviewInput(decision=ReviewDecision.APPROVED, by="P-DIST-D"),
    )
    return "H-TRI"


async def alarm_recovered(env: WorkflowEnvironment, h: Harness) -> str:
    def event(event_id: str, status: str) -> AlarmEvent:
        return AlarmEvent(
            event_id=event_id,
            device_id="GAS-T01-1",
            sensor_type="gas_detector",
            metric="lel_percent",
            value=20.0,
            status=status,
            lat=31.2051,
            lon=121.6003,
            occurred_at=datetime.now(UTC),
        )

    handle = await h.start(
        intake(
            "H-GAS",
            text=None,
            source=Source.IOT,
            received_at=datetime.now(UTC),
            alarm=event("e1", "firing"),
            caller_phone=None,
        )
    )
    person = (await h.settled("H-GAS")).assignee_id
    assert person is not None
    await handle.signal(TicketWorkflow.alarm_event, event("e2", "firing"))
    await tickets.update(h.client, "H-GAS", TicketWorkflow.accept, AcceptInput(person_id=person))
    await tickets.update(
        h.client, "H-GAS", TicketWorkflow.resolve, ResolveInput(person_id=person, note="关阀")
    )
    await handle.signal(TicketWorkflow.alarm_event, event("e3", "resolved"))
    await env.sleep(timedelta(hours=1))
    return "H-GAS"


def _event(
    event_id: str, status: str, device: str = "GAS-T01-1", sensor: str = "gas_detector"
) -> AlarmEvent:
    video = sensor == "video_ai"
    return AlarmEvent(
        event_id=event_id,
        device_id=device,
        sensor_type=sensor,
        metric="detection" if video else "lel_percent",
        value=0.9 if video else 20.0,
        status=status,
        lat=31.2051,
        lon=121.6003,
        occurred_at=datetime.now(UTC),
        attributes={"detection": "street_vending"} if video else {},
    )


async def district_unaccepted(env: WorkflowEnvironment, h: Harness) -> str:
    """A district-tier P1 nobody accepts: escalated to the district, then pressed there."""
    await h.start(intake("H-DST", scenario="PS01", received_at=datetime.now(UTC)))
    await env.sleep(timedelta(minutes=12))
    await tickets.update(h.client, "H-DST", TicketWorkflow.accept, AcceptInput(person_id="P-DEPT"))
    await tickets.update(
        h.client, "H-DST", TicketWorkflow.resolve, ResolveInput(person_id="P-DEPT")
    )
    await h.until(lambda: "callback_request" in h.notifier.kinds())
    satisfied = CallbackInput(result=CallbackResult.SATISFIED, by="agent")
    await tickets.update(h.client, "H-DST", TicketWorkflow.callback, satisfied)
    return "H-DST"


async def video_recheck(env: WorkflowEnvironment, h: Harness) -> str:
    first = _event("v1", "firing", device="CAM-T01-1", sensor="video_ai")
    await h.start(
        intake("H-VID", text=None, source=Source.VIDEO, received_at=datetime.now(UTC), alarm=first)
    )
    person = (await h.settled("H-VID")).assignee_id
    assert person is not None
    await tickets.update(h.client, "H-VID", TicketWorkflow.accept, AcceptInput(person_id=person))
    await tickets.update(h.client, "H-VID", TicketWorkflow.resolve, ResolveInput(person_id=person))
    await env.sleep(timedelta(hours=3))  # nobody rechecks for a while
    await tickets.update(
        h.client, "H-VID", TicketWorkflow.recheck, RecheckInput(still_detected=False)
    )
    return "H-VID"


async def recovered_before_accept(env: WorkflowEnvironment, h: Harness) -> str:
    """A gas alarm that repeats, then reports normal before anyone accepted."""
    handle = await h.start(
        intake(
            "H-REC",
            text=None,
            source=Source.IOT,
            received_at=datetime.now(UTC),
            alarm=_event("r1", "firing", device="GAS-T01-2"),
            caller_phone=None,
        )
    )
    person = (await h.settled("H-REC")).assignee_id
    assert person is not None
    for n in range(2, 7):
        await handle.signal(
            TicketWorkflow.alarm_event, _event(f"r{n}", "firing", device="GAS-T01-2")
        )
    await handle.signal(TicketWorkflow.alarm_event, _event("r7", "resolved", device="GAS-T01-2"))
    await env.sleep(timedelta(minutes=2))
    await tickets.update(h.client, "H-REC", TicketWorkflow.accept, AcceptInput(person_id=person))
    await tickets.update(h.client, "H-REC", TicketWorkflow.resolve, ResolveInput(person_id=person))
    await env.sleep(timedelta(minutes=31))
    return "H-REC"


async def returned_and_transferred(env: WorkflowEnvironment, h: Harness) -> str:
    """Demo organisation: returned twice, so the district rules by transferring it to T05;
    T05 asks the district to reconsider and it moves the ticket to T02. (Recorded as -v2
    before rulings were binding, the scenario had T05 return it again instead.)"""
    await h.start(intake("H-RET", scenario="CH01", received_at=datetime.now(UTC)))
    status = await h.settled("H-RET")
    for _ in range(2):
        assert status.assignee_id is not None
        why = ReturnReason(code=ReturnReasonCode.NOT_OUR_DUTY, note="不归我们管")
        status = await tickets.update(
            h.client,
            "H-RET",
            TicketWorkflow.return_ticket,
            ReturnInput(person_id=status.assignee_id, reason=why),
        )
    district = status.assignee_id
    assert district is not None
    status = await tickets.update(
        h.client,
        "H-RET",
        TicketWorkflow.transfer,
        TransferInput(by=district, target_unit="T05", reason="属地在T05"),
    )
    assert status.assignee_id is not None
    await tickets.update(
        h.client,
        "H-RET",
        TicketWorkflow.request_reconsideration,
        ReconsiderationRequest(
            person_id=status.assignee_id, reason="不是我们", suggested_unit="T02"
        ),
    )
    status = await tickets.update(
        h.client,
        "H-RET",
        TicketWorkflow.decide_reconsideration,
        ReconsiderationDecision(by=district, approve=True, target_unit="T02"),
    )
    assert status.assignee_id is not None
    person = status.assignee_id
    await tickets.update(h.client, "H-RET", TicketWorkflow.accept, AcceptInput(person_id=person))
    await tickets.update(h.client, "H-RET", TicketWorkflow.resolve, ResolveInput(person_id=person))
    satisfied = CallbackInput(result=CallbackResult.SATISFIED, by="agent")
    await tickets.update(h.client, "H-RET", TicketWorkflow.callback, satisfied)
    return "H-RET"


async def extended_and_paused(env: WorkflowEnvironment, h: Harness) -> str:
    await h.start(intake("H-EXT", scenario="PS03", received_at=datetime.now(UTC)))
    accepted = await tickets.update(
        h.client, "H-EXT", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D")
    )
    await tickets.update(
        h.client, "H-EXT", TicketWorkflow.contact_citizen, ContactInput(person_id="P-T01-D")
    )
    await tickets.update(
        h.client,
        "H-EXT",
        TicketWorkflow.pause_clock,
        PauseInput(person_id="P-T01-D", reason="等业主"),
    )
    await env.sleep(timedelta(hours=1))
    await tickets.update(
        h.client, "H-EXT", TicketWorkflow.resume_clock, ResumeInput(person_id="P-T01-D")
    )
    assert accepted.resolve_deadline is not None
    wanted = accepted.resolve_deadline + timedelta(hours=6)
    await tickets.update(
        h.client,
        "H-EXT",
        TicketWorkflow.request_extension,
        ExtensionRequest(person_id="P-T01-D", new_deadline=wanted, reason="等材料"),
    )
    await tickets.update(
        h.client,
        "H-EXT",
        TicketWorkflow.decide_extension,
        ExtensionDecision(by="P-DIST-D", approve=True),
    )
    await tickets.update(
        h.client, "H-EXT", TicketWorkflow.urge, UrgeInput(by="P-DIST-D", note="抓紧")
    )
    await tickets.update(
        h.client, "H-EXT", TicketWorkflow.resolve, ResolveInput(person_id="P-T01-D")
    )
    await env.sleep(timedelta(days=2))  # the callback comes late
    satisfied = CallbackInput(result=CallbackResult.SATISFIED, by="agent")
    await tickets.update(h.client, "H-EXT", TicketWorkflow.callback, satisfied)
    return "H-EXT"


async def dismissed_late(env: WorkflowEnvironment, h: Harness) -> str:
    await h.start(intake("H-DIS", text="请问社保卡在哪里补办", received_at=datetime.now(UTC)))
    await env.sleep(timedelta(hours=5))  # nobody triages it for hours
    await tickets.update(
        h.client,
        "H-DIS",
        TicketWorkflow.dismiss,
        DismissInput(by="P-DIST-D", reason="咨询类，已答复"),
    )
    return "H-DIS"


async def ruled_closed(env: WorkflowEnvironment, h: Harness) -> str:
    await h.start(intake("H-RUL", scenario="CH01", received_at=datetime.now(UTC)))
    await env.sleep(timedelta(hours=1))
    await tickets.update(
        h.client,
        "H-RUL",
        TicketWorkflow.rule_closure,
        RuleClosureInput(by="P-DIST-D", reason="已撤场"),
    )
    return "H-RUL"


async def repeat_call(env: WorkflowEnvironment, h: Harness) -> str:
    """A second call about one missing cover, linked at intake as a repeat call of the
    first (recorded before repeat calls waited on their primary: dispatched on its own)."""
    await h.start(intake("H-RP1", scenario="PS03", received_at=datetime.now(UTC)))
    link = IncidentLink(
        incident_id="INPS03TEST000001", kind=LinkKind.REPEAT_CALL, primary_ticket_id="H-RP1"
    )
    await h.start(
        intake(
            "H-RP2",
            scenario="PS03",
            received_at=datetime.now(UTC),
            incident=link,
            caller_phone="13900005678",
        )
    )
    for ticket in ("H-RP1", "H-RP2"):
        await fixed_and_called_back(h, ticket, "已盖好")
    return "H-RP2"


async def fixed_and_called_back(h: Harness, ticket: str, note: str) -> None:
    """The assignee accepts and fixes it; the hotline's callback finds the caller satisfied."""
    person = (await h.settled(ticket)).assignee_id
    assert person is not None
    await tickets.update(h.client, ticket, TicketWorkflow.accept, AcceptInput(person_id=person))
    await tickets.update(
        h.client, ticket, TicketWorkflow.resolve, ResolveInput(person_id=person, note=note)
    )
    await h.until_stage(ticket, Stage.VERIFYING)
    satisfied = CallbackInput(result=CallbackResult.SATISFIED, by="agent")
    await tickets.update(h.client, ticket, TicketWorkflow.callback, satisfied)


async def _primary_and_repeaters(h: Harness, prefix: str) -> None:
    """A bin room (CA01, P3) reported once and then three more times: the repeat calls wait
    on the first ticket, which steps up to P2 at the third and closes them with it."""
    now = datetime.now(UTC)
    primary = f"{prefix}P"
    first = IncidentLink(incident_id=f"INCA01{prefix}", kind=LinkKind.NEW)
    await h.start(intake(primary, scenario="CA01", received_at=now, incident=first))
    for n in range(3):
        link = IncidentLink(
            incident_id=f"INCA01{prefix}",
            kind=LinkKind.REPEAT_CALL,
            primary_ticket_id=primary,
            primary_workflow_id=tickets.workflow_id_for(primary),
        )
        await tickets.submit(
            h.client,
            intake(f"{prefix}{n}", scenario="CA01", received_at=now, incident=link),
            h.task_queue,
        )
    await h.until(lambda: h.notifier.kinds().count("urge") >= 1)
    await fixed_and_called_back(h, primary, "已清运")
    for n in range(3):
        await h.until_stage(f"{prefix}{n}", Stage.CLOSED)


async def repeat_primary(env: WorkflowEnvironment, h: Harness) -> str:
    await _primary_and_repeaters(h, "H-RQ")
    return "H-RQP"


async def repeat_waits(env: WorkflowEnvironment, h: Harness) -> str:
    await _primary_and_repeaters(h, "H-RW")
    return "H-RW1"


async def stalled_then_accepted(env: WorkflowEnvironment, h: Harness) -> str:
    """Nobody accepts a district P1: up to the director, pressed three times, stalled and
    supervised daily (a day passes), then the officer accepts (every-wait-owned)."""
    await h.start(intake("H-STL", scenario="PS01", received_at=datetime.now(UTC)))
    await env.sleep(timedelta(minutes=36))
    await env.sleep(timedelta(days=1))
    await tickets.update(h.client, "H-STL", TicketWorkflow.accept, AcceptInput(person_id="P-DEPT"))
    await tickets.update(
        h.client, "H-STL", TicketWorkflow.resolve, ResolveInput(person_id="P-DEPT")
    )
    await h.until(lambda: "callback_request" in h.notifier.kinds())
    satisfied = CallbackInput(result=CallbackResult.SATISFIED, by="agent")
    await tickets.update(h.client, "H-STL", TicketWorkflow.callback, satisfied)
    return "H-STL"


async def sensor_wait_climbs(env: WorkflowEnvironment, h: Harness) -> str:
    """A fixed gas leak whose detector stays abnormal: the verify clock's chain hands the
    wait up, then the detector recovers and the hold passes (every-wait-owned)."""
    handle = await h.start(
        intake(
            "H-SNS",
            text=None,
            source=Source.IOT,
            received_at=datetime.now(UTC),
            alarm=_event("s1", "firing", device="GAS-T01-3"),
            caller_phone=None,
        )
    )
    person = (await h.settled("H-SNS")).assignee_id
    assert person is not None
    await tickets.update(h.client, "H-SNS", TicketWorkflow.accept, AcceptInput(person_id=person))
    await tickets.update(h.client, "H-SNS", TicketWorkflow.resolve, ResolveInput(person_id=person))
    await env.sleep(timedelta(hours=2))
    await handle.signal(TicketWorkflow.alarm_event, _event("s2", "resolved", device="GAS-T01-3"))
    await env.sleep(timedelta(minutes=31))
    return "H-SNS"


async def district_extension(env: WorkflowEnvironment, h: Harness) -> str:
    """A district department's extension, decided by the duty supervisor (extension-decider)."""
    await h.start(intake("H-DXT", scenario="PS01", received_at=datetime.now(UTC)))
    accepted = await tickets.update(
        h.client, "H-DXT", TicketWorkflow.accept, AcceptInput(person_id="P-DEPT")
    )
    assert accepted.resolve_deadline is not None
    wanted = accepted.resolve_deadline + timedelta(hours=4)
    await tickets.update(
        h.client,
        "H-DXT",
        TicketWorkflow.request_extension,
        ExtensionRequest(person_id="P-DEPT", new_deadline=wanted, reason="需停气"),
    )
    await tickets.update(
        h.client,
        "H-DXT",
        TicketWorkflow.decide_extension,
        ExtensionDecision(by="P-DIST-S", approve=True),
    )
    await tickets.update(
        h.client, "H-DXT", TicketWorkflow.resolve, ResolveInput(person_id="P-DEPT")
    )
    await h.until(lambda: "callback_request" in h.notifier.kinds())
    satisfied = CallbackInput(result=CallbackResult.SATISFIED, by="agent")
    await tickets.update(h.client, "H-DXT", TicketWorkflow.callback, satisfied)
    return "H-DXT"


async def paused_for_days(env: WorkflowEnvironment, h: Harness) -> str:
    """The assignee pauses the resolve clock and nobody resumes it for three days: -v6 was
    recorded before a pause had an end (resumed after the three days), -v7 after (the
    pause runs out at two days, the one above hears); then resolved and called back."""
    await h.start(intake("H-PSD", scenario="PS03", received_at=datetime.now(UTC)))
    await tickets.update(h.client, "H-PSD", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D"))
    await tickets.update(
        h.client,
        "H-PSD",
        TicketWorkflow.pause_clock,
        PauseInput(person_id="P-T01-D", reason="等业主"),
    )
    await env.sleep(timedelta(days=3))
    if (await h.status("H-PSD")).paused:  # before pause-deadline, nothing ended the pause
        await tickets.update(
            h.client, "H-PSD", TicketWorkflow.resume_clock, ResumeInput(person_id="P-T01-D")
        )
    await tickets.update(
        h.client, "H-PSD", TicketWorkflow.resolve, ResolveInput(person_id="P-T01-D")
    )
    await h.until(lambda: "callback_request" in h.notifier.kinds())
    satisfied = CallbackInput(result=CallbackResult.SATISFIED, by="agent")
    await tickets.update(h.client, "H-PSD", TicketWorkflow.callback, satisfied)
    return "H-PSD"


async def sensor_normal_before_resolve(env: WorkflowEnvironment, h: Harness) -> str:
    """A gas detector reports normal after the officer accepted, before the fix is
    reported: the sensor check goes straight to its hold (recorded before the hold was
    shown as the verify deadline)."""
    handle = await h.start(
        intake(
            "H-SNR",
            text=None,
            source=Source.IOT,
            received_at=datetime.now(UTC),
            alarm=_event("n1", "firing", device="GAS-T01-4"),
            caller_phone=None,
        )
    )
    person = (await h.settled("H-SNR")).assignee_id
    assert person is not None
    await tickets.update(h.client, "H-SNR", TicketWorkflow.accept, AcceptInput(person_id=person))
    await handle.signal(TicketWorkflow.alarm_event, _event("n2", "resolved", device="GAS-T01-4"))
    await env.sleep(timedelta(minutes=5))
    await tickets.update(h.client, "H-SNR", TicketWorkflow.resolve, ResolveInput(person_id=person))
    await env.sleep(timedelta(minutes=31))
    return "H-SNR"


async def duty_leader_extension(env: WorkflowEnvironment, h: Harness) -> str:
    """No supervisor at the district center (its duty leader is named instead): nobody
    accepts a district P1 until the duty leader, who asks for more time; the director is
    asked and decides (extension-not-asker)."""
    await h.start(intake("H-NSV", scenario="PS01", received_at=datetime.now(UTC)))
    await env.sleep(timedelta(minutes=11))
    accepted = await tickets.update(
        h.client, "H-NSV", TicketWorkflow.accept, AcceptInput(person_id="P-DIST-L")
    )
    assert accepted.resolve_deadline is not None
    wanted = accepted.resolve_deadline + timedelta(hours=4)
    await tickets.update(
        h.client,
        "H-NSV",
        TicketWorkflow.request_extension,
        ExtensionRequest(person_id="P-DIST-L", new_deadline=wanted, reason="需停气"),
    )
    await tickets.update(
        h.client,
        "H-NSV",
        TicketWorkflow.decide_extension,
        ExtensionDecision(by="P-DIR", approve=True),
    )
    await tickets.update(
        h.client, "H-NSV", TicketWorkflow.resolve, ResolveInput(person_id="P-DIST-L")
    )
    await h.until(lambda: "callback_request" in h.notifier.kinds())
    satisfied = CallbackInput(result=CallbackResult.SATISFIED, by="agent")
    await tickets.update(h.client, "H-NSV", TicketWorkflow.callback, satisfied)
    return "H-NSV"


async def resolve_stalled(env: WorkflowEnvironment, h: Harness) -> str:
    """A district P1 accepted and not fixed: its resolve chain's last step (175 %) passes
    in vain, the resolve wait stalls and is supervised daily (a day passes), then the fix
    comes and the citizen is called back (resolve-stalls)."""
    await h.start(intake("H-RST", scenario="PS01", received_at=datetime.now(UTC)))
    await tickets.update(h.client, "H-RST", TicketWorkflow.accept, AcceptInput(person_id="P-DEPT"))
    await env.sleep(timedelta(hours=7, minutes=10))
    await env.sleep(timedelta(days=1))
    await tickets.update(
        h.client, "H-RST", TicketWorkflow.resolve, ResolveInput(person_id="P-DEPT")
    )
    await h.until(lambda: "callback_request" in h.notifier.kinds())
    satisfied = CallbackInput(result=CallbackResult.SATISFIED, by="agent")
    await tickets.update(h.client, "H-RST", TicketWorkflow.callback, satisfied)
    return "H-RST"


Scenario = Callable[[WorkflowEnvironment, Harness], Awaitable[str]]
SCENARIOS: dict[str, tuple[Scenario, bool]] = {  # name -> (scenario, on the demo organisation)
    "escalated_then_callback": (escalated_then_callback, False),
    "triaged_photo_review": (triaged_photo_review, False),
    "alarm_recovered": (alarm_recovered, False),
    "district_unaccepted": (district_unaccepted, False),
    "video_recheck": (video_recheck, False),
    "recovered_before_accept": (recovered_before_accept, False),
    "returned_and_transferred": (returned_and_transferred, True),
    "extended_and_paused": (extended_and_paused, False),
    "dismissed_late": (dismissed_late, False),
    "ruled_closed": (ruled_closed, False),
    "repeat_call": (repeat_call, False),
    "repeat_primary": (repeat_primary, False),
    "repeat_waits": (repeat_waits, False),
    "stalled_then_accepted": (stalled_then_accepted, False),
    "sensor_wait_climbs": (sensor_wait_climbs, False),
    "district_extension": (district_extension, False),
    "paused_for_days": (paused_for_days, False),
    "sensor_normal_before_resolve": (sensor_normal_before_resolve, False),
    "duty_leader_extension": (duty_leader_extension, False),
    "resolve_stalled": (resolve_stalled, False),
}
# Scenarios on a variant of the fake organisation (activities/testing.py).
ROUTERS: dict[str, FakeRouter] = {"duty_leader_extension": NoSupervisorRouter()}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--suffix", default="", help="appended to each file's name, e.g. -v3")
    parser.add_argument("scenarios", nargs="*", default=[], help=", ".join(SCENARIOS))
    args = parser.parse_args()
    HISTORIES.mkdir(parents=True, exist_ok=True)
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {', '.join(SCENARIOS)}")
    for name in args.scenarios or list(SCENARIOS):
        scenario, demo_org = SCENARIOS[name]
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=TEST_SERVER, data_converter=pydantic_data_converter
        )
        await sa.register(env.client, "default")
        async with running(env, demo_org=demo_org, router=ROUTERS.get(name)) as h:
            ticket_id = await scenario(env, h)
            handle = h.client.get_workflow_handle(tickets.workflow_id_for(ticket_id))
            await handle.result()
            history = await handle.fetch_history()
            path = HISTORIES / f"{ticket_id}{args.suffix}.json"
            if path.exists():
                print(f"kept {path}: it exists (choose another --suffix)")
            else:
                path.write_text(history.to_json())
                print(f"recorded {path} ({len(history.events)} events)")
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
