"""A call naming two problems over HTTP: the ticket shows its top candidates and the
secondary issue; a dispatcher splits that issue into its own ticket with one POST."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError

from cityops.api.keys import Role
from cityops.domain.models import SplitInput
from cityops.workflows.ticket import TicketWorkflow
from tests.api.stack import Api
from tests.conftest import eventually

# The street light is said more often; the caller says the manhole is the main problem.
TWO_PROBLEMS = {
    "text": "门口路灯坏了好几天，路灯一直不亮，这个先不说；"
    "主要是小区门口那个窨井盖丢了，晚上很危险。",
    "address": "浦东新区张江镇碧波路690号",
    "lat": 31.2035,
    "lon": 121.5937,
    "caller_name": "王先生",
    "caller_phone": "13900001234",
}
DISPATCHER = "P-DISTRICT-1"
GRID_WORKER = "P-T01-01-1"


async def _submit(api: Api, **fields: Any) -> str:
    response = await api.http.post(
        "/api/v1/tickets", json=fields, headers=api.as_role(Role.HOTLINE_AGENT)
    )
    assert response.status_code == 201, response.text
    ticket: str = response.json()["ticket_id"]
    return ticket


async def _ticket(api: Api, ticket_id: str, stage: str = "awaiting_accept") -> dict[str, Any]:
    async def check() -> dict[str, Any]:
        response = await api.http.get(
            f"/api/v1/tickets/{ticket_id}", headers=api.as_role(Role.SUPERVISOR)
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["stage"] == stage, body["stage"]
        return body

    return await eventually(check)


async def _split(api: Api, ticket_id: str, by: str, role: Role = Role.SUPERVISOR) -> Any:
    """Split with a key of `by` (the key's person splits; the body names them too)."""
    return await api.http.post(
        f"/api/v1/tickets/{ticket_id}/split", json={"by": by}, headers=api.as_person(role, by)
    )


async def test_the_ticket_shows_candidates_and_the_secondary_issue_then_splits_it(
    api: Api,
) -> None:
    original = await _submit(api, **TWO_PROBLEMS)
    body = await _ticket(api, original)
    found = body["classification"]
    assert body["scenario_id"] == "PS03"
    assert found["secondary"]["scenario"]["id"] == "PF01"
    assert "路灯" in found["secondary"]["text"]
    assert found["candidates"][0]["scenario_id"] == "PS03"
    assert 1 <= len(found["candidates"]) <= 3
    assert body["split"] is None

    response = await _split(api, original, DISPATCHER)
    assert response.status_code == 200, response.text
    split = response.json()
    new = split["new_ticket_id"]
    assert split["created"] is True and new.startswith("PD") and new != original
    assert split["status"]["split"]["new_ticket_id"] == new
    assert split["status"]["split"]["by"] == DISPATCHER

    # The new ticket: its own number, the secondary scenario, the same caller and place.
    second = await _ticket(api, new)
    assert second["scenario_id"] == "PF01"
    assert second["split_from"] == original
    assert second["address"] == TWO_PROBLEMS["address"]
    assert "路灯" in (second["text"] or "")
    assert [e["event"] for e in second["history"]][:2] == ["received", "split_from"]
    # The original records the split in its status and its history.
    again = await _ticket(api, original)
    assert again["split"]["new_ticket_id"] == new
    event = next(e for e in again["history"] if e["event"] == "secondary_split")
    assert event["by"] == DISPATCHER and new in event["detail"] and "PF01" in event["detail"]

    # One split per issue: a second attempt is refused and starts nothing.
    twice = await _split(api, original, DISPATCHER)
    assert twice.status_code == 409 and f"already split into ticket {new}" in twice.text
    # The workflow's validator holds it too (two dispatchers racing past the service's
    # check), and refuses a person who is no dispatcher or supervisor.
    handle = api.client.get_workflow_handle(f"ticket-{original}")
    for request, reason in [
        (SplitInput(by=DISPATCHER, by_role="dispatcher", new_ticket_id="PD1"), "already split"),
        (SplitInput(by=GRID_WORKER, by_role="grid_worker", new_ticket_id="PD1"), "only a"),
    ]:
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(TicketWorkflow.split_secondary, request)
        assert reason in str(refused.value.cause)


async def test_who_may_split_and_what_can_be_split(api: Api) -> None:
    original = await _submit(api, **TWO_PROBLEMS)
    await _ticket(api, original)
    grid_worker = await _split(api, original, GRID_WORKER)
    assert grid_worker.status_code == 409
    assert "only a dispatcher or a supervisor" in grid_worker.text
    nobody = await _split(api, original, "P-NOBODY")
    assert nobody.status_code == 409 and "no person P-NOBODY" in nobody.text
    responder_key = await _split(api, original, DISPATCHER, Role.RESPONDER)
    assert responder_key.status_code == 403
    unknown = await _split(api, "PD20270101DEADBEEF", DISPATCHER)
    assert unknown.status_code == 404
    too_long = await _split(api, "P" * 65, DISPATCHER)
    assert too_long.status_code == 422
    empty_by = await api.http.post(
        f"/api/v1/tickets/{original}/split", json={"by": ""}, headers=api.as_role(Role.SUPERVISOR)
    )
    assert empty_by.status_code == 422

    # Elsewhere on the road: at the same spot it would be a repeat call waiting on the first.
    one_problem = await _submit(
        api,
        **{
            **TWO_PROBLEMS,
            "text": "小区门口井盖不见了，很危险",
            "address": "浦东新区张江镇碧波路500号",
            "lat": 31.2065,
            "lon": 121.5960,
        },
    )
    await _ticket(api, one_problem)
    refused = await _split(api, one_problem, DISPATCHER)
    assert refused.status_code == 409 and "no secondary issue" in refused.text
