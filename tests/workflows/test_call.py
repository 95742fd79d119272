"""CallWorkflow in the time-skipping test server: each kind of call that is no work order,
the conversion into a work order under the same number, and a suggestion's reply clock
(remind, escalate at the deadline, supervise) at pinned instants."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from cityops.domain.calls import (
    CallIntake,
    Consultation,
    ConvertInput,
    RateInput,
    ReferralCall,
    ReplyInput,
    Suggestion,
)
from cityops.domain.models import AcceptInput, Referral, TicketStatus
from cityops.domain.stages import CallbackResult, CallKind, Stage
from cityops.rules.calendar import instant_at_fraction
from cityops.rules.calendar_loader import project_working_hours
from cityops.service import calls, tickets
from cityops.service.tickets import TicketError, TicketRejected
from cityops.workflows.ticket import TicketWorkflow
from tests.conftest import eventually
from tests.workflows.harness import Harness, advance_to_local_hour, advance_to_plain_week, intake

ANSWER = Consultation(
    answer="社保卡可在任一社区事务受理中心补办，带身份证", link="https://example.org/sbk"
)
REFERRAL = ReferralCall(referral=Referral(body="国网浦东供电公司", reference="95598，工单号 A123"))


async def submit(h: Harness, ticket_id: str, details: object, at: datetime, text: str) -> None:
    call = CallIntake.model_validate(
        {
            "intake": intake(ticket_id, text=text, received_at=at),
            "details": details,
            "agent": "hotline-agent-7",
        }
    )
    submitted = await calls.submit_call(h.client, call, h.task_queue)
    assert submitted.created


async def stage_of(h: Harness, ticket_id: str, stage: Stage) -> TicketStatus:
    async def check() -> TicketStatus:
        status = await tickets.status(h.client, ticket_id)
        assert status.stage is stage, f"{status.stage} waiting for {stage}"
        return status

    return await eventually(check)


async def test_a_consultation_is_answered_at_once_and_rated_once(
    env: WorkflowEnvironment, h: Harness
) -> None:
    now = await advance_to_local_hour(env, 11)
    await submit(h, "C-ANS", ANSWER, now, "请问社保卡丢了在哪里补办")
    status = await stage_of(h, "C-ANS", Stage.ANSWERED)
    assert status.call is not None and status.call.kind is CallKind.CONSULTATION
    assert status.call.answer == ANSWER.answer and status.call.link == ANSWER.link
    assert status.assignee_id is None  # no district dispatcher touched it
    assert [e.event for e in status.history] == ["received", "answered"]
    assert h.notifier.notices == []

    happy = RateInput(result=CallbackResult.SATISFIED, by="hotline-agent-7")
    rated = await calls.rate(h.client, "C-ANS", happy)
    assert rated.call is not None and rated.call.rating is CallbackResult.SATISFIED
    with pytest.raises(TicketRejected, match="rated already"):
        await calls.rate(h.client, "C-ANS", happy)
    assert [(r.event, r.stage) for r in h.store.records] == [
        ("answered", Stage.ANSWERED),
        ("rated_satisfied", Stage.ANSWERED),
    ]


async def test_an_answered_consultation_closes_its_run_after_the_window(
    env: WorkflowEnvironment, h: Harness
) -> None:
    now = await advance_to_local_hour(env, 11)
    await submit(h, "C-WIN", ANSWER, now, "请问社保卡丢了在哪里补办")
    handle = h.client.get_workflow_handle(tickets.workflow_id_for("C-WIN"))
    await stage_of(h, "C-WIN", Stage.ANSWERED)
    await env.sleep(timedelta(days=7, minutes=1))
    outcome = await handle.result()
    assert outcome["stage"] == Stage.ANSWERED.value
    # The record stays readable; a late conversion is refused (409 on a real server, see
    # tests/api/test_calls_api.py).
    assert (await tickets.status(h.client, "C-WIN")).stage is Stage.ANSWERED
    with pytest.raises(TicketError):
        await calls.convert(h.client, "C-WIN", ConvertInput(by="hotline-agent-7", reason="迟了"))


async def test_a_referral_is_referred_with_its_reference_and_cannot_be_rated(
    env: WorkflowEnvironment, h: Harness
) -> None:
    now = await advance_to_local_hour(env, 19)
    await submit(h, "C-REF", REFERRAL, now, "家里停电了，整栋楼都没电")
    status = await stage_of(h, "C-REF", Stage.REFERRED)
    assert status.call is not None and status.call.referral == REFERRAL.referral
    assert "95598" in status.history[-1].detail
    with pytest.raises(TicketRejected, match="only a consultation"):
        await calls.rate(
            h.client, "C-REF", RateInput(result=CallbackResult.SATISFIED, by="hotline-agent-7")
        )
    assert [r.event for r in h.store.records] == ["referred"]


async def test_a_consultation_converted_becomes_a_work_order_under_the_same_number(
    env: WorkflowEnvironment, h: Harness
) -> None:
    now = await advance_to_local_hour(env, 3)
    await submit(h, "C-CNV", ANSWER, now, "想问一下小区门口井盖松动归谁管")
    await stage_of(h, "C-CNV", Stage.ANSWERED)
    convert = ConvertInput(by="hotline-agent-7", reason="市民回电：井盖已缺失", scenario_id="PS03")
    converted = await calls.convert(h.client, "C-CNV", convert)
    assert converted.stage is Stage.CONVERTED

    work_order = await stage_of(h, "C-CNV", Stage.AWAITING_ACCEPT)
    assert work_order.scenario_id == "PS03" and work_order.assignee_id == "P-T01-D"
    assert work_order.call is not None and work_order.call.kind is CallKind.CONSULTATION
    events = [e.event for e in work_order.history]
    # The rules read a manhole cover in the words and said so; the agent had decided.
    assert events[:4] == ["received", "kind_differs", "answered", "converted"]
    assert work_order.history[1].detail == "rules: complaint"
    assert "dispatched" in events[4:]
    converted_entry = work_order.history[3]
    assert converted_entry.by == "hotline-agent-7" and "井盖已缺失" in converted_entry.detail

    description = await h.client.get_workflow_handle(tickets.workflow_id_for("C-CNV")).describe()
    assert description.workflow_type == "TicketWorkflow"
    assert description.status is WorkflowExecutionStatus.RUNNING
    accepted = await tickets.update(
        h.client, "C-CNV", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D")
    )
    assert accepted.stage is Stage.ACCEPTED
    # The call's rows (record_ticket), then the work order's register events (record_event).
    assert [r.event for r in h.store.records] == ["answered", "converted"]
    assert {r.ticket_id for r in h.store.records} == {"C-CNV"}
    register = [(e.event, e.to_stage) for e in h.store.register("C-CNV")]
    assert register[0] == ("received", Stage.INTAKE)
    assert ("dispatched", Stage.AWAITING_ACCEPT) in register


async def test_a_converted_call_cannot_be_converted_twice_nor_a_suggestion_at_all(
    env: WorkflowEnvironment, h: Harness
) -> None:
    now = await advance_to_local_hour(env, 11)
    await submit(h, "C-TWO", REFERRAL, now, "家里停电了")
    await stage_of(h, "C-TWO", Stage.REFERRED)
    await calls.convert(h.client, "C-TWO", ConvertInput(by="a", reason="供电公司说是小区配电房"))
    await stage_of(h, "C-TWO", Stage.TRIAGE)  # no scenario given: the rules, then triage
    with pytest.raises(TicketRejected, match="work order, not a call"):
        await calls.convert(h.client, "C-TWO", ConvertInput(by="a", reason="again"))

    await submit(h, "C-SUG0", Suggestion(), now, "建议在地铁站口多放几辆共享单车")
    await stage_of(h, "C-SUG0", Stage.RECORDED)
    with pytest.raises(TicketRejected, match="only a consultation or referral"):
        await calls.convert(h.client, "C-SUG0", ConvertInput(by="a", reason="x"))


async def test_a_suggestion_waits_in_the_departments_inbox_and_climbs_when_unanswered(
    env: WorkflowEnvironment, h: Harness
) -> None:
    # The reply clock counts working time: a plain Wednesday, so the five working days and
    # the steps on them fall on the same weekdays whatever the wall-clock date.
    now = await advance_to_plain_week(env, hour=11)
    text = "表扬绿化市容局，小区旁边的绿地修得很好，建议再加几张长椅"
    await submit(h, "C-SUG", Suggestion(department="greenery_sanitation"), now, text)
    status = await stage_of(h, "C-SUG", Stage.RECORDED)
    assert status.assignee_id == "P-DEPT"
    assert status.call is not None and status.call.department == "greenery_sanitation"
    hours = project_working_hours()
    deadline = instant_at_fraction(now, timedelta(days=5), 1.0, True, hours)  # from the call
    assert status.call.reply_deadline == deadline == status.resolve_deadline
    await h.until(lambda: h.notifier.to("P-DEPT") == ["suggestion"])  # the notice is in flight
    assert not h.notifier.notices[0].accept_link

    with pytest.raises(TicketRejected, match="P-NOBODY does not own"):
        await calls.reply(h.client, "C-SUG", ReplyInput(by="P-NOBODY", reply="谢谢"))

    # 80% of the budget: the owner is reminded, the clock turns yellow.
    remind_at = instant_at_fraction(now, timedelta(days=5), 0.8, True, hours)
    await env.sleep(remind_at - await env.get_current_time() + timedelta(minutes=1))
    await h.until(lambda: h.notifier.to("P-DEPT") == ["suggestion", "reminder"])
    assert (await tickets.status(h.client, "C-SUG")).sla_colour == "yellow"

    # The deadline: handed one tier up, flagged overdue; the new owner is told.
    await env.sleep(deadline - await env.get_current_time() + timedelta(minutes=1))
    await h.until(lambda: "escalated" in h.notifier.to("P-DIST-D"))
    status = await tickets.status(h.client, "C-SUG")
    assert (status.assignee_id, status.overdue, status.escalations) == ("P-DIST-D", True, 1)
    assert status.stage is Stage.RECORDED and status.sla_colour == "red"

    # The first owner may still answer; the reply ends the inbox.
    replied = await calls.reply(
        h.client, "C-SUG", ReplyInput(by="P-DEPT", reply="感谢表扬，长椅已列入计划")
    )
    assert replied.stage is Stage.REPLIED and replied.call is not None
    assert replied.call.reply == "感谢表扬，长椅已列入计划"
    handle = h.client.get_workflow_handle(tickets.workflow_id_for("C-SUG"))
    assert (await handle.result())["stage"] == Stage.REPLIED.value
    assert [r.event for r in h.store.records] == ["recorded", "escalated", "replied"]


async def test_a_suggestion_with_nobody_above_is_supervised_until_answered(
    env: WorkflowEnvironment, h: Harness
) -> None:
    now = await advance_to_plain_week(env, hour=19)  # the reply clock counts working time
    await submit(h, "C-TOP", Suggestion(), now, "建议公园延长开放时间")
    status = await stage_of(h, "C-TOP", Stage.RECORDED)
    assert status.assignee_id == "P-DIST-D"  # no department: the district center's inbox
    assert status.resolve_deadline is not None
    await env.sleep(status.resolve_deadline - await env.get_current_time() + timedelta(hours=1))
    await h.until(lambda: "supervise" in h.notifier.to("P-DIST-D"))
    status = await tickets.status(h.client, "C-TOP")
    assert status.overdue and status.escalations == 0
    assert any(e.event == "supervised" for e in status.history)
