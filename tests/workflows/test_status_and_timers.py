"""The `status_and_timers` query names the timers the ticket's history shows pending (the
simulation lets them fire with it instead of reading the history), at every stage of a
ticket's life, a pause included."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from cityops.domain.models import AcceptInput, PauseInput, StatusAndTimers, StatusInput
from cityops.service import tickets
from cityops.simulation.run import pending_timers
from cityops.workflows.ticket import TicketWorkflow
from tests.workflows.harness import Harness, intake

PERSON = "P-T01-D"


async def both(handle: WorkflowHandle[Any, Any]) -> tuple[StatusAndTimers, list[datetime]]:
    answer: StatusAndTimers = await handle.query(
        TicketWorkflow.status_and_timers, StatusInput(include_history=False)
    )
    history = await handle.fetch_history()
    return answer, pending_timers(history.events)


def same(queried: list[datetime], pending: list[datetime]) -> bool:
    """The workflow's instant of a timer is its task's time; the history's, the moment the
    server recorded it: a few milliseconds apart."""
    return len(queried) == len(pending) and all(
        abs(q - p) < timedelta(seconds=2) for q, p in zip(queried, pending, strict=True)
    )


async def test_the_query_names_the_timers_the_history_shows_pending(
    env: WorkflowEnvironment, h: Harness
) -> None:
    handle = await h.start(intake("Q-1", scenario="PS03", received_at=await env.get_current_time()))
    await h.settled("Q-1")
    answer, pending = await both(handle)
    assert answer.status.ticket_id == "Q-1" and answer.status.history == []
    assert answer.timers and same(answer.timers, pending)  # the accept chain's next point
    await tickets.update(h.client, "Q-1", TicketWorkflow.accept, AcceptInput(person_id=PERSON))
    await env.sleep(timedelta(minutes=10))
    answer, pending = await both(handle)
    assert answer.timers and same(answer.timers, pending)  # resolve and contact clocks
    await tickets.update(
        h.client, "Q-1", TicketWorkflow.pause_clock, PauseInput(person_id=PERSON, reason="等")
    )
    answer, pending = await both(handle)
    assert answer.status.paused and answer.timers and same(answer.timers, pending)
