"""Returns (退单), transfers and extensions (延期) on the seeded demo organisation."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from cityops.domain.models import (
    AcceptInput,
    ExtensionDecision,
    ExtensionRequest,
    ReconsiderationDecision,
    ReconsiderationRequest,
    ReturnInput,
    ReturnReason,
    ReturnReasonCode,
    TransferInput,
)
from cityops.domain.stages import Stage, Tier
from cityops.org.routing import OrgRouter
from cityops.service import tickets
from cityops.service.tickets import TicketRejected
from cityops.workflows.ticket import TicketWorkflow
from tests.workflows.harness import (
    Harness,
    advance_to_local_hour,
    advance_to_plain_week,
    intake,
    on_duty_district_dispatcher,
)

# Shanghai hours inside each of the seeded district shifts (00-08, 08-16, 16-24): the
# shift-dependent flows must pass whichever dispatcher is on duty.
LOCAL_HOURS = [3, 11, 19]
# The flows that name no on-duty person still run at one known instant, 11:00 Shanghai on
# a plain Wednesday, not at the wall clock's: who is assigned changes with the hour.
PLAIN_HOUR = 11


async def test_return_naming_the_right_unit_reroutes_there_and_keeps_the_clock(
    env: WorkflowEnvironment, demo: Harness
) -> None:
    received = await advance_to_plain_week(env, hour=PLAIN_HOUR)
    await demo.start(intake("R-1", scenario="CH01", received_at=received))
    first = await demo.settled("R-1")
    assert first.street_code == "T01" and first.assignee_id is not None
    reason = ReturnReason(
        code=ReturnReasonCode.NOT_OUR_JURISDICTION, note="地址在川沙", suggested_unit="T02"
    )
    returned = await tickets.update(
        demo.client,
        "R-1",
        TicketWorkflow.return_ticket,
        ReturnInput(person_id=first.assignee_id, reason=reason),
    )
    assert returned.assignee_id is not None and returned.assignee_id.startswith("P-T02")
    assert returned.returns == 1 and returned.stage is Stage.AWAITING_ACCEPT
    assert returned.accept_deadline == first.accept_deadline  # the clock does not restart
    assert "returned" in demo.notifier.to(returned.assignee_id)
    with pytest.raises(TicketRejected, match="is not assigned"):
        await tickets.update(
            demo.client, "R-1", TicketWorkflow.accept, AcceptInput(person_id=first.assignee_id)
        )


async def test_second_return_goes_to_the_district_for_a_final_ruling(
    env: WorkflowEnvironment, demo: Harness
) -> None:
    received = await advance_to_plain_week(env, hour=PLAIN_HOUR)
    await demo.start(intake("R-2", scenario="CH01", received_at=received))
    status = await demo.settled("R-2")
    for _ in range(2):
        assert status.assignee_id is not None
        reason = ReturnReason(code=ReturnReasonCode.NOT_OUR_DUTY, note="不归我们管")
        status = await tickets.update(
            demo.client,
            "R-2",
            TicketWorkflow.return_ticket,
            ReturnInput(person_id=status.assignee_id, reason=reason),
        )
    assert status.returns == 2 and status.tier is Tier.DISTRICT
    history = [e.event for e in status.history]
    assert history.count("returned") == 2


@pytest.mark.parametrize("hour", LOCAL_HOURS)
async def test_transfer_by_a_dispatcher_is_recorded_and_others_are_refused(
    env: WorkflowEnvironment, demo: Harness, hour: int
) -> None:
    received = await advance_to_local_hour(env, hour)
    dispatcher = on_duty_district_dispatcher(received)
    await demo.start(intake("R-3", scenario="CH01", received_at=received))
    await demo.settled("R-3")
    with pytest.raises(TicketRejected, match="may not transfer"):
        await tickets.update(
            demo.client,
            "R-3",
            TicketWorkflow.transfer,
            TransferInput(by="P-NOBODY", target_unit="T05", reason="错派"),
        )
    moved = await tickets.update(
        demo.client,
        "R-3",
        TicketWorkflow.transfer,
        TransferInput(by=dispatcher, target_unit="T05", reason="属地在T05"),
    )
    assert moved.street_code == "T05" or (moved.assignee_id or "").startswith("P-T05")
    assert any(e.event == "transferred" and e.by == dispatcher for e in moved.history)


@pytest.mark.parametrize("hour", LOCAL_HOURS)
async def test_approved_extension_moves_the_resolve_deadline_and_limits_apply(
    env: WorkflowEnvironment, demo: Harness, hour: int
) -> None:
    received = await advance_to_local_hour(env, hour)
    dispatcher = on_duty_district_dispatcher(received)
    await demo.start(intake("X-1", scenario="PS03", received_at=received))  # P1: 4 h to resolve
    person = (await demo.settled("X-1")).assignee_id
    assert person is not None
    accepted = await tickets.update(
        demo.client, "X-1", TicketWorkflow.accept, AcceptInput(person_id=person)
    )
    old = accepted.resolve_deadline
    assert old is not None
    with pytest.raises(TicketRejected, match="no extension request"):
        await tickets.update(
            demo.client,
            "X-1",
            TicketWorkflow.decide_extension,
            ExtensionDecision(by=dispatcher, approve=True),
        )
    with pytest.raises(TicketRejected, match=r"new_deadline must be after .* \(UTC\+8\)"):
        await tickets.update(
            demo.client,
            "X-1",
            TicketWorkflow.request_extension,
            ExtensionRequest(person_id=person, new_deadline=old - timedelta(hours=1), reason="x"),
        )
    wanted = old + timedelta(hours=8)
    await tickets.update(
        demo.client,
        "X-1",
        TicketWorkflow.request_extension,
        ExtensionRequest(person_id=person, new_deadline=wanted, reason="需更换井座"),
    )
    assert "extension_requested" in demo.notifier.to(dispatcher)
    with pytest.raises(TicketRejected, match="may not decide"):
        await tickets.update(
            demo.client,
            "X-1",
            TicketWorkflow.decide_extension,
            ExtensionDecision(by=person, approve=True),
        )
    decided = await tickets.update(
        demo.client,
        "X-1",
        TicketWorkflow.decide_extension,
        ExtensionDecision(by=dispatcher, approve=True, note="同意"),
    )
    assert decided.extensions == 1 and decided.resolve_deadline is not None
    assert abs((decided.resolve_deadline - wanted).total_seconds()) < 1
    assert "extension_decided" in demo.notifier.to("hotline")  # the citizen is told

    await env.sleep(timedelta(hours=5))  # past the old deadline, before the new one
    assert not (await demo.status("X-1")).overdue
    await env.sleep(timedelta(hours=8))
    assert (await demo.status("X-1")).overdue


@pytest.mark.parametrize("hour", LOCAL_HOURS)
async def test_rejected_extension_keeps_the_deadline(
    env: WorkflowEnvironment, demo: Harness, hour: int
) -> None:
    received = await advance_to_local_hour(env, hour)
    dispatcher = on_duty_district_dispatcher(received)
    await demo.start(intake("X-2", scenario="PS03", received_at=received))
    person = (await demo.settled("X-2")).assignee_id
    assert person is not None
    accepted = await tickets.update(
        demo.client, "X-2", TicketWorkflow.accept, AcceptInput(person_id=person)
    )
    assert accepted.resolve_deadline is not None
    await tickets.update(
        demo.client,
        "X-2",
        TicketWorkflow.request_extension,
        ExtensionRequest(
            person_id=person,
            new_deadline=accepted.resolve_deadline + timedelta(days=1),
            reason="等材料",
        ),
    )
    decided = await tickets.update(
        demo.client,
        "X-2",
        TicketWorkflow.decide_extension,
        ExtensionDecision(by=dispatcher, approve=False, note="不同意"),
    )
    assert decided.resolve_deadline == accepted.resolve_deadline and decided.extensions == 0
    assert "extension_decided" in demo.notifier.to(person)
    assert "extension_decided" not in demo.notifier.to("hotline")  # it never asked


@pytest.mark.parametrize("hour", LOCAL_HOURS)
async def test_a_district_departments_extension_goes_to_the_duty_supervisor_on_duty(
    env: WorkflowEnvironment, demo: Harness, hour: int
) -> None:
    """The gas company's officer (a district department: nobody above it by tier) asks for
    more time; the district center's duty supervisor the organisation names for that
    instant is told and decides."""
    received = await advance_to_local_hour(env, hour)
    await demo.start(intake("X-3", scenario="PS01", received_at=received))
    person = (await demo.settled("X-3")).assignee_id
    assert person is not None and person.startswith("P-gas_utility")
    accepted = await tickets.update(
        demo.client, "X-3", TicketWorkflow.accept, AcceptInput(person_id=person)
    )
    assert accepted.tier is Tier.DISTRICT and accepted.resolve_deadline is not None
    asked_at = (await env.get_current_time()).astimezone(UTC)
    supervisor = OrgRouter.demo().district_supervisor(asked_at).person_id
    await tickets.update(
        demo.client,
        "X-3",
        TicketWorkflow.request_extension,
        ExtensionRequest(
            person_id=person,
            new_deadline=accepted.resolve_deadline + timedelta(hours=6),
            reason="燃气管网抢修需停气",
        ),
    )
    assert demo.notifier.to(supervisor) == ["extension_requested"]
    decided = await tickets.update(
        demo.client,
        "X-3",
        TicketWorkflow.decide_extension,
        ExtensionDecision(by=supervisor, approve=False, note="请先降压"),
    )
    assert decided.extensions == 0 and "extension_rejected" in [e.event for e in decided.history]
    assert "extension_decided" in demo.notifier.to(person)


async def test_a_street_assignee_hands_the_ticket_down_to_its_own_work_station(
    env: WorkflowEnvironment, demo: Harness
) -> None:
    received = await advance_to_plain_week(env, hour=PLAIN_HOUR)
    # SC05 is handled at the village tier, but no station is known from the address.
    await demo.start(intake("R-4", scenario="SC05", received_at=received))
    status = await demo.settled("R-4")
    assert status.tier is Tier.STREET and status.assignee_id is not None
    with pytest.raises(TicketRejected, match="only to a unit under T01"):
        await tickets.update(
            demo.client,
            "R-4",
            TicketWorkflow.transfer,
            TransferInput(by=status.assignee_id, target_unit="T02-01", reason="x"),
        )
    moved = await tickets.update(
        demo.client,
        "R-4",
        TicketWorkflow.transfer,
        TransferInput(by=status.assignee_id, target_unit="T01-02", reason="属碧云居委"),
    )
    assert moved.tier is Tier.VILLAGE and (moved.assignee_id or "").startswith("P-T01-02")


@pytest.mark.parametrize("hour", LOCAL_HOURS)
async def test_unaccepted_p1_climbs_to_the_district_dispatcher_duty_leader_and_director(
    env: WorkflowEnvironment, demo: Harness, hour: int
) -> None:
    received = await advance_to_local_hour(env, hour)
    dispatcher = on_duty_district_dispatcher(received)
    leader, director = (m.id for m in OrgRouter.demo().directory.leaders(received))
    await demo.start(intake("E-1", scenario="PS03", received_at=received))  # P1, street tier
    first = await demo.settled("E-1")
    assert first.tier is Tier.STREET
    await env.sleep(timedelta(minutes=6))  # past the street's 5 minutes
    status = await demo.status("E-1")
    assert (status.escalations, status.tier, status.assignee_id) == (1, Tier.DISTRICT, dispatcher)
    assert "escalated" in demo.notifier.to(dispatcher)
    await env.sleep(timedelta(minutes=5))  # the district dispatcher's 5 minutes
    assert (await demo.status("E-1")).assignee_id == leader
    await env.sleep(timedelta(minutes=5))
    status = await demo.status("E-1")
    assert (status.assignee_id, status.escalations) == (director, 3)
    await env.sleep(timedelta(minutes=5))  # the top: the director is pressed, not dropped
    assert demo.notifier.to(director).count("supervise") >= 1
    history = (await demo.status("E-1")).history
    assert any(e.event == "supervised" and director in e.detail for e in history)
    accepted = await tickets.update(
        demo.client, "E-1", TicketWorkflow.accept, AcceptInput(person_id=director)
    )
    assert accepted.stage is Stage.ACCEPTED


async def test_the_districts_ruling_after_two_returns_binds_the_unit_it_names(
    env: WorkflowEnvironment, demo: Harness
) -> None:
    received = await advance_to_local_hour(env, 11)
    dispatcher = on_duty_district_dispatcher(received)
    await demo.start(intake("R-5", scenario="CH01", received_at=received))
    status = await demo.settled("R-5")
    for _ in range(2):
        assert status.assignee_id is not None
        why = ReturnReason(code=ReturnReasonCode.NOT_OUR_DUTY, note="不归我们管")
        status = await tickets.update(
            demo.client,
            "R-5",
            TicketWorkflow.return_ticket,
            ReturnInput(person_id=status.assignee_id, reason=why),
        )
    assert status.tier is Tier.DISTRICT and status.assignee_id is not None
    ruled = await tickets.update(
        demo.client,
        "R-5",
        TicketWorkflow.transfer,
        TransferInput(by=status.assignee_id, target_unit="S01", reason="属地在S01"),
    )
    assert ruled.bound_unit == "S01" and ruled.assignee_id is not None
    assert any(e.event == "district_ruling" for e in ruled.history)
    s01 = ruled.assignee_id
    no = ReturnReason(code=ReturnReasonCode.NOT_OUR_JURISDICTION, note="不是我们")
    with pytest.raises(TicketRejected, match="cannot return this ticket again"):
        await tickets.update(
            demo.client, "R-5", TicketWorkflow.return_ticket, ReturnInput(person_id=s01, reason=no)
        )
    asked = await tickets.update(
        demo.client,
        "R-5",
        TicketWorkflow.request_reconsideration,
        ReconsiderationRequest(person_id=s01, reason="地址在T02", suggested_unit="T02"),
    )
    assert asked.pending_reconsideration is not None
    assert "reconsideration_requested" in demo.notifier.to(dispatcher)
    with pytest.raises(TicketRejected, match="may not decide"):
        await tickets.update(
            demo.client,
            "R-5",
            TicketWorkflow.decide_reconsideration,
            ReconsiderationDecision(by=s01, approve=False),
        )
    moved = await tickets.update(
        demo.client,
        "R-5",
        TicketWorkflow.decide_reconsideration,
        ReconsiderationDecision(by=dispatcher, approve=True, target_unit="T02", note="同意"),
    )
    assert moved.bound_unit == "T02" and (moved.assignee_id or "").startswith("P-T02")
    assert "reconsideration_decided" in demo.notifier.to(s01)
    t02 = moved.assignee_id
    assert t02 is not None
    with pytest.raises(TicketRejected, match="cannot return"):
        await tickets.update(
            demo.client, "R-5", TicketWorkflow.return_ticket, ReturnInput(person_id=t02, reason=no)
        )
    await tickets.update(
        demo.client,
        "R-5",
        TicketWorkflow.request_reconsideration,
        ReconsiderationRequest(person_id=t02, reason="还是不归我们"),
    )
    kept = await tickets.update(
        demo.client,
        "R-5",
        TicketWorkflow.decide_reconsideration,
        ReconsiderationDecision(by=dispatcher, approve=False, note="维持裁定"),
    )
    assert (kept.assignee_id, kept.bound_unit, kept.pending_reconsideration) == (t02, "T02", None)
    events = [e.event for e in kept.history]
    assert events.count("reconsideration_requested") == 2
    assert [
        e for e in events if e.startswith("reconsideration_") and e != "reconsideration_requested"
    ] == ["reconsideration_approved", "reconsideration_rejected"]
