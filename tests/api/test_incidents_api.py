"""Incidents and maintenance windows over HTTP on a real dev server: repeat calls about
one manhole cover join one incident, a resident's call about what the gas detector
already reported is 'known from sensors', the dev alarm set's storms and repeats with a
window over one street's devices, protected scenarios need a supervisor, an ended
window stops silencing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cityops.api.keys import Role
from cityops.db.audit import AlarmOutcome
from cityops.service import tickets
from tests.api.stack import Api
from tests.conftest import DATA, eventually

DEV_ALARMS = [
    json.loads(line) for line in (DATA / "dev_alarms.jsonl").read_text().splitlines() if line
]
# The dev set's events carry their own fixed instants (November 2026): a window over them
# starts before the first of them, not at a distance from the wall clock.
DEV_ALARMS_FROM = min(datetime.fromisoformat(e["occurred_at"]) for e in DEV_ALARMS) - timedelta(
    minutes=1
)


EXPECTED_OUTCOME = {
    "new_ticket": "new_ticket",
    "same_ticket": "joined",
    "resolves": "joined",
    "no_ticket": "silenced",  # construction noise by day: a rule says it is no alarm
}


def unique(prefix: str) -> str:
    return f"{prefix}{datetime.now(UTC).strftime('%H%M%S%f')}"


async def call(api: Api, **body: Any) -> dict[str, Any]:
    response = await api.http.post(
        "/api/v1/tickets", json=body, headers=api.as_role(Role.HOTLINE_AGENT)
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def incident(api: Api, incident_id: str) -> dict[str, Any]:
    response = await api.http.get(
        f"/api/v1/incidents/{incident_id}", headers=api.as_role(Role.SUPERVISOR)
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_two_calls_about_one_missing_cover_are_one_incident(api: Api) -> None:
    number = unique("")[-6:]  # a house number no other test uses
    first = await call(
        api,
        text=f"碧波路{number}号门口井盖不见了，晚上很危险",
        address=f"浦东新区张江镇碧波路{number}号",
        caller_name="王先生",
        caller_phone="13900001234",
    )
    second = await call(
        api,
        text=f"碧波路{number}号门口的井盖没了，有人差点掉下去",
        address=f"碧波路 {number} 号门口",
        caller_name="李女士",
        caller_phone="13900005678",
    )
    assert first["link"] == "new" and first["incident_id"]
    assert second["ticket_id"] != first["ticket_id"]  # each caller keeps a number
    assert second["link"] == "repeat_call"
    assert second["incident_id"] == first["incident_id"]
    assert second["primary_ticket_id"] == first["ticket_id"]
    body = await incident(api, first["incident_id"])
    assert body["scenario_id"] == "PS03" and body["open"] is True
    assert body["repeat_calls"] == 1 and body["ticket_count"] == 2
    assert body["known_from_sensors"] is False
    assert [(t["ticket_id"], t["role"]) for t in body["tickets"]] == [
        (first["ticket_id"], "first"),
        (second["ticket_id"], "repeat_call"),
    ]
    assert body["tickets"][1]["basis"] == "address"
    assert body["first_report_at"] <= body["last_report_at"]

    async def both_listed() -> None:  # the Temporal UI's filter, through the API's list
        rows = await tickets.list_tickets(api.client, f"TicketIncident = '{first['incident_id']}'")
        assert {r.ticket_id for r in rows} == {first["ticket_id"], second["ticket_id"]}

    await eventually(both_listed)

    async def waits_on_the_first() -> None:  # no second dispatch of the same cover
        repeat = await tickets.status(api.client, second["ticket_id"])
        assert repeat.incident is not None and repeat.incident.waiting_on_primary
        assert repeat.assignee_id is None and repeat.stage.value == "classified"
        primary = await tickets.status(api.client, first["ticket_id"])
        assert primary.incident is not None and primary.incident.repeat_calls == 1
        assert [c.ticket_id for c in primary.incident.latest_calls] == [second["ticket_id"]]
        assert primary.incident.latest_calls[0].caller_phone_masked == "139****5678"

    await eventually(waits_on_the_first)


async def test_a_call_about_what_the_gas_detector_reported_is_known_from_sensors(
    api: Api,
) -> None:
    template = next(e for e in DEV_ALARMS if e["sensor_type"] == "gas_detector")
    device = unique("GAS-S02-")
    lat = 31.1 + int(unique("")[-4:]) / 1e6  # a point no other test uses
    event = {
        **{k: v for k, v in template.items() if not k.startswith("expect")},
        "event_id": unique("gas"),
        "device_id": device,
        "lat": lat,
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    alarm = await api.http.post(
        "/api/v1/alarms", json=event, headers=api.as_role(Role.SENSOR_GATEWAY)
    )
    alarm_ticket = alarm.json()["results"][0]["ticket_id"]
    resident = await call(
        api,
        text="菜市场燃气表房那边有很浓的燃气味，臭鸡蛋味",
        address="华林路菜市场",
        lat=lat + 0.0005,  # about 55 m away
        lon=template["lon"],
    )
    assert resident["link"] == "known_from_sensors"
    assert resident["primary_ticket_id"] == alarm_ticket
    body = await incident(api, resident["incident_id"])
    assert body["known_from_sensors"] is True
    assert set(body["sources"]) == {"iot", "hotline"}
    assert body["tickets"][0]["ticket_id"] == alarm_ticket
    listed = await api.http.get(
        "/api/v1/incidents",
        params={"scenario": "PS01", "open": "true"},
        headers=api.as_role(Role.SUPERVISOR),
    )
    assert resident["incident_id"] in [i["incident_id"] for i in listed.json()]

    async def alarm_ticket_joined() -> None:  # the alarm ticket started before the incident
        query = f"TicketIncident = '{resident['incident_id']}'"
        rows = await tickets.list_tickets(api.client, query)
        assert {r.ticket_id for r in rows} == {alarm_ticket, resident["ticket_id"]}
        waiting = await tickets.status(api.client, resident["ticket_id"])
        assert waiting.incident is not None and waiting.incident.waiting_on_primary
        sensor = await tickets.status(api.client, alarm_ticket)
        assert sensor.incident is not None and sensor.incident.repeat_calls == 1

    await eventually(alarm_ticket_joined)


async def add_window(
    api: Api, role: Role = Role.RESPONDER, person: str = "P-T15-1", **spec: Any
) -> Any:
    """A window planned by `person` with a key of theirs (created_by is theirs)."""
    now = datetime.now(UTC)
    body = {
        "starts_at": (now - timedelta(days=60)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "reason": "道路开挖（管线迁改）",
        "created_by": person,
        **spec,
    }
    return await api.http.post("/api/v1/silences", json=body, headers=api.as_person(role, person))


async def test_the_dev_alarm_set_with_a_window_over_one_street(api: Api) -> None:
    """Every event of tests/data/dev_alarms.jsonl (storms, repeats, a duplicate); a window
    over the T15 manhole covers swallows that device's storm of four, and only it."""
    suffix = unique("-")
    prefix = f"MHC-T15{suffix}"
    window = await add_window(api, device_prefix=prefix, starts_at=DEV_ALARMS_FROM.isoformat())
    assert window.status_code == 201, window.text
    events = []
    for raw in DEV_ALARMS:
        event = {k: v for k, v in raw.items() if not k.startswith("expect")}
        device = event["device_id"]
        event["device_id"] = (
            f"{prefix}{device}" if device.startswith("MHC-T15") else f"{device}{suffix}"
        )
        event["event_id"] = f"{event['event_id']}{suffix}"
        events.append(event)
    responses = []
    for event in events:  # one by one, as a gateway sends them over time
        response = await api.http.post(
            "/api/v1/alarms", json=event, headers=api.as_role(Role.SENSOR_GATEWAY)
        )
        responses.append(response.json()["results"][0])
    results = [r["outcome"] for r in responses]
    seen: set[str] = set()
    expected = []
    for raw in DEV_ALARMS:
        if raw["event_id"] in seen:
            expected.append("duplicate")  # the dev set re-sends one event_id
        elif raw["device_id"] == "MHC-T15-00006":
            expected.append(AlarmOutcome.IN_WINDOW.value)
        else:
            expected.append(EXPECTED_OUTCOME[raw["expect"]])
        seen.add(raw["event_id"])
    assert results == expected
    assert expected.count(AlarmOutcome.IN_WINDOW.value) == 4
    counted = await api.http.get(
        f"/api/v1/silences/{window.json()['silence_id']}", headers=api.as_role(Role.RESPONDER)
    )
    assert counted.json()["events_silenced"] == 4
    storm = [
        r for r in responses if r["outcome"] == "new_ticket" and r.get("incident_id") is not None
    ]
    assert storm  # the dev set's storms are grouped into incidents after their tickets start

    async def listed_by_incident() -> None:
        for result in storm:
            rows = await tickets.list_tickets(
                api.client, f"TicketIncident = '{result['incident_id']}'"
            )
            assert result["ticket_id"] in {r.ticket_id for r in rows}

    await eventually(listed_by_incident)


async def test_gas_is_silenced_only_with_a_supervisors_override(api: Api) -> None:
    refused = await add_window(api, scenario_ids=["PS01"], device_prefix="GAS-X")
    assert refused.status_code == 422 and "override" in refused.json()["detail"]
    by_responder = await add_window(
        api, scenario_ids=["PS01"], device_prefix="GAS-X", override_by="P-T15-1"
    )
    assert by_responder.status_code == 403
    device = unique("GAS-AREA-")
    area = await add_window(
        api, area={"shape": "circle", "lat": 30.95, "lon": 121.9, "radius_m": 50}
    )
    assert area.status_code == 201
    gas = {
        "event_id": unique("g"),
        "device_id": device,
        "sensor_type": "gas_detector",
        "metric": "lel_percent",
        "value": 30,
        "status": "firing",
        "lat": 30.95,
        "lon": 121.9,
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    headers = api.as_role(Role.SENSOR_GATEWAY)
    opened = (await api.http.post("/api/v1/alarms", json=gas, headers=headers)).json()
    assert opened["results"][0]["outcome"] == "new_ticket"  # the area window may not hide gas
    overridden = await add_window(
        api,
        Role.SUPERVISOR,
        "P-DISTRICT-SUP",
        device_prefix=f"{device}-2",
        scenario_ids=["PS01"],
        override_by="P-DISTRICT-SUP",
        reason="燃气公司计划检修，已关阀",
    )
    assert overridden.status_code == 201
    later = {**gas, "event_id": unique("g"), "device_id": f"{device}-2"}
    hidden = (await api.http.post("/api/v1/alarms", json=later, headers=headers)).json()
    assert hidden["results"][0]["outcome"] == "in_window"
    ended = await api.http.post(
        f"/api/v1/silences/{overridden.json()['silence_id']}/end",
        json={"by": "P-DISTRICT-SUP"},
        headers=api.as_person(Role.SUPERVISOR, "P-DISTRICT-SUP"),
    )
    assert ended.status_code == 200 and ended.json()["ended_by"] == "P-DISTRICT-SUP"
    after = {**later, "event_id": unique("g"), "occurred_at": datetime.now(UTC).isoformat()}
    reopened = (await api.http.post("/api/v1/alarms", json=after, headers=headers)).json()
    assert reopened["results"][0]["outcome"] == "new_ticket"
    listed = await api.http.get("/api/v1/silences", headers=api.as_role(Role.RESPONDER))
    ids = [s["silence_id"] for s in listed.json()]
    assert area.json()["silence_id"] in ids and overridden.json()["silence_id"] not in ids


async def test_a_polygon_window_swallows_what_falls_inside_it_only(api: Api) -> None:
    """An area window drawn as a polygon over a dug-up junction (the circle is tested with
    gas above): a cover inside it is in_window and counted, one outside opens a ticket."""
    lat = 31.03 + int(unique("")[-4:]) / 1e7  # a spot no other test's window covers
    lon = 121.640407
    corners = [[lat - 0.001, lon - 0.001], [lat - 0.001, lon + 0.001], [lat + 0.001, lon]]
    window = await add_window(api, area={"shape": "polygon", "points": corners})
    assert window.status_code == 201, window.text
    assert window.json()["area"]["shape"] == "polygon"
    template = next(e for e in DEV_ALARMS if e["device_id"] == "MHC-T15-00006")
    headers = api.as_role(Role.SENSOR_GATEWAY)
    outcomes = []
    for place in ((lat, lon), (lat + 0.01, lon)):  # inside; about 1.1 km north
        event = {
            **{k: v for k, v in template.items() if not k.startswith("expect")},
            "event_id": unique("poly"),
            "device_id": unique("MHC-POLY-"),
            "lat": place[0],
            "lon": place[1],
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        response = await api.http.post("/api/v1/alarms", json=event, headers=headers)
        outcomes.append(response.json()["results"][0]["outcome"])
    assert outcomes == ["in_window", "new_ticket"]
    counted = await api.http.get(
        f"/api/v1/silences/{window.json()['silence_id']}", headers=api.as_role(Role.RESPONDER)
    )
    assert counted.json()["events_silenced"] == 1
