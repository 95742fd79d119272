"""Scope at the edges (issue #14): a street gateway posts only for its street (the rest
is refused, kept and replayable), dead letters and maintenance windows are listed by
scope, and the public Open311 reads name no person."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from cityops.api.context import AppContext
from cityops.api.keys import Role
from cityops.db.deadletters import get_letters
from cityops.domain.models import AlarmEvent
from tests.api.stack import Api
from tests.api.test_alarms_api import gas as alarm
from tests.api.test_open311_api import FORM, _post
from tests.conftest import eventually

AT = datetime(2026, 12, 2, 1, 30, tzinfo=UTC)  # a pinned instant: the event's own time


def gas(event_id: str) -> dict[str, Any]:
    return alarm(event_id, device=f"GAS-{event_id}", at=AT)


def streets(api: Api) -> tuple[str, str]:
    """The street the test event lies in, and another."""
    context: AppContext = api.app.state.context
    own = context.alarms.locate(AlarmEvent.model_validate(gas("probe")))
    assert own.street_code is not None
    return own.street_code, ("T02" if own.street_code != "T02" else "T03")


def unique(prefix: str) -> str:
    return f"{prefix}{datetime.now(UTC).strftime('%H%M%S%f')}"


async def test_a_street_gateway_posts_for_its_street_and_the_rest_is_kept_to_replay(
    api: Api,
) -> None:
    own, other = streets(api)
    mine = api.as_person(Role.SENSOR_GATEWAY, "gateway-own", own)
    theirs = api.as_person(Role.SENSOR_GATEWAY, "gateway-other", other)
    inside, outside = gas(unique("in")), gas(unique("out"))
    taken = await api.http.post("/api/v1/alarms", json=inside, headers=mine)
    assert taken.status_code == 200 and taken.json()["results"][0]["outcome"] == "new_ticket"
    refused = await api.http.post("/api/v1/alarms", json=[outside], headers=theirs)
    result = refused.json()["results"][0]
    assert refused.status_code == 200 and result["outcome"] == "rejected"
    assert result["field"] == "site" and f"street:{other}" in result["reason"]
    assert f"street {own}" in result["reason"]
    (letter,) = get_letters(api.engine, [result["dead_letter_id"]])
    assert letter.status == "open" and outside["event_id"] in letter.payload  # replayable
    # Dead letters carry no street: a street key sees those of its own posts.
    seen_by_theirs = await api.http.get("/api/v1/alarms/rejected?status=all", headers=theirs)
    assert result["dead_letter_id"] in [r["letter_id"] for r in seen_by_theirs.json()]
    seen_by_mine = await api.http.get("/api/v1/alarms/rejected?status=all", headers=mine)
    assert seen_by_mine.status_code == 200
    assert result["dead_letter_id"] not in [r["letter_id"] for r in seen_by_mine.json()]
    district = await api.http.get(
        "/api/v1/alarms/rejected?status=all&limit=1000", headers=api.as_role(Role.SENSOR_GATEWAY)
    )
    assert result["dead_letter_id"] in [r["letter_id"] for r in district.json()]


async def window(api: Api, key: dict[str, str], person: str, device: str) -> dict[str, Any]:
    body = {
        "device_id": device,
        "starts_at": "2099-01-01T08:00:00+08:00",
        "ends_at": "2099-01-01T18:00:00+08:00",
        "reason": "管线迁改",
        "created_by": person,
    }
    made = await api.http.post("/api/v1/silences", json=body, headers=key)
    assert made.status_code == 201, made.text
    return dict(made.json())


async def test_a_street_key_sees_its_streets_windows_and_the_districts_not_others(
    api: Api,
) -> None:
    t01 = api.as_person(Role.RESPONDER, "P-T01-1", "T01")
    t02 = api.as_person(Role.RESPONDER, "P-T02-1", "T02")
    district = api.as_person(Role.SUPERVISOR, "P-DISTRICT-1")
    ours = await window(api, t01, "P-T01-1", unique("D1-"))
    theirs = await window(api, t02, "P-T02-1", unique("D2-"))
    everyone = await window(api, district, "P-DISTRICT-1", unique("D3-"))
    assert (ours["street_code"], everyone["street_code"]) == ("T01", None)
    listed = await api.http.get("/api/v1/silences?limit=500", headers=t01)
    ids = {w["silence_id"] for w in listed.json()}
    assert ours["silence_id"] in ids and everyone["silence_id"] in ids
    assert theirs["silence_id"] not in ids
    all_ids = {
        w["silence_id"]
        for w in (await api.http.get("/api/v1/silences?limit=500", headers=district)).json()
    }
    assert {ours["silence_id"], theirs["silence_id"], everyone["silence_id"]} <= all_ids
    other_street = await api.http.get(f"/api/v1/silences/{theirs['silence_id']}", headers=t01)
    assert other_street.status_code == 404
    end_theirs = await api.http.post(f"/api/v1/silences/{theirs['silence_id']}/end", headers=t01)
    assert end_theirs.status_code == 404
    end_district = await api.http.post(
        f"/api/v1/silences/{everyone['silence_id']}/end", headers=t01
    )
    assert end_district.status_code == 403 and "street:T01" in end_district.json()["detail"]
    end_ours = await api.http.post(f"/api/v1/silences/{ours['silence_id']}/end", headers=t01)
    assert end_ours.status_code == 200 and end_ours.json()["ended_by"] == "P-T01-1"


async def test_open311_reads_name_no_person(api: Api) -> None:
    posted = await _post(api, FORM)
    assert posted.status_code == 201, posted.text
    ticket = posted.json()[0]["service_request_id"]

    async def assigned() -> str:
        read = await api.http.get(f"/api/v1/tickets/{ticket}", headers=api.as_role(Role.SUPERVISOR))
        assert read.status_code == 200 and read.json()["assignee_id"], read.text
        return str(read.json()["assignee_id"])

    assignee = await eventually(assigned, timeout=20)
    for path in (f"/open311/v2/requests/{ticket}.json", f"/open311/v2/requests/{ticket}.xml"):
        page = await api.http.get(path, params={"jurisdiction_id": "pudong.shanghai"})
        assert page.status_code == 200, page.text
        assert ticket in page.text
        assert assignee not in page.text and not re.search(r"\bP-[A-Z0-9-]+", page.text)
        for private in ("assignee", "person", FORM["phone"], FORM["email"], "张三", "三张"):
            assert private not in page.text, (path, private)
