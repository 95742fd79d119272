"""Open311 GeoReport v2 as an outside client uses it: the third-party `georeport` client
(JSON and XML) against the API on a real HTTP server and a real dev server; requests are
posted form-encoded, as Open311 clients send them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
import requests
from georeport import GeoReport
from sqlmodel import Session

from cityops.api.keys import Role
from cityops.db.open311 import Open311RequestRow
from tests.api.stack import Api, Organisation
from tests.conftest import eventually

JURISDICTION = "pudong.shanghai"
FORM = {
    "jurisdiction_id": JURISDICTION,
    "service_code": "PS03",
    "lat": "31.2051",
    "long": "121.6003",
    "address_string": "浦东新区张江镇碧波路690号",
    "description": "井盖松动",
    "media_url": "https://photos.example/ps03/1.jpg",
    "email": "zhang@example.cn",
    "first_name": "三",
    "last_name": "张",
    "phone": "13900001234",
}


def client(api: Api, fmt: str = "json", jurisdiction: str | None = JURISDICTION) -> GeoReport:
    return GeoReport(f"{api.base_url}/open311/v2", jurisdiction=jurisdiction, output_format=fmt)


async def _post(
    api: Api, form: dict[str, str], key: Role | None = Role.HOTLINE_AGENT, fmt: str = "json"
) -> Any:
    data = {**form, "api_key": api.keys[key]} if key else form
    return await api.http.post(f"/open311/v2/requests.{fmt}", data=data)


async def test_services_are_the_57_scenarios_in_json_and_xml(served: Api) -> None:
    as_json = await asyncio.to_thread(client(served).get_service_list)
    as_xml = await asyncio.to_thread(client(served, "xml").get_service_list)
    assert len(as_json) == len(as_xml) == 57
    ps03 = next(s for s in as_json if s["service_code"] == "PS03")
    assert ps03["metadata"] is False and ps03["type"] == "realtime" and ps03["group"]
    ps03_xml = next(s for s in as_xml if s["service_code"] == "PS03")
    assert ps03_xml["metadata"] == "false" and ps03_xml["service_name"] == ps03["service_name"]
    definition = await asyncio.to_thread(client(served).get_service_definition, "PS03")
    assert definition == {"service_code": "PS03", "attributes": []}
    definition_xml = await asyncio.to_thread(client(served, "xml").get_service_definition, "PS03")
    assert definition_xml == {"service_code": "PS03", "attributes": None}


async def test_a_request_round_trips_in_json_and_xml(served: Api, org: Organisation) -> None:
    posted = await _post(served, FORM, fmt="xml")
    assert posted.status_code == 201, posted.text
    receipt = ElementTree.fromstring(posted.text).find("request")
    assert receipt is not None
    request_id = receipt.findtext("service_request_id")
    assert request_id

    async def dispatched() -> dict[str, Any]:
        request = await asyncio.to_thread(client(served).get_service_request, request_id)
        assert request["status_notes"] == "awaiting_accept"
        return dict(request)

    request = await eventually(dispatched, timeout=20)
    assert request["service_code"] == "PS03"  # named by the client, not classified
    assert request["status"] == "open"
    assert (request["lat"], request["long"]) == (31.2051, 121.6003)
    assert request["address"] == FORM["address_string"]
    assert request["description"] == FORM["description"]
    assert request["media_url"] == FORM["media_url"]
    assert request["agency_responsible"] == org.router.directory.unit("T01").name
    assert request["requested_datetime"] and request["expected_datetime"] is None
    as_xml = await asyncio.to_thread(client(served, "xml").get_service_request, request_id)
    assert as_xml["lat"] == "31.2051" and as_xml["media_url"] == FORM["media_url"]
    assert as_xml["agency_responsible"] == request["agency_responsible"]

    async def listed() -> None:
        for fmt in ("json", "xml"):
            rows = await asyncio.to_thread(
                client(served, fmt).get_service_requests,
                service_code="CA01,PS03",
                status="open,closed",
            )
            rows = [rows] if isinstance(rows, dict) else rows
            mine = [r for r in rows if r["service_request_id"] == request_id]
            assert len(mine) == 1 and mine[0]["description"] == FORM["description"]
            assert str(mine[0]["long"]) == "121.6003" and mine[0]["status"] == "open"

    await eventually(listed, timeout=20)
    closed_only = await asyncio.to_thread(
        client(served).get_service_requests, service_request_id=request_id, status="closed"
    )
    assert closed_only == []


async def test_the_list_covers_90_days_by_default_and_answers_at_most_1000(
    served: Api,
) -> None:
    now = datetime.now(UTC)
    tag = now.strftime("%H%M%S%f")
    old = Open311RequestRow(
        ticket_id=f"OLD{tag}",
        jurisdiction_id=JURISDICTION,
        service_code="XX01",
        requested_at=now - timedelta(days=100),
    )
    many = [
        Open311RequestRow(
            ticket_id=f"MANY{i}X{tag}",
            jurisdiction_id=JURISDICTION,
            service_code="XX02",
            requested_at=now - timedelta(days=30, seconds=i),
        )
        for i in range(1005)
    ]
    with Session(served.engine, expire_on_commit=False) as session:
        session.add_all([old, *many])
        session.commit()
    geo = client(served)
    recent = await asyncio.to_thread(geo.get_service_requests, service_code="XX01")
    assert recent == []  # older than 90 days
    start = (now - timedelta(days=101)).isoformat()
    end = (now - timedelta(days=99)).isoformat()
    dated = await asyncio.to_thread(
        geo.get_service_requests, service_code="XX01", start_date=start, end_date=end
    )
    assert [r["service_request_id"] for r in dated] == [old.ticket_id]
    capped = await asyncio.to_thread(geo.get_service_requests, service_code="XX02")
    assert len(capped) == 1000
    assert capped[0]["service_request_id"] == f"MANY0X{tag}"  # newest first
    too_long = await served.http.get(
        "/open311/v2/requests.json",
        params={"start_date": (now - timedelta(days=200)).isoformat(), "end_date": end},
    )
    assert too_long.status_code == 400
    assert too_long.json()[0]["description"].startswith("start_date/end_date")


async def test_jurisdiction_and_errors_keep_the_open311_shape_everywhere(served: Api) -> None:
    with pytest.raises(requests.HTTPError) as elsewhere:
        await asyncio.to_thread(client(served, jurisdiction="chicago.il").get_service_list)
    refused = elsewhere.value.response
    assert refused is not None and refused.status_code == 404
    assert refused.json()[0]["description"].startswith("jurisdiction_id:")
    for path, status in [
        ("/open311/v2/nothing", 404),
        ("/open311/v2/requests/NOPE123.json", 404),
        ("/open311/v2/services/ZZ99.json", 404),
        ("/open311/v2/requests.json?status=maybe", 400),
        ("/open311/v2/requests.json?service_code=ps03", 400),
        ("/open311/v2/services.txt", 404),
    ]:
        response = await served.http.get(path)
        assert response.status_code == status, path
        (error,) = response.json()
        assert error["code"] == status and error["description"], path
    xml = await served.http.get("/open311/v2/nothing.xml")
    assert xml.status_code == 404 and xml.headers["content-type"].startswith("application/xml")
    assert ElementTree.fromstring(xml.text).findtext("error/code") == "404"
    wrong_method = await served.http.delete("/open311/v2/requests.json")
    assert wrong_method.status_code == 405 and wrong_method.json()[0]["code"] == 405


async def test_a_request_without_service_code_or_location_is_400_in_spec_shape(
    served: Api,
) -> None:
    missing_code = await _post(served, {k: v for k, v in FORM.items() if k != "service_code"})
    assert missing_code.status_code == 400
    assert missing_code.json() == [{"code": 400, "description": "service_code: required"}]
    unknown = await _post(served, {**FORM, "service_code": "ZZ99"})
    assert unknown.status_code == 400 and "unknown service" in unknown.json()[0]["description"]
    nowhere = await _post(served, {"service_code": "PS03", "description": "x"})
    assert nowhere.json()[0]["description"].startswith("location:")
    bad_lat = await _post(served, {**FORM, "lat": "north"})
    assert bad_lat.json()[0]["description"].startswith("lat:")
    bad_email = await _post(served, {**FORM, "email": "not-an-address"})
    assert bad_email.json()[0]["description"].startswith("email:")
    other = await _post(served, {**FORM, "jurisdiction_id": "nyc.ny"})
    assert other.status_code == 404


async def test_a_request_outside_the_jurisdiction_is_an_open311_error(served: Api) -> None:
    new_york = await _post(served, {**FORM, "lat": "40.7128", "long": "-74.0060"})
    assert new_york.status_code == 400
    assert "outside" in new_york.json()[0]["description"]
    as_xml = await _post(served, {**FORM, "lat": "0", "long": "0"}, fmt="xml")
    assert as_xml.status_code == 400
    assert "outside" in (ElementTree.fromstring(as_xml.text).findtext("error/description") or "")


async def test_a_request_needs_a_hotline_key(served: Api) -> None:
    none = await _post(served, FORM, key=None)
    assert none.status_code == 401 and none.json()[0]["description"].startswith("api_key:")
    wrong = await _post(served, FORM, key=Role.SENSOR_GATEWAY)
    assert wrong.status_code == 403


async def test_hotline_tickets_are_not_visible_through_open311(served: Api) -> None:
    submitted = await served.http.post(
        "/api/v1/tickets",
        json={"text": "路灯不亮", "address": "张江镇"},
        headers=served.as_role(Role.HOTLINE_AGENT),
    )
    ticket = submitted.json()["ticket_id"]
    response = await served.http.get(f"/open311/v2/requests/{ticket}.json")
    assert response.status_code == 404
