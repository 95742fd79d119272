"""Calls that are not work orders over HTTP, on the real dev server with the seeded
organisation: each kind at submission, rating, reply, conversion, listing by kind, the
kind the rules suggest, and the 4xx answers for what does not fit."""

from __future__ import annotations

from typing import Any

from cityops.api.keys import Role
from tests.api.stack import Api
from tests.conftest import eventually

QUESTION = {
    "text": "请问社保卡丢了在哪里补办",
    "kind": "consultation",
    "answer": "任一社区事务受理服务中心可补办，带身份证",
    "link": "https://example.org/sbk",
    "agent": "hotline-agent-7",
}
POWER_CUT = {
    "text": "家里停电了，整栋楼都没电",
    "address": "浦东新区花木街道锦绣路1001弄",
    "kind": "referral",
    "referral": {"body": "国网浦东供电公司", "reference": "95598，报修单号 A123"},
}
PRAISE = {
    "text": "表扬房管局，老房子加装电梯的事办得很快，建议多宣传",
    "kind": "suggestion",
    "department": "housing",
}


async def _submit(api: Api, body: dict[str, Any]) -> str:
    response = await api.http.post(
        "/api/v1/tickets", json=body, headers=api.as_role(Role.HOTLINE_AGENT)
    )
    assert response.status_code == 201, response.text
    ticket: str = response.json()["ticket_id"]
    return ticket


async def _at_stage(api: Api, ticket: str, stage: str) -> dict[str, Any]:
    async def check() -> dict[str, Any]:
        response = await api.http.get(
            f"/api/v1/tickets/{ticket}", headers=api.as_role(Role.RESPONDER)
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["stage"] == stage, body["stage"]
        return body

    return await eventually(check)


async def _post(api: Api, ticket: str, action: str, role: Role, body: dict[str, Any]) -> Any:
    """The action with a key of the person the body names (the key's person acts)."""
    person = body.get("by") or body.get("person_id")
    headers = api.as_person(role, person) if person else api.as_role(role)
    return await api.http.post(f"/api/v1/tickets/{ticket}/{action}", json=body, headers=headers)


async def test_a_consultation_is_answered_at_once_and_takes_one_rating(api: Api) -> None:
    ticket = await _submit(api, QUESTION)
    status = await _at_stage(api, ticket, "answered")
    assert status["call"]["kind"] == "consultation"
    assert status["call"]["answer"] == QUESTION["answer"]
    assert status["assignee_id"] is None  # no dispatcher's time spent
    accept = await _post(api, ticket, "accept", Role.RESPONDER, {"person_id": "P-T01-D"})
    assert accept.status_code == 409
    assert (
        accept.json()["detail"]
        == f"ticket {ticket} is a call, not a work order: it takes no such action"
    )
    rating = {"result": "basically_satisfied", "by": "hotline-agent-7"}
    rated = await _post(api, ticket, "rate", Role.HOTLINE_AGENT, rating)
    assert rated.status_code == 200, rated.text
    assert rated.json()["call"]["rating"] == "basically_satisfied"
    again = await _post(api, ticket, "rate", Role.HOTLINE_AGENT, rating)
    assert again.status_code == 409 and "rated already" in again.json()["detail"]
    assert api.notifier.notices == []


async def test_a_referral_is_listed_by_kind_with_its_own_stage(api: Api) -> None:
    ticket = await _submit(api, POWER_CUT)
    status = await _at_stage(api, ticket, "referred")
    assert status["call"]["referral"]["body"] == "国网浦东供电公司"

    async def listed() -> None:
        response = await api.http.get(
            "/api/v1/tickets?kind=referral&stage=referred&limit=500",
            headers=api.as_role(Role.SUPERVISOR),
        )
        assert response.status_code == 200, response.text
        rows = {row["ticket_id"]: row for row in response.json()}
        assert ticket in rows
        assert rows[ticket]["attributes"]["TicketKind"] == ["referral"]

    await eventually(listed)


async def test_a_suggestion_goes_to_the_named_departments_inbox_and_its_owner_replies(
    api: Api,
) -> None:
    ticket = await _submit(api, PRAISE)
    status = await _at_stage(api, ticket, "recorded")
    owner = status["assignee_id"]
    assert owner.startswith("P-housing-") and status["call"]["department"] == "housing"
    assert status["call"]["reply_deadline"] == status["resolve_deadline"] is not None

    async def told() -> None:  # the notice activity may finish just after the stage shows
        assert [n.kind.value for n in api.notifier.notices] == ["suggestion"]

    await eventually(told)
    assert api.notifier.notices[0].recipients[0].person_id == owner

    stranger = await _post(api, ticket, "reply", Role.RESPONDER, {"by": "P-XX", "reply": "好"})
    assert stranger.status_code == 409 and "does not own" in stranger.json()["detail"]
    as_agent = await _post(api, ticket, "reply", Role.HOTLINE_AGENT, {"by": owner, "reply": "好"})
    assert as_agent.status_code == 403
    replied = await _post(
        api, ticket, "reply", Role.RESPONDER, {"by": owner, "reply": "感谢，已转宣传科"}
    )
    assert replied.status_code == 200, replied.text
    assert replied.json()["stage"] == "replied"

    async def closed() -> None:
        late = await _post(api, ticket, "reply", Role.RESPONDER, {"by": owner, "reply": "再答"})
        assert late.status_code == 409 and "is closed" in late.json()["detail"], late.text

    await eventually(closed)


async def test_a_consultation_converts_into_a_work_order_with_the_same_number(
    api: Api,
) -> None:
    ticket = await _submit(
        api,
        {
            **QUESTION,
            "text": "想问问碧波路690号门口井盖松动归谁管",
            "address": "浦东新区张江镇碧波路690号",
        },
    )
    await _at_stage(api, ticket, "answered")
    body = {"by": "hotline-agent-7", "reason": "市民回电：井盖已缺失", "scenario_id": "PS03"}
    converted = await _post(api, ticket, "convert", Role.HOTLINE_AGENT, body)
    assert converted.status_code == 200, converted.text
    assert converted.json()["stage"] == "converted"

    work_order = await _at_stage(api, ticket, "awaiting_accept")
    assert work_order["scenario_id"] == "PS03" and work_order["street_code"] == "T01"
    assert work_order["call"]["kind"] == "consultation"
    events = [entry["event"] for entry in work_order["history"]]
    assert events.index("answered") < events.index("converted") < events.index("dispatched")

    again = await _post(api, ticket, "convert", Role.HOTLINE_AGENT, body)
    assert again.status_code == 409 and "work order, not a call" in again.json()["detail"]

    async def listed_once() -> None:
        response = await api.http.get(
            "/api/v1/tickets?kind=consultation&limit=500", headers=api.as_role(Role.SUPERVISOR)
        )
        rows = [row for row in response.json() if row["ticket_id"] == ticket]
        assert len(rows) == 1
        assert rows[0]["attributes"]["TicketStage"] == "awaiting_accept"
        assert sorted(rows[0]["attributes"]["TicketKind"]) == ["complaint", "consultation"]

    await eventually(listed_once)


async def test_the_same_hotline_number_is_one_ticket_whatever_the_kind(api: Api) -> None:
    first = await _submit(api, {**QUESTION, "hotline_id": "12345-CALL-0001"})
    again = await api.http.post(
        "/api/v1/tickets",
        json={"text": "同一个电话", "hotline_id": "12345-CALL-0001"},
        headers=api.as_role(Role.HOTLINE_AGENT),
    )
    assert again.status_code == 200 and again.json()["ticket_id"] == first
    await _at_stage(api, first, "answered")


async def test_a_kind_without_its_fields_or_with_anothers_is_422(api: Api) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"text": "请问", "kind": "consultation"}, "answer: required"),
        ({"text": "停电", "kind": "referral"}, "referral: required"),
        ({"text": "井盖没了", "answer": "已答复"}, "answer: only for a consultation"),
        ({**PRAISE, "service_code": "PS03"}, "service_code: only for a complaint"),
        ({**QUESTION, "department": "housing"}, "department: only for a suggestion"),
        ({**QUESTION, "answer": "答" * 2001}, "at most 2000"),
        ({**QUESTION, "link": "javascript:alert(1)"}, "should match pattern"),
        ({**QUESTION, "kind": "gossip"}, "Input should be"),
        ({**POWER_CUT, "referral": {"body": "", "reference": "x"}}, "at least 1"),
    ]
    for body, message in cases:
        response = await api.http.post(
            "/api/v1/tickets", json=body, headers=api.as_role(Role.HOTLINE_AGENT)
        )
        assert response.status_code == 422, (body, response.text)
        assert message in response.text, (message, response.text)


async def test_actions_of_a_call_on_a_work_order_or_an_unknown_number(api: Api) -> None:
    complaint = await _submit(
        api,
        {
            "text": "小区门口井盖不见了",
            "address": "浦东新区张江镇碧波路690号",
            "service_code": "PS03",
        },
    )
    await _at_stage(api, complaint, "awaiting_accept")
    rated = await _post(
        api, complaint, "rate", Role.HOTLINE_AGENT, {"result": "satisfied", "by": "a"}
    )
    assert rated.status_code == 409 and "not a call" in rated.json()["detail"]
    unknown = await _post(
        api, "PDNOSUCH", "convert", Role.HOTLINE_AGENT, {"by": "a", "reason": "x"}
    )
    assert unknown.status_code == 404


async def test_the_rules_suggest_a_kind_and_the_agent_decides(api: Api) -> None:
    cases = {
        "请问居住证怎么办理": "consultation",
        "我要表扬张江镇的城管队员": "suggestion",
        "碧波路690号门口井盖不见了，晚上很危险": "complaint",
    }
    for text, kind in cases.items():
        response = await api.http.post(
            "/api/v1/tickets/kind-suggestion",
            json={"text": text},
            headers=api.as_role(Role.HOTLINE_AGENT),
        )
        assert response.status_code == 200, response.text
        assert response.json()["kind"] == kind, (text, response.json())
        if kind == "complaint":  # the top 3 to pick a service code from (issue 18)
            assert response.json()["candidates"][0]["scenario_id"] == "PS03"
