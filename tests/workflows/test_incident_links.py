"""Incidents in the ticket workflow (docs/incidents.md), in the time-skipping server: a
repeat call waits on its primary, which hears of it (a citizen 催办 to its assignee), steps
its urgency up by the scenario's rule and closes its callers' tickets with it; an alarm
ticket linked to an incident after it started is listed under it and groups its
follow-ups by it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from cityops.domain.incidents import IncidentJoined
from cityops.domain.models import (
    AcceptInput,
    CallbackInput,
    IncidentLink,
    ResolveInput,
    TicketIntake,
    TicketStatus,
)
from cityops.domain.stages import CallbackResult, LinkKind, Priority, Reader, Stage
from cityops.service import tickets
from cityops.workflows import search_attributes as sa
from cityops.workflows.incident_link import IncidentLinks
from cityops.workflows.ticket import PRIMARY_CHECK, TicketWorkflow
from tests.conftest import eventually
from tests.workflows.alarm_tickets import device_event, start_alarm, state, until
from tests.workflows.harness import Harness, advance_to_plain_week, intake

INCIDENT = "INCA01TEST00001"
# CA01 is P3: its clocks count working time. The tickets start at 10:00 Shanghai on a plain
# Wednesday (advance_to_plain_week), so a weekend or holiday on the wall clock does not
# change what their clocks do (e.g. whether a caller dispatched six hours on is escalated).


def repeat(
    ticket_id: str,
    received_at: datetime,
    *,
    primary: str = "L-PRI",
    text: str = "垃圾房又满了",
    caller_phone: str = "13800009999",
) -> TicketIntake:
    link = IncidentLink(
        incident_id=INCIDENT,
        kind=LinkKind.REPEAT_CALL,
        primary_ticket_id=primary,
        primary_workflow_id=tickets.workflow_id_for(primary),
    )
    return intake(
        ticket_id,
        scenario="CA01",
        text=text,
        received_at=received_at,
        incident=link,
        caller_phone=caller_phone,
    )


async def details(handle: WorkflowHandle[Any, Any]) -> str:
    """What the Temporal UI shows of the ticket (its current details)."""
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return str(metadata.current_details)


async def waiting(h: Harness, ticket_id: str) -> TicketStatus:
    async def check() -> TicketStatus:
        status = await h.status(ticket_id)
        assert status.incident is not None and status.incident.waiting_on_primary
        return status

    return await eventually(check)


async def test_repeat_calls_wait_on_the_primary_step_it_up_and_close_with_it(
    env: WorkflowEnvironment, h: Harness
) -> None:
    received = await advance_to_plain_week(env)
    first = IncidentLink(incident_id=INCIDENT, kind=LinkKind.NEW)
    await h.start(intake("L-PRI", scenario="CA01", received_at=received, incident=first))
    before = await h.settled("L-PRI")
    assert before.priority is Priority.P3 and before.accept_deadline is not None
    person = before.assignee_id
    assert person is not None

    long_text = "垃圾房满了没人清运，" * 40  # 400 characters: the primary keeps the start
    calls = [
        repeat("L-RP1", received, text=long_text, caller_phone="13800001111"),
        repeat("L-RP2", received, caller_phone="13800002222"),
        repeat("L-RP3", received, caller_phone="13800003333"),
    ]
    for call in calls:
        await tickets.submit(h.client, call, h.task_queue)
        status = await waiting(h, call.ticket_id)
        # Not dispatched on its own: nobody is assigned, no accept clock runs.
        assert status.stage is Stage.CLASSIFIED and status.assignee_id is None
        assert status.accept_deadline is None and status.incident is not None
        assert status.incident.primary_ticket_id == "L-PRI"

    async def stepped() -> TicketStatus:
        status = await h.status("L-PRI")
        assert status.incident is not None and status.incident.repeat_calls == 3
        assert status.priority is Priority.P2  # CA01: one step at every third repeat call
        return status

    after = await eventually(stepped)
    assert after.incident is not None and after.incident.stepped_up_from is Priority.P3
    assert [c.ticket_id for c in after.incident.latest_calls] == ["L-RP1", "L-RP2", "L-RP3"]
    kept = after.incident.latest_calls[0]
    assert kept.caller_phone_masked == "138****1111" and kept.text is not None
    assert len(kept.text) <= 200 and long_text.startswith(kept.text[:-1])
    # The P2 accept budget (30 minutes) from the ticket's start ends before the P3 one.
    assert after.accept_deadline is not None and after.accept_deadline < before.accept_deadline
    assert after.accept_deadline == received + timedelta(minutes=30)
    events = [e.event for e in after.history]
    assert events.count("repeat_call") == 3 and "stepped_up" in events

    # The assignee is told that citizens are calling again: the first at once, the next
    # ones of the incident grouped in one message (rules/sla.yaml notices.group_window).
    await env.sleep(timedelta(minutes=2, seconds=10))
    urges = [
        n
        for n in h.notifier.notices
        if n.kind.value in ("urge", "grouped") and n.ticket_id in ("L-PRI",)
    ]
    assert urges, h.notifier.kinds()
    said = [n.facts.get("note", "") for n in urges] + [
        i.facts.get("note", "") for n in urges for i in n.items
    ]
    assert any("第1位市民再次来电" in note for note in said)
    assert any("优先级由 P3 升为 P2" in note for note in said)
    assert all(r.person_id == person for n in urges for r in n.recipients)

    await tickets.update(h.client, "L-PRI", TicketWorkflow.accept, AcceptInput(person_id=person))
    await tickets.update(
        h.client, "L-PRI", TicketWorkflow.resolve, ResolveInput(person_id=person, note="已清运")
    )
    await h.until_stage("L-PRI", Stage.VERIFYING)
    satisfied = CallbackInput(result=CallbackResult.SATISFIED, by="agent")
    await tickets.update(h.client, "L-PRI", TicketWorkflow.callback, satisfied)

    for call in calls:  # each caller's ticket closes with the primary's verified outcome
        closed = await h.until_stage(call.ticket_id, Stage.CLOSED)
        last = closed.history[-1]
        assert last.event == "closed_with_primary" and "L-PRI" in last.detail
        assert "已清运" in last.detail
    # ... and each caller is called back on their own ticket: the hotline is told per caller.
    await h.until(
        lambda: (
            {
                n.ticket_id
                for n in h.notifier.notices
                if n.kind.value == "closed"
                and any(r.reader is Reader.HOTLINE for r in n.recipients)
            }
            >= {"L-PRI", "L-RP1", "L-RP2", "L-RP3"}
        )
    )
    told = next(
        n for n in h.notifier.notices if n.kind.value == "closed" and n.ticket_id == "L-RP2"
    )
    assert told.facts["resolution"] == "已清运" and told.facts["primary_ticket"] == "L-PRI"


async def test_a_repeat_call_whose_primary_is_gone_is_a_ticket_of_its_own(
    env: WorkflowEnvironment, h: Harness
) -> None:
    received = await advance_to_plain_week(env)
    await tickets.submit(h.client, repeat("L-ORF", received, primary="L-GONE"), h.task_queue)
    status = await h.settled("L-ORF")  # dispatched like any ticket
    assert status.assignee_id is not None and status.stage is Stage.AWAITING_ACCEPT
    assert "primary_gone" in [e.event for e in status.history]
    assert status.incident is not None and not status.incident.waiting_on_primary


async def test_a_repeat_call_whose_primary_was_terminated_is_dispatched_at_the_next_check(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """A primary ended by hand tells nobody: the waiting caller finds out at its next check
    and is handled as a ticket of its own, not left waiting for ever."""
    received = await advance_to_plain_week(env)
    first = IncidentLink(incident_id=INCIDENT, kind=LinkKind.NEW)
    handle = await h.start(intake("L-END", scenario="CA01", received_at=received, incident=first))
    await tickets.submit(h.client, repeat("L-LEFT", received, primary="L-END"), h.task_queue)
    await waiting(h, "L-LEFT")
    # The primary's citizen 催办 (an urge to its assignee) is delivered first: a notice
    # activity left in flight by the termination holds the time-skipping server's clock
    # until its timeout, and a skip then fails with "Timeout expired".
    await h.until(lambda: "urge" in h.notifier.kinds())
    await handle.terminate("ended by hand")
    # In steps: one six-hour skip makes the server fire every open ticket's timers in one
    # call, which can outlast the call's own deadline on a loaded machine.
    for _ in range(7):
        await env.sleep((PRIMARY_CHECK + timedelta(minutes=1)) / 7)
    status = await h.settled("L-LEFT")
    # Dispatched, and its clock ran from the call: six hours on, it is already escalated.
    assert status.stage in (Stage.AWAITING_ACCEPT, Stage.ESCALATED)
    assert status.assignee_id is not None
    assert "primary_gone" in [e.event for e in status.history]
    assert status.incident is not None and not status.incident.waiting_on_primary


async def test_a_repeat_call_told_twice_counts_once(env: WorkflowEnvironment, h: Harness) -> None:
    """A signal sent twice (a retried submission) counts once."""
    received = await advance_to_plain_week(env)
    first = IncidentLink(incident_id=INCIDENT, kind=LinkKind.NEW)
    handle = await h.start(intake("L-ONE", scenario="CA01", received_at=received, incident=first))
    call = repeat("L-TWO", received, primary="L-ONE")
    await tickets.submit(h.client, call, h.task_queue)
    await waiting(h, "L-TWO")
    again = IncidentLinks.call_of(call, tickets.workflow_id_for("L-TWO"), None, received)
    await handle.signal(TicketWorkflow.repeat_call, again)

    async def counted() -> None:
        status = await h.status("L-ONE")
        assert status.incident is not None and status.incident.repeat_calls == 1
        assert [e.event for e in status.history].count("repeat_call") == 1

    await eventually(counted)
    # The UI's details show it at once: one step-up needs three calls, so no stage change
    # would have refreshed them.
    shown = await details(handle)
    assert f"| incident | {INCIDENT} |" in shown and "| called again | 1 time(s) |" in shown
    assert "L-TWO · 138****9999" in shown
    caller = h.client.get_workflow_handle_for(TicketWorkflow.run, tickets.workflow_id_for("L-TWO"))
    assert f"| incident | {INCIDENT} (a repeat call), waits on L-ONE |" in await details(caller)


async def test_alarm_tickets_linked_after_start_are_listed_and_grouped_by_incident(
    env: WorkflowEnvironment, h: Harness
) -> None:
    """Two gas alarms (PS01 has no grouping rule of its own) that the intake put into one
    incident after they started: both carry TicketIncident, and their escalations to one
    officer go out as one incident's follow-ups: the first at once, the other grouped."""
    received = (await env.get_current_time()).astimezone(UTC)
    handles = []
    for n in range(2):
        gas = device_event(
            f"g{n}", "firing", device=f"GAS-L{n}", sensor="gas_detector", metric="lel_percent"
        )
        handles.append(await start_alarm(h, gas, received))
    for handle in handles:
        await until(handle, lambda s: s.assignee_id is not None)
        await handle.signal(
            TicketWorkflow.incident_linked, IncidentJoined(incident_id="INPS01LATE1")
        )
    for handle in handles:
        status = await until(handle, lambda s: s.incident is not None)
        described = await handle.describe()
        assert described.typed_search_attributes.get(sa.INCIDENT) == ["INPS01LATE1"]
        assert status.incident is not None and status.incident.incident_ids == ["INPS01LATE1"]
        assert "| incident | INPS01LATE1 |" in await details(handle)

    await env.sleep(timedelta(minutes=5, seconds=20))  # neither is accepted: urged, escalated
    officer = (await state(handles[0])).assignee_id
    assert officer is not None and officer == (await state(handles[1])).assignee_id
    await env.sleep(timedelta(minutes=2, seconds=10))  # the group's window ends
    # Without the link each ticket would urge and escalate to the officer on its own (PS01
    # groups nothing): four messages. With it, the first follow-up at once, the rest as one.
    to_officer = [
        n for n in h.notifier.notices if any(r.person_id == officer for r in n.recipients)
    ]
    followups = [n for n in to_officer if n.kind.value != "assigned"]
    assert [n.kind.value for n in followups] == ["urge", "grouped"]
    assert followups[0].group_key == "incident:INPS01LATE1"
    grouped = followups[1]
    assert {i.kind.value for i in grouped.items} >= {"escalated"}
    ids = {(await state(handle)).ticket_id for handle in handles}
    assert {followups[0].ticket_id, *(i.ticket_id for i in grouped.items)} == ids
