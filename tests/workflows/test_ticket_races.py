"""Updates that await hold the ticket's lock: an accept that arrives while a return is
re-routing acts on the ticket the return left, and is refused, instead of the return
overwriting an acceptance (issue 12)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from cityops.activities.dispatch import DispatchActivities
from cityops.activities.grouping import NoticeGroupActivities
from cityops.activities.route import RoutingActivities
from cityops.activities.testing import RecordingNotifier, RecordingStore
from cityops.domain.models import (
    AcceptInput,
    ReturnInput,
    ReturnReason,
    ReturnReasonCode,
    ReturnRequest,
    RoutePlan,
    TicketStatus,
)
from cityops.domain.stages import Stage
from cityops.org.routing import OrgRouter
from cityops.service import tickets
from cityops.service.tickets import TicketRejected
from cityops.workers.main import build_worker
from cityops.workflows.ticket import TicketWorkflow
from tests.conftest import fresh_queue
from tests.workflows.harness import Harness, advance_to_local_hour, intake

WHY = ReturnReason(code=ReturnReasonCode.NOT_OUR_JURISDICTION, suggested_unit="T02")


class GatedRouting:
    """The demo organisation's routing, with returns held until the test lets them go."""

    def __init__(self, router: OrgRouter) -> None:
        self._routing = RoutingActivities(router)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    @activity.defn(name="return_ticket")
    async def return_ticket(self, request: ReturnRequest) -> RoutePlan:
        self.entered.set()
        await self.release.wait()
        return self._routing.return_ticket(request)


@pytest.fixture
async def gated(env: WorkflowEnvironment) -> AsyncIterator[tuple[Harness, GatedRouting]]:
    router = OrgRouter.demo()
    routing = GatedRouting(router)
    queue = fresh_queue()
    notifier, store = RecordingNotifier(), RecordingStore()
    activities: list[Any] = [
        routing.return_ticket,
        RoutingActivities(router).transfer_ticket,
        *DispatchActivities(router=router).activities(),
        notifier.send_notice,
        *store.activities(),
        NoticeGroupActivities().group_notice,
    ]
    async with build_worker(env.client, queue, activities, check_workflow_code=True):
        yield Harness(env, env.client, queue, notifier, store), routing


async def test_an_accept_arriving_during_a_return_is_refused_after_it(
    env: WorkflowEnvironment, gated: tuple[Harness, GatedRouting]
) -> None:
    h, routing = gated
    received = await advance_to_local_hour(env, 11)
    await h.start(intake("RACE-1", scenario="CH01", received_at=received))
    person = (await h.settled("RACE-1")).assignee_id
    assert person is not None
    returning = asyncio.create_task(
        tickets.update(
            h.client,
            "RACE-1",
            TicketWorkflow.return_ticket,
            ReturnInput(person_id=person, reason=WHY),
        )
    )
    await routing.entered.wait()  # the return is re-routing, its activity not done
    accepting = asyncio.create_task(
        tickets.update(h.client, "RACE-1", TicketWorkflow.accept, AcceptInput(person_id=person))
    )
    await asyncio.sleep(0.5)  # the accept passed its validator and waits for the lock
    assert not accepting.done()
    routing.release.set()
    returned = await returning
    with pytest.raises(TicketRejected, match=f"{person} is not assigned"):
        await accepting
    status = await h.status("RACE-1")
    assert status.stage is Stage.AWAITING_ACCEPT and status.returns == 1
    assert status.assignee_id == returned.assignee_id != person
    assert (status.assignee_id or "").startswith("P-T02")


@pytest.mark.parametrize("order", ["accept first", "return first"])
async def test_accept_and_return_racing_leave_one_consistent_ticket(
    env: WorkflowEnvironment, gated: tuple[Harness, GatedRouting], order: str
) -> None:
    h, routing = gated
    routing.release.set()  # no hold: the two updates race freely
    received = await advance_to_local_hour(env, 11)
    ticket = f"RACE-{order[0]}"
    await h.start(intake(ticket, scenario="CH01", received_at=received))
    person = (await h.settled(ticket)).assignee_id
    assert person is not None
    accept = tickets.update(h.client, ticket, TicketWorkflow.accept, AcceptInput(person_id=person))
    back = tickets.update(
        h.client, ticket, TicketWorkflow.return_ticket, ReturnInput(person_id=person, reason=WHY)
    )
    both = [accept, back] if order == "accept first" else [back, accept]
    results = await asyncio.gather(*both, return_exceptions=True)
    won = [r for r in results if isinstance(r, TicketStatus)]
    lost = [r for r in results if isinstance(r, TicketRejected)]
    assert len(won) == 1 and len(lost) == 1, results
    status = await h.status(ticket)
    if status.stage is Stage.ACCEPTED:  # the accept won: nobody re-routed it afterwards
        assert (status.assignee_id, status.returns) == (person, 0)
    else:  # the return won: the accept was refused, not applied to the new assignee
        assert status.stage is Stage.AWAITING_ACCEPT and status.returns == 1
        assert status.assignee_id != person
