"""No update can push a ticket over Temporal's payload or history limits: notes over their
limit sent around the API are refused by the update's validator (never written), a
hundred and more urges at the limit leave the ticket answering queries and updates with
a bounded status, its timers still fire, and past the history budget an action that only
repeats is refused while the ones that move the ticket on are still taken."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from cityops.domain import limits
from cityops.domain.models import AcceptInput, PauseInput, ResolveInput, UrgeInput
from cityops.domain.stages import Stage
from cityops.service import tickets
from cityops.service.tickets import TicketRejected
from cityops.workflows.history import (
    ANSWER_DETAIL_CHARS,
    ANSWER_LAST,
    SHOWN_FIRST,
    SHOWN_LAST,
    TRIMMED_EVENT,
)
from cityops.workflows.ticket import TicketWorkflow
from tests.workflows.harness import Harness, intake

URGES = 120
# An update's answer (the ticket's status, written into its history) stays far below
# Temporal's 2 MiB payload limit; the status query's answer (not written anywhere) below
# the 4 MiB a gRPC message may carry.
ANSWER_BYTES = 128 * 1024
QUERY_BYTES = 1024 * 1024


def now() -> datetime:
    return datetime.now(UTC)


async def test_many_and_oversized_notes_leave_the_ticket_healthy(
    env: WorkflowEnvironment, h: Harness
) -> None:
    await h.start(intake("B-1", scenario="PS03", received_at=now()))  # P1: resolve in 4 h
    await tickets.update(h.client, "B-1", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D"))

    # Around the API (Temporal's own client, nothing validated on the way): refused by the
    # update's validator, naming the field, and never written to the ticket.
    sneaked = UrgeInput.model_construct(by="P-DIST-D", note="催" * 100_000)
    for _ in range(3):
        with pytest.raises(TicketRejected, match=r"^note: String should have at most 2000"):
            await tickets.update(h.client, "B-1", TicketWorkflow.urge, sneaked)
    long_by = UrgeInput.model_construct(by="P" * 65, note="")
    with pytest.raises(TicketRejected, match=r"^by: String should have at most 64"):
        await tickets.update(h.client, "B-1", TicketWorkflow.urge, long_by)
    assert not any(e.event == "urged" for e in (await h.status("B-1")).history)

    # Many urges, each note at its limit: every one answers, with a bounded status.
    for index in range(URGES):
        note = f"{index:03d} " + "催" * (limits.NOTE.max_length - 4)
        answer = await tickets.update(
            h.client, "B-1", TicketWorkflow.urge, UrgeInput(by="P-DIST-D", note=note)
        )
        assert len(answer.model_dump_json().encode()) < ANSWER_BYTES
    # An answer carries the last rows, details as the register keeps them (it is written
    # into the ticket's history once per action); the status query the first and last.
    assert len(answer.history) == 1 + ANSWER_LAST and answer.history[0].event == TRIMMED_EVENT
    last = answer.history[-1]
    assert last.event == "urged" and last.detail.startswith(f"{URGES - 1} ")
    assert len(last.detail) == ANSWER_DETAIL_CHARS and last.detail.endswith("characters in all]")
    status = await h.status("B-1")
    assert len(status.history) == SHOWN_FIRST + 1 + SHOWN_LAST
    gap = status.history[SHOWN_FIRST]
    assert gap.event == TRIMMED_EVENT and gap.count > URGES - SHOWN_LAST - SHOWN_FIRST
    assert len(status.history[-1].detail) == limits.NOTE.max_length  # a note is kept whole
    assert len(status.model_dump_json().encode()) < QUERY_BYTES
    assert h.notifier.to("P-T01-D").count("urge") == URGES
    handle = h.client.get_workflow_handle(tickets.workflow_id_for("B-1"))
    history = await handle.fetch_history()
    size = sum(event.ByteSize() for event in history.events)
    print(f"{URGES} urges at the note limit: {len(history.events)} events, {size // 1024} KiB")
    assert size < limits.HISTORY_BYTES_BUDGET

    # The timers still fire: the resolve clock's reminder at 80% of its 4 hours.
    assert "reminder" not in h.notifier.to("P-T01-D")
    await env.sleep(timedelta(hours=3, minutes=15))
    assert "reminder" in h.notifier.to("P-T01-D")
    assert (await h.status("B-1")).sla_colour == "yellow"
    resolved = await tickets.update(
        h.client, "B-1", TicketWorkflow.resolve, ResolveInput(person_id="P-T01-D", note="已处置")
    )
    assert resolved.stage is Stage.RESOLVED


async def test_past_the_history_budget_only_actions_that_move_the_ticket_are_taken(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await h.start(intake("B-2", scenario="PS03", received_at=now()))
    await tickets.update(h.client, "B-2", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D"))
    handle = h.client.get_workflow_handle(tickets.workflow_id_for("B-2"))
    events = len((await handle.fetch_history()).events)
    monkeypatch.setattr(limits, "HISTORY_EVENTS_BUDGET", events + 20)
    urge = UrgeInput(by="P-DIST-D", note="尽快")
    taken = 0
    with pytest.raises(TicketRejected, match="history is long"):
        for _ in range(20):
            await tickets.update(h.client, "B-2", TicketWorkflow.urge, urge)
            taken += 1
    assert 0 < taken < 20
    with pytest.raises(TicketRejected, match="history is long"):
        await tickets.update(
            h.client,
            "B-2",
            TicketWorkflow.pause_clock,
            PauseInput(person_id="P-T01-D", reason="等"),
        )
    resolved = await tickets.update(
        h.client, "B-2", TicketWorkflow.resolve, ResolveInput(person_id="P-T01-D", note="已处置")
    )
    assert resolved.stage is Stage.RESOLVED
