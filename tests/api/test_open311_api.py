"""Open311 GeoReport v2 as a client sends it (form-encoded), on a real dev server:
services, a request round trip, the request list, and errors in the spec's shape."""

from __future__ import annotations

from typing import Any

from cityops.api.keys import Role
from tests.api.stack import Api
from tests.conftest import eventually

FORM = {
    "service_code": "PS03",
    "lat": "31.2051",
    "long": "121.6003",
    "address_string": "浦东新区张江镇碧波路690号",
    "description": "井盖松动",
    "first_name": "三",
    "last_name": "张",
    "phone": "13900001234",
}


async def _post(api: Api, form: dict[str, str], key: Role | None = Role.HOTLINE_AGENT) -> Any:
    data = {**form, "api_key": api.keys[key]} if key else form
    return await api.http.post("/open311/v2/requests.json", data=data)


async def test_services_are_the_57_scenarios(api: Api) -> None:
    response = await api.http.get("/open311/v2/services.json")
    assert response.status_code == 200
    services = response.json()
    assert len(services) == 57
    ps03 = next(s for s in services if s["service_code"] == "PS03")
    assert ps03["metadata"] is False and ps03["type"] == "realtime" and ps03["group"]
    definition = await api.http.get("/open311/v2/services/PS03.json")
    assert definition.json() == {"service_code": "PS03", "attributes": []}


async def test_a_request_round_trip_keeps_the_service_code_and_shows_progress(api: Api) -> None:
    posted = await _post(api, FORM)
    assert posted.status_code == 201, posted.text
    (receipt,) = posted.json()
    request_id = receipt["service_request_id"]
    assert set(receipt) == {"service_request_id", "service_notice", "account_id"}

    async def dispatched() -> dict[str, Any]:
        response = await api.http.get(f"/open311/v2/requests/{request_id}.json")
        assert response.status_code == 200
        (request,) = response.json()
        assert request["status_notes"] == "awaiting_accept"
        return dict(request)

    request = await eventually(dispatched)
    assert request["service_code"] == "PS03"  # named by the client, not classified
    assert request["status"] == "open"
    assert request["agency_responsible"] == "T01"
    assert request["requested_datetime"]
    assert request["expected_datetime"] is None  # the resolve clock starts at accept

    async def listed() -> None:
        response = await api.http.get(
            "/open311/v2/requests.json", params={"service_request_id": request_id, "status": "open"}
        )
        assert [r["service_request_id"] for r in response.json()] == [request_id]

    await eventually(listed)


async def test_a_request_without_service_code_or_location_is_400_in_spec_shape(api: Api) -> None:
    missing_code = await _post(api, {k: v for k, v in FORM.items() if k != "service_code"})
    assert missing_code.status_code == 400
    assert missing_code.json() == [{"code": 400, "description": "service_code: required"}]
    unknown = await _post(api, {**FORM, "service_code": "ZZ99"})
    assert unknown.status_code == 400 and "unknown service" in unknown.json()[0]["description"]
    nowhere = await _post(api, {"service_code": "PS03", "description": "x"})
    assert nowhere.json()[0]["description"].startswith("location:")
    bad_lat = await _post(api, {**FORM, "lat": "north"})
    assert bad_lat.json()[0]["description"].startswith("lat:")


async def test_a_request_needs_a_hotline_key(api: Api) -> None:
    none = await _post(api, FORM, key=None)
    assert none.status_code == 401 and none.json()[0]["description"].startswith("api_key:")
    wrong = await _post(api, FORM, key=Role.SENSOR_GATEWAY)
    assert wrong.status_code == 403


async def test_hotline_tickets_are_not_visible_through_open311(api: Api) -> None:
    submitted = await api.http.post(
        "/api/v1/tickets",
        json={"text": "路灯不亮", "address": "张江镇"},
        headers=api.as_role(Role.HOTLINE_AGENT),
    )
    ticket = submitted.json()["ticket_id"]
    response = await api.http.get(f"/open311/v2/requests/{ticket}.json")
    assert response.status_code == 404
    bad = await api.http.get("/open311/v2/requests.json", params={"status": "maybe"})
    assert bad.status_code == 400 and bad.json()[0]["description"].startswith("status:")
