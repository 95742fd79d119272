"""Record TicketWorkflow histories for the replay test.

    .venv/bin/python -m tests.workflows.record_histories [SUFFIX]

SUFFIX names the change (H-ESC-SUFFIX.json), so the histories of earlier versions stay.

Run it only when a workflow change is meant to be incompatible (and then version the
workflow with workflow.patched for tickets in flight); the stored histories are what
the replay test holds every later change to.

Histories are recorded without the encryption codec (the callers in them are made up):
a stored encrypted history would need its key stored beside it, and keys never live in
the repository. The replay test reads them through the workers' converter, whose codec
passes unencrypted payloads through.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from cityops.domain.models import (
    AcceptInput,
    AfterPhoto,
    AlarmEvent,
    CallbackInput,
    ResolveInput,
    ReviewInput,
    TriageDecision,
)
from cityops.domain.stages import CallbackResult, ReviewDecision, Source
from cityops.service import tickets
from cityops.workflows import search_attributes as sa
from tests.conftest import TEST_SERVER
from tests.workflows.harness import Harness, intake, running

HISTORIES = Path(__file__).parent.parent / "data" / "histories"


async def escalated_then_callback(env: WorkflowEnvironment, h: Harness) -> str:
    now = datetime.now(UTC)
    await h.start(intake("H-ESC", scenario="SC01", received_at=now))
    await env.sleep(timedelta(minutes=6))
    await tickets.update(h.client, "H-ESC", "accept", AcceptInput(person_id="P-T01-D"))
    await tickets.update(
        h.client, "H-ESC", "resolve", ResolveInput(person_id="P-T01-D", note="已上门")
    )
    unhappy = CallbackInput(result=CallbackResult.UNSATISFIED, by="agent")
    await h.until(lambda: "callback_request" in h.notifier.kinds())
    await tickets.update(h.client, "H-ESC", "callback", unhappy)
    await h.until(lambda: "reopened" in h.notifier.kinds())
    await tickets.update(
        h.client, "H-ESC", "resolve", ResolveInput(person_id="P-T01-D", note="再次上门")
    )
    await tickets.update(
        h.client, "H-ESC", "callback", CallbackInput(result=CallbackResult.SATISFIED, by="agent")
    )
    return "H-ESC"


async def triaged_photo_review(env: WorkflowEnvironment, h: Harness) -> str:
    now = datetime.now(UTC)
    await h.start(intake("H-TRI", text="喂喂听得到吗", received_at=now, lat=31.2051, lon=121.6003))
    await h.settled("H-TRI")
    await tickets.update(
        h.client, "H-TRI", "classify", TriageDecision(scenario_id="PS04", by="P-DIST-D")
    )
    await h.settled("H-TRI")
    await tickets.update(h.client, "H-TRI", "accept", AcceptInput(person_id="P-T01-D"))
    photo = AfterPhoto(
        url="https://img/1.jpg", taken_at=now + timedelta(minutes=1), lat=31.2051, lon=121.6003
    )
    await tickets.update(
        h.client, "H-TRI", "resolve", ResolveInput(person_id="P-T01-D", photo=photo)
    )
    await tickets.update(
        h.client, "H-TRI", "review", ReviewInput(decision=ReviewDecision.APPROVED, by="P-DIST-D")
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
    await handle.signal("alarm_event", event("e2", "firing"))
    await tickets.update(h.client, "H-GAS", "accept", AcceptInput(person_id=person))
    await tickets.update(h.client, "H-GAS", "resolve", ResolveInput(person_id=person, note="关阀"))
    await handle.signal("alarm_event", event("e3", "resolved"))
    await env.sleep(timedelta(hours=1))
    return "H-GAS"


async def main(suffix: str = "") -> None:
    HISTORIES.mkdir(parents=True, exist_ok=True)
    for scenario in (escalated_then_callback, triaged_photo_review, alarm_recovered):
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=TEST_SERVER, data_converter=pydantic_data_converter
        )
        await sa.register(env.client, "default")
        async with running(env) as h:
            ticket_id = await scenario(env, h)
            handle = h.client.get_workflow_handle(tickets.workflow_id_for(ticket_id))
            await handle.result()
            history = await handle.fetch_history()
            path = HISTORIES / f"{ticket_id}{suffix}.json"
            path.write_text(history.to_json())
            print(f"recorded {path} ({len(history.events)} events)")
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main(f"-{sys.argv[1]}" if len(sys.argv) > 1 else ""))
