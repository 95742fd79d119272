"""Tickets over HTTP against the real app, a real Temporal dev server and the seeded
organisation: submit, read, list, updates, keys and roles, bad input, pages, accept links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cityops.api.keys import Role
from cityops.domain.tokens import sign_accept_token
from tests.api.stack import Api
from tests.conftest import eventually

COVER = {
    "text": "小区门口井盖不见了，很危险",
    "address": "浦东新区张江镇碧波路690号",
    "caller_phone": "13900001234",
    "service_code": "PS03",
}


async def _dispatched(api: Api, ticket_id: str) -> dict[str, Any]:
    async def check() -> dict[str, Any]:
        response = await api.http.get(
            f"/api/v1/tickets/{ticket_id}", headers=api.as_role(Role.RESPONDER)
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["stage"] == "awaiting_accept", body["stage"]
        return body

    return await eventually(check)


async def _submit(api: Api, **fields: Any) -> dict[str, Any]:
    """A cover at a house number of its own: the same address again would be a repeat call,
    which waits on the first ticket instead of being dispatched (docs/incidents.md)."""
    number = datetime.now(UTC).strftime("%H%M%S%f")
    sent = {**COVER, "address": f"浦东新区张江镇碧波路{number}号", **fields}
    response = await api.http.post(
        "/api/v1/tickets", json=sent, headers=api.as_role(Role.HOTLINE_AGENT)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_submit_returns_the_ticket_number_and_workflow_id_at_once(api: Api) -> None:
    body = await _submit(api)
    assert body["ticket_id"].startswith("PD")
    assert body["workflow_id"] == f"ticket-{body['ticket_id']}"
    status = await _dispatched(api, body["ticket_id"])
    assert status["scenario_id"] == "PS03"
    assert status["street_code"] == "T01"


async def test_the_same_hotline_number_twice_is_the_same_ticket(api: Api) -> None:
    first = await _submit(api, hotline_id="12345-API-0001")
    again = await api.http.post(
        "/api/v1/tickets",
        json={**COVER, "hotline_id": "12345-API-0001"},
        headers=api.as_role(Role.HOTLINE_AGENT),
    )
    assert again.status_code == 200
    assert again.json()["ticket_id"] == first["ticket_id"]
    assert again.json()["created"] is False


async def test_accept_by_the_assignee_succeeds_and_by_someone_else_is_409(api: Api) -> None:
    ticket = (await _submit(api))["ticket_id"]
    status = await _dispatched(api, ticket)
    assignee = status["assignee_id"]
    wrong = await api.http.post(
        f"/api/v1/tickets/{ticket}/accept", json={}, headers=api.as_person(Role.RESPONDER, "P-XX")
    )
    assert wrong.status_code == 409
    assert "not assigned" in wrong.json()["detail"]
    assert assignee not in wrong.text  # a refusal does not say whom to pose as
    right = await api.http.post(
        f"/api/v1/tickets/{ticket}/accept",
        json={"person_id": assignee},  # the body may still name the key's own person
        headers=api.as_person(Role.RESPONDER, assignee),
    )
    assert right.status_code == 200, right.text
    assert right.json()["stage"] == "accepted"


async def test_an_update_with_a_malformed_body_is_422_naming_the_field(api: Api) -> None:
    ticket = (await _submit(api))["ticket_id"]
    response = await api.http.post(
        f"/api/v1/tickets/{ticket}/callback",
        json={"result": "delighted", "by": "agent-1"},
        headers=api.as_role(Role.HOTLINE_AGENT),
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "result"]


async def test_resolve_before_accept_is_refused_with_the_workflow_reason(api: Api) -> None:
    ticket = (await _submit(api))["ticket_id"]
    status = await _dispatched(api, ticket)
    response = await api.http.post(
        f"/api/v1/tickets/{ticket}/resolve",
        json={"note": "done"},
        headers=api.as_person(Role.RESPONDER, status["assignee_id"]),
    )
    assert response.status_code == 409
    assert "accept it before resolving" in response.json()["detail"]


async def test_an_unknown_ticket_is_404(api: Api) -> None:
    response = await api.http.get(
        "/api/v1/tickets/PD20260101NOSUCH", headers=api.as_role(Role.SUPERVISOR)
    )
    assert response.status_code == 404
    alarm = await api.http.get(
        "/api/v1/tickets/AL20260101NOSUCH", headers=api.as_role(Role.SUPERVISOR)
    )
    assert alarm.status_code == 404


async def test_list_filters_by_street_and_stage(api: Api) -> None:
    ticket = (await _submit(api))["ticket_id"]
    await _dispatched(api, ticket)

    async def listed() -> None:
        response = await api.http.get(
            "/api/v1/tickets",
            params={"street": "T01", "stage": "awaiting_accept"},
            headers=api.as_role(Role.SUPERVISOR),
        )
        assert response.status_code == 200
        assert ticket in [row["ticket_id"] for row in response.json()]

    await eventually(listed)


async def test_list_rejects_a_street_that_is_not_a_code(api: Api) -> None:
    response = await api.http.get(
        "/api/v1/tickets", params={"street": "T01' OR 1=1"}, headers=api.as_role(Role.SUPERVISOR)
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "street"]


async def test_submit_without_text_is_422_and_starts_nothing(api: Api) -> None:
    response = await api.http.post(
        "/api/v1/tickets",
        json={"address": "张江镇", "source": "hotline"},
        headers=api.as_role(Role.HOTLINE_AGENT),
    )
    assert response.status_code == 422
    assert ["body", "text"] in [error["loc"] for error in response.json()["detail"]]


async def test_submit_from_an_unknown_source_is_422(api: Api) -> None:
    response = await api.http.post(
        "/api/v1/tickets", json={**COVER, "source": "iot"}, headers=api.as_role(Role.HOTLINE_AGENT)
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "source"]


async def test_no_key_is_401_an_unknown_key_is_401_and_a_wrong_role_is_403(api: Api) -> None:
    none = await api.http.post("/api/v1/tickets", json=COVER)
    assert none.status_code == 401
    forged = await api.http.post("/api/v1/tickets", json=COVER, headers={"X-API-Key": "co_abc_def"})
    assert forged.status_code == 401
    gateway = await api.http.post(
        "/api/v1/tickets", json=COVER, headers=api.as_role(Role.SENSOR_GATEWAY)
    )
    assert gateway.status_code == 403
    assert "sensor_gateway" in gateway.json()["detail"]


async def test_a_bearer_key_works_like_the_header(api: Api) -> None:
    response = await api.http.post(
        "/api/v1/tickets",
        json=COVER,
        headers={"Authorization": f"Bearer {api.keys[Role.HOTLINE_AGENT]}"},
    )
    assert response.status_code == 201


async def test_the_ticket_page_shows_state_but_not_the_complaint_nor_anyone(api: Api) -> None:
    ticket = (await _submit(api))["ticket_id"]
    status = await _dispatched(api, ticket)
    page = await api.http.get(f"/tickets/{ticket}")
    assert page.status_code == 200
    assert ticket in page.text and "awaiting_accept" in page.text and "dispatched" in page.text
    assert "很危险" not in page.text
    # Nothing an accept link binds besides the ticket: no assignee, no person id at all.
    assert status["assignee_id"] not in page.text
    assert status["assignee_name"] not in page.text
    assert "P-" not in page.text
    missing = await api.http.get("/tickets/PDNOSUCH")
    assert missing.status_code == 404


async def test_the_accept_link_accepts_through_the_workflow(api: Api) -> None:
    ticket = (await _submit(api))["ticket_id"]
    status = await _dispatched(api, ticket)
    expires = datetime.now(UTC) + timedelta(hours=1)
    token = sign_accept_token(ticket, status["assignee_id"], expires, api.settings.secret)
    response = await api.http.post(f"/a/{token}")
    assert response.status_code == 200, response.text
    again = await api.http.post(f"/a/{token}")
    assert again.status_code == 200  # used twice: harmless, and it says so
    assert "Already accepted" in again.text
    after = await api.http.get(f"/api/v1/tickets/{ticket}", headers=api.as_role(Role.RESPONDER))
    assert after.json()["stage"] == "accepted"


async def test_contact_pause_and_resume_over_http(api: Api) -> None:
    ticket = (await _submit(api))["ticket_id"]
    person = (await _dispatched(api, ticket))["assignee_id"]
    responder = api.as_person(Role.RESPONDER, person)
    base = f"/api/v1/tickets/{ticket}"
    accepted = await api.http.post(f"{base}/accept", json={"person_id": person}, headers=responder)
    assert accepted.status_code == 200, accepted.text
    contacted = await api.http.post(
        f"{base}/contact", json={"person_id": person, "note": "已电话联系"}, headers=responder
    )
    assert contacted.status_code == 200 and contacted.json()["contacted_at"] is not None
    paused = await api.http.post(
        f"{base}/pause", json={"person_id": person, "reason": "等业主在家"}, headers=responder
    )
    assert paused.status_code == 200 and paused.json()["paused"] is True
    again = await api.http.post(
        f"{base}/pause", json={"person_id": person, "reason": "x"}, headers=responder
    )
    assert again.status_code == 409 and "already paused" in again.json()["detail"]
    resumed = await api.http.post(f"{base}/resume", json={"person_id": person}, headers=responder)
    assert resumed.status_code == 200 and resumed.json()["paused"] is False
