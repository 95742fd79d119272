"""Who may do what, over HTTP on the seeded organisation: the key's person acts (a body
naming someone else is refused unless the key may act for others, and then both are
recorded); keys see their scope only; a sensor gateway reads no citizen's words; expired
and revoked keys are refused; accept links die when the ticket stops waiting for their
person and say "already accepted" when used twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cityops.api.keys import Role, create_key, revoke_key
from cityops.domain.tokens import sign_accept_token
from cityops.service import tickets as service_tickets
from tests.api.responder_helpers import GARBAGE, dispatched, status, submit
from tests.api.stack import Api
from tests.conftest import eventually

MANHOLE = {  # PS03: the street T01 handles it
    "text": "碧波路上有个大坑，车开过去很危险",
    "address": "浦东新区张江镇碧波路690号",
    "lat": GARBAGE["lat"],
    "lon": GARBAGE["lon"],
    "caller_phone": "13900001234",
    "service_code": "TR03",
}
SUPERVISOR = "P-DISTRICT-1"


async def act(api: Api, ticket: str, action: str, body: dict[str, Any], **key: Any) -> Any:
    return await api.http.post(f"/api/v1/tickets/{ticket}/{action}", json=body, **key)


async def test_a_key_acts_as_its_person_and_cannot_pose_as_the_assignee(api: Api) -> None:
    ticket = await submit(api)
    assignee = (await dispatched(api, ticket))["assignee_id"]
    other = api.as_person(Role.RESPONDER, "P-T21-2")
    posing = await act(api, ticket, "accept", {"person_id": assignee}, headers=other)
    assert posing.status_code == 403 and "act_for" in posing.json()["detail"]
    refused = await act(api, ticket, "accept", {}, headers=other)
    assert refused.status_code == 409 and assignee not in refused.text
    paused = await act(
        api, ticket, "pause", {"person_id": assignee, "reason": "等业主"}, headers=other
    )
    assert paused.status_code == 403
    assert (await status(api, ticket))["stage"] == "awaiting_accept"  # nothing happened

    own = api.as_person(Role.RESPONDER, assignee)
    accepted = await act(api, ticket, "accept", {}, headers=own)
    assert accepted.status_code == 200, accepted.text
    entry = next(e for e in accepted.json()["history"] if e["event"] == "accepted")
    assert (entry["by"], entry["acted_by"]) == (assignee, None)


async def test_a_supervisor_urges_as_itself_not_as_anyone_it_names(api: Api) -> None:
    ticket = await submit(api)
    await dispatched(api, ticket)
    supervisor = api.as_person(Role.SUPERVISOR, SUPERVISOR)
    nobody = await act(api, ticket, "urge", {"by": "nobody-at-all"}, headers=supervisor)
    assert nobody.status_code == 403
    urged = await act(api, ticket, "urge", {"note": "请尽快"}, headers=supervisor)
    assert urged.status_code == 200, urged.text
    entry = next(e for e in urged.json()["history"] if e["event"] == "urged")
    assert entry["by"] == SUPERVISOR


async def test_acting_for_someone_needs_act_for_and_records_both(api: Api) -> None:
    ticket = await submit(api)
    assignee = (await dispatched(api, ticket))["assignee_id"]
    delegate = api.as_person(Role.SUPERVISOR, SUPERVISOR, act_for=True)
    accepted = await act(api, ticket, "accept", {"person_id": assignee}, headers=delegate)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["accepted_by"] == assignee
    history = (await status(api, ticket))["history"]
    entry = next(e for e in history if e["event"] == "accepted")
    assert (entry["by"], entry["acted_by"]) == (assignee, SUPERVISOR)
    # The Temporal UI's details and the CLI read it as "P-X on behalf of P-Y".
    details = await api.client.get_workflow_handle(f"ticket-{ticket}").query(
        "__temporal_workflow_metadata"
    )
    assert f"{SUPERVISOR} on behalf of {assignee}" in str(details)


async def test_a_key_of_no_person_reads_and_submits_but_acts_as_nobody(api: Api) -> None:
    ticket = await submit(api)  # the hotline's key of no person
    assignee = (await dispatched(api, ticket))["assignee_id"]
    refused = await act(
        api, ticket, "accept", {"person_id": assignee}, headers=api.as_role(Role.RESPONDER)
    )
    assert refused.status_code == 403 and "bound to no person" in refused.json()["detail"]


async def test_keys_see_the_tickets_of_their_scope_only(api: Api) -> None:
    ticket = await submit(api)  # CA02 on 张江镇 T01: a station's work
    found = await dispatched(api, ticket)
    station = found["station_code"]
    assert found["street_code"] == "T01" and station.startswith("T01-")
    others = "T01-99" if station != "T01-99" else "T01-98"
    for scope, visible in [("T01", True), (station, True), ("T02", False), (others, False)]:
        key = api.as_person(Role.RESPONDER, found["assignee_id"], scope)
        read = await api.http.get(f"/api/v1/tickets/{ticket}", headers=key)
        assert read.status_code == (200 if visible else 404), (scope, read.text)

        async def listed(key: dict[str, str] = key, visible: bool = visible) -> None:
            rows = await api.http.get("/api/v1/tickets?limit=100", headers=key)
            assert rows.status_code == 200, rows.text
            assert (ticket in [r["ticket_id"] for r in rows.json()]) is visible

        await eventually(listed)
    outsider = api.as_person(Role.RESPONDER, found["assignee_id"], "T02")
    elsewhere = await api.http.get("/api/v1/tickets?street=T01", headers=outsider)
    assert elsewhere.status_code == 403
    acted = await act(api, ticket, "accept", {}, headers=outsider)
    assert acted.status_code == 404  # outside the scope it does not exist
    assert (await status(api, ticket))["stage"] == "awaiting_accept"


async def test_scope_is_read_from_the_register_not_by_asking_each_workflow(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A station key's list and an out-of-scope action need no status query: with the
    query failing, the list still shows the station's ticket and the action is 404."""
    ticket = await submit(api)
    found = await dispatched(api, ticket)
    station_key = api.as_person(Role.RESPONDER, found["assignee_id"], found["station_code"])
    outsider = api.as_person(Role.RESPONDER, found["assignee_id"], "T02")

    async def no_query(*_: object, **__: object) -> None:
        raise AssertionError("a scope check asked the workflow")

    async def listed() -> None:
        rows = await api.http.get("/api/v1/tickets?limit=1", headers=station_key)
        assert rows.status_code == 200, rows.text
        assert [r["ticket_id"] for r in rows.json()] == [ticket]

    monkeypatch.setattr(service_tickets, "status", no_query)
    await eventually(listed)  # limit=1: the station's newest, exactly
    refused = await act(api, ticket, "pause", {"reason": "等待"}, headers=outsider)
    assert refused.status_code == 404


async def test_a_sensor_gateway_reads_no_complaint_text(api: Api) -> None:
    ticket = await submit(api)
    await dispatched(api, ticket)
    await submit(api, caller_phone="13900005678")  # the same problem again: a repeat call

    async def repeated() -> None:
        incident = (await status(api, ticket))["incident"]
        assert incident is not None and incident["latest_calls"], incident
        assert incident["latest_calls"][0]["caller_phone_masked"] == "139****5678"

    await eventually(repeated)
    gateway = api.as_person(Role.SENSOR_GATEWAY, "gateway-1")
    read = await api.http.get(f"/api/v1/tickets/{ticket}", headers=gateway)
    assert read.status_code == 200
    body = read.json()
    assert body["text"] is None and body["caller_phone_masked"] is None
    [call] = body["incident"]["latest_calls"]
    assert call["text"] is None and call["caller_phone_masked"] is None
    words = str(GARBAGE["text"])
    assert words not in read.text
    supervisor = await api.http.get(
        f"/api/v1/tickets/{ticket}", headers=api.as_role(Role.SUPERVISOR)
    )
    assert supervisor.json()["text"] == words


async def test_expired_and_revoked_keys_are_refused(api: Api) -> None:
    now = datetime.now(UTC)
    expired = create_key(
        api.engine, Role.SUPERVISOR, person=SUPERVISOR, expires_at=now - timedelta(seconds=1)
    )
    refused = await api.http.get("/api/v1/tickets", headers={"X-API-Key": expired})
    assert refused.status_code == 401
    live = create_key(api.engine, Role.SUPERVISOR, person=SUPERVISOR)
    assert (await api.http.get("/api/v1/tickets", headers={"X-API-Key": live})).status_code == 200
    assert revoke_key(api.engine, live.split("_")[1])
    gone = await api.http.get("/api/v1/tickets", headers={"X-API-Key": live})
    assert gone.status_code == 401


async def test_an_accept_link_dies_when_the_ticket_moves_to_someone_else(api: Api) -> None:
    ticket = await submit(api, **MANHOLE)
    found = await dispatched(api, ticket)
    assignee = found["assignee_id"]
    expires = datetime.now(UTC) + timedelta(hours=1)
    token = sign_accept_token(ticket, assignee, expires, api.settings.secret)
    confirm = await api.http.get(f"/a/{token}")
    assert confirm.status_code == 200  # the confirm page changes nothing
    station = f"{found['street_code']}-01"
    moved = await act(
        api,
        ticket,
        "transfer",
        {"target_unit": station, "reason": "由居委处理"},
        headers=api.as_person(Role.SUPERVISOR, assignee),  # the street hands it down
    )
    assert moved.status_code == 200, moved.text
    now_with = moved.json()["assignee_id"]
    assert now_with != assignee
    opened = await api.http.get(f"/a/{token}")  # the confirm page looks at the live ticket
    assert opened.status_code == 410 and "<form" not in opened.text
    assert now_with not in opened.text
    stale = await api.http.post(f"/a/{token}")
    assert stale.status_code == 410 and "链接已失效" in stale.text
    assert now_with not in stale.text and moved.json()["assignee_name"] not in stale.text
    after = await status(api, ticket)
    assert after["stage"] == "awaiting_accept" and after["accepted_by"] is None
    # The new assignee's own link works, once; a second tap says so and changes nothing.
    theirs = sign_accept_token(ticket, now_with, expires, api.settings.secret)
    assert (await api.http.post(f"/a/{theirs}")).status_code == 200
    again = await api.http.post(f"/a/{theirs}")
    assert again.status_code == 200 and "Already accepted" in again.text
    assert (await status(api, ticket))["accepted_by"] == now_with
    assert (await api.http.post(f"/a/{token}")).status_code == 410  # still dead
