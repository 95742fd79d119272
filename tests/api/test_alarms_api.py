"""Alarm events over HTTP and the Alertmanager webhook, on a real dev server: one ticket
per open device alarm, repeats join it, duplicates are recorded once, resolved events
reach the ticket, incidents group streets, storms lose nothing, bad batches write nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import WorkflowExecutionStatus

from cityops.api.keys import Role
from cityops.db.audit import AlarmOutcome, count_events, events_of_ticket
from cityops.service import tickets
from tests.api.stack import Api
from tests.conftest import DATA, eventually

DEV_ALARMS = [
    json.loads(line) for line in (DATA / "dev_alarms.jsonl").read_text().splitlines() if line
]
EXPECTED_OUTCOME = {
    "new_ticket": "new_ticket",
    "same_ticket": "joined",
    "resolves": "joined",
    "no_ticket": "silenced",
}


def gas(
    event_id: str, device: str = "GAS-T01-09001", status: str = "firing", at: datetime | None = None
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "device_id": device,
        "sensor_type": "gas_detector",
        "metric": "lel_percent",
        "value": 27.5,
        "unit": "%LEL",
        "status": status,
        "lat": 31.2051,
        "lon": 121.6003,
        "occurred_at": (at or datetime.now(UTC)).isoformat(),
        "attributes": {"site": "碧波路690号地下车库"},
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{datetime.now(UTC).strftime('%H%M%S%f')}"


async def post(api: Api, payload: Any, path: str = "/api/v1/alarms") -> Any:
    response = await api.http.post(path, json=payload, headers=api.as_role(Role.SENSOR_GATEWAY))
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_firing_opens_a_ticket_and_repeats_join_it(api: Api) -> None:
    device = unique("GAS")
    first = await post(api, gas(unique("e1"), device))
    result = first["results"][0]
    assert result["outcome"] == "new_ticket" and result["scenario_id"] == "PS01"
    assert result["ticket_id"].startswith("AL")
    repeats = await post(api, [gas(unique(f"e{i}"), device) for i in range(2, 5)])
    assert {r["outcome"] for r in repeats["results"]} == {"joined"}
    assert {r["ticket_id"] for r in repeats["results"]} == {result["ticket_id"]}

    async def four_events() -> None:
        status = await tickets.status(api.client, result["ticket_id"])
        assert status.alarm_events == 4

    await eventually(four_events)
    assert len(events_of_ticket(api.engine, result["ticket_id"])) == 4


async def test_a_duplicate_event_id_is_recorded_once_and_not_delivered_again(api: Api) -> None:
    event = gas(unique("dup"), unique("GAS"))
    first = await post(api, event)
    again = await post(api, [event, event])
    assert [r["outcome"] for r in again["results"]] == ["duplicate", "duplicate"]
    ticket = first["results"][0]["ticket_id"]
    assert len(events_of_ticket(api.engine, ticket)) == 1
    status = await tickets.status(api.client, ticket)
    assert status.alarm_events == 1


async def test_a_resolved_event_reaches_the_open_ticket(api: Api) -> None:
    device = unique("GAS")
    opened = await post(api, gas(unique("f"), device))
    ticket = opened["results"][0]["ticket_id"]
    resolved = await post(api, gas(unique("r"), device, status="resolved"))
    assert resolved["results"][0]["outcome"] == "joined"
    assert resolved["results"][0]["ticket_id"] == ticket

    async def noted() -> None:
        status = await tickets.status(api.client, ticket)
        assert "alarm_resolved" in [entry.event for entry in status.history]

    await eventually(noted)


async def test_a_resolved_event_without_an_open_ticket_opens_nothing(api: Api) -> None:
    result = (await post(api, gas(unique("r"), unique("GAS"), status="resolved")))["results"][0]
    assert result["outcome"] == "silenced" and result["ticket_id"] is None
    assert result["reason"]


async def test_after_the_ticket_closes_a_new_firing_opens_a_new_ticket(api: Api) -> None:
    device = unique("GAS")
    first = (await post(api, gas(unique("a"), device)))["results"][0]["ticket_id"]

    async def dispatched() -> None:
        assert (await tickets.status(api.client, first)).assignee_id is not None

    await eventually(dispatched)
    ruling = await api.http.post(
        f"/api/v1/tickets/{first}/rule-closure",
        json={"by": "P-DIST-D", "reason": "device removed"},
        headers=api.as_person(Role.SUPERVISOR, "P-DIST-D"),
    )
    assert ruling.status_code == 200, ruling.text

    async def closed() -> None:  # the run has ended, not only reached its final stage
        handle = await tickets.resolve_handle(api.client, first)
        assert (await handle.describe()).status is WorkflowExecutionStatus.COMPLETED

    await eventually(closed)
    second = (await post(api, gas(unique("b"), device)))["results"][0]
    assert second["outcome"] == "new_ticket"
    assert second["ticket_id"] != first
    assert (await tickets.status(api.client, first)).stage.value == "closed_unfixed"


async def test_the_dev_alarms_replayed_in_order_give_the_expected_outcomes(api: Api) -> None:
    suffix = unique("")  # fresh device ids and event ids, so earlier tests do not interfere
    events = [
        {**e, "event_id": e["event_id"] + suffix, "device_id": e["device_id"] + suffix}
        for e in DEV_ALARMS
    ]
    outcomes = []
    for event in events:  # one by one, as a gateway would send them over time
        outcomes.append((await post(api, event))["results"][0])
    seen: set[str] = set()
    expected = []
    for event in DEV_ALARMS:  # the dev set re-sends one event_id: recorded once, a duplicate
        expected.append(
            "duplicate" if event["event_id"] in seen else EXPECTED_OUTCOME[event["expect"]]
        )
        seen.add(event["event_id"])
    assert [o["outcome"] for o in outcomes] == expected
    assert [o["scenario_id"] for o in outcomes if o["outcome"] == "new_ticket"] == [
        e["expected_scenario"] for e in DEV_ALARMS if e["expect"] == "new_ticket"
    ]


async def test_a_mixed_batch_takes_the_good_events_and_keeps_the_bad_one_as_a_dead_letter(
    api: Api,
) -> None:
    before = count_events(api.engine)
    naive = gas(unique("naive"))
    naive["occurred_at"] = "2026-11-28T09:14:03"  # no offset: cannot be placed in time
    batch = [gas(unique("ok1"), unique("GAS")), naive, gas(unique("ok2"), unique("GAS"))]
    body = await post(api, batch)
    assert body["received"] == 3
    assert [r["outcome"] for r in body["results"]] == ["new_ticket", "rejected", "new_ticket"]
    refused = body["results"][1]
    assert refused["index"] == 1 and refused["field"] == "occurred_at"
    assert refused["event_id"] == naive["event_id"] and refused["dead_letter_id"]
    assert count_events(api.engine) - before == 2
    listed = await api.http.get("/api/v1/alarms/rejected", headers=api.as_role(Role.SUPERVISOR))
    assert listed.status_code == 200
    letter = next(x for x in listed.json() if x["letter_id"] == refused["dead_letter_id"])
    assert letter["channel"] == "http" and letter["status"] == "open"
    assert json.loads(letter["payload"]) == naive
    assert "timezone" in letter["reason"] or "offset" in letter["reason"]


async def test_strict_types_refuse_a_boolean_coordinate(api: Api) -> None:
    body = await post(api, {**gas(unique("bool")), "lon": False})
    (result,) = body["results"]
    assert result["outcome"] == "rejected" and result["field"] == "lon"
    assert result["index"] == 0


async def test_a_batch_over_a_thousand_is_taken_in_chunks(api: Api) -> None:
    suffix = unique("")
    devices = [f"GAS-BIG-{d}{suffix}" for d in range(40)]
    events = [gas(f"big{i}{suffix}", devices[i % 40]) for i in range(1001)]
    body = await post(api, events)
    outcomes = [r["outcome"] for r in body["results"]]
    assert body["received"] == 1001 and len(outcomes) == 1001
    assert outcomes.count("new_ticket") == 40 and outcomes.count("joined") == 961
    assert [r["index"] for r in body["results"]] == list(range(1001))


async def test_only_a_body_that_is_not_json_or_not_events_is_422(api: Api) -> None:
    headers = api.as_role(Role.SENSOR_GATEWAY)
    text = await api.http.post("/api/v1/alarms", json="fire!", headers=headers)
    assert text.status_code == 422
    garbage = await api.http.post(
        "/api/v1/alarms",
        content=b"{not json",
        headers={**headers, "content-type": "application/json"},
    )
    assert garbage.status_code == 422 and garbage.json()["detail"][0]["loc"] == ["body"]
    empty = await api.http.post("/api/v1/alarms", json=[], headers=headers)
    assert empty.status_code == 200 and empty.json() == {"received": 0, "results": []}


async def test_alarms_need_a_sensor_gateway_key(api: Api) -> None:
    assert (await api.http.post("/api/v1/alarms", json=gas("k1"))).status_code == 401
    responder = await api.http.post(
        "/api/v1/alarms", json=gas("k2"), headers=api.as_role(Role.RESPONDER)
    )
    assert responder.status_code == 403


async def test_flooding_in_one_street_is_one_incident_linking_each_devices_ticket(api: Api) -> None:
    template = next(e for e in DEV_ALARMS if e["sensor_type"] == "water_level")
    suffix = unique("")
    now = datetime.now(UTC)
    events = [
        {
            **template,
            "event_id": f"wl{i}{suffix}",
            "device_id": f"WLV-{i}{suffix}",
            "occurred_at": (now + timedelta(minutes=i)).isoformat(),
        }
        for i in range(3)
    ]
    results = (await post(api, events))["results"]
    assert [r["outcome"] for r in results] == ["new_ticket"] * 3
    assert len({r["ticket_id"] for r in results}) == 3
    incident_ids = {r["incident_id"] for r in results}
    assert len(incident_ids) == 1 and None not in incident_ids
    incident = await api.http.get(
        f"/api/v1/incidents/{incident_ids.pop()}", headers=api.as_role(Role.SUPERVISOR)
    )
    body = incident.json()
    assert body["street_code"] == template["expected_street_code"]
    assert body["ticket_count"] == 3
    assert sorted(t["ticket_id"] for t in body["tickets"]) == sorted(
        r["ticket_id"] for r in results
    )
    listed = await api.http.get(
        "/api/v1/incidents",
        params={"street": template["expected_street_code"]},
        headers=api.as_role(Role.SUPERVISOR),
    )
    assert body["incident_id"] in [i["incident_id"] for i in listed.json()]


async def test_a_storm_opens_one_ticket_per_device_and_records_every_event(api: Api) -> None:
    devices, per_device = 40, 25
    suffix = unique("")
    events = [
        gas(f"s{d}-{n}{suffix}", f"GAS-STORM-{d}{suffix}")
        for n in range(per_device)
        for d in range(devices)
    ]
    before_new = count_events(api.engine, AlarmOutcome.NEW_TICKET)
    before_all = count_events(api.engine)
    batches = [events[i : i + 250] for i in range(0, len(events), 250)]
    replies = await asyncio.gather(*(post(api, batch) for batch in batches))
    outcomes = [r["outcome"] for reply in replies for r in reply["results"]]
    assert outcomes.count("new_ticket") == devices
    assert outcomes.count("joined") == devices * (per_device - 1)
    assert count_events(api.engine) - before_all == len(events)
    assert count_events(api.engine, AlarmOutcome.NEW_TICKET) - before_new == devices


async def test_an_alertmanager_alert_raises_a_city_alarm_once(api: Api) -> None:
    device = unique("AM-GAS")
    starts = datetime.now(UTC).isoformat()
    payload: dict[str, Any] = {
        "version": "4",
        "status": "firing",
        "receiver": "cityops",
        "groupKey": "{}:{}",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "GasHigh",
                    "device_id": device,
                    "sensor_type": "gas_detector",
                    "metric": "lel_percent",
                    "lat": "31.2051",
                    "lon": "121.6003",
                    "value": "31",
                },
                "annotations": {"site": "碧波路690号地下车库"},
                "startsAt": starts,
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "abc123",
            }
        ],
    }
    first = await post(api, payload, "/api/v1/alertmanager")
    assert first["results"][0]["outcome"] == "new_ticket"
    assert first["results"][0]["scenario_id"] == "PS01"
    resent = await post(api, payload, "/api/v1/alertmanager")  # repeat_interval re-send
    assert resent["results"][0]["outcome"] == "duplicate"
    payload["alerts"] = [
        {**payload["alerts"][0], "status": "resolved", "endsAt": datetime.now(UTC).isoformat()}
    ]
    resolved = await post(api, payload, "/api/v1/alertmanager")
    assert resolved["results"][0]["outcome"] == "joined"
    assert resolved["results"][0]["ticket_id"] == first["results"][0]["ticket_id"]


async def test_a_malformed_alert_is_rejected_and_its_group_still_goes_through(api: Api) -> None:
    now = datetime.now(UTC).isoformat()
    good_labels = {
        "device_id": unique("AM-OK"),
        "sensor_type": "gas_detector",
        "metric": "lel_percent",
        "lat": "31.2051",
        "lon": "121.6003",
    }
    payload = {
        "version": "4",
        "receiver": "cityops",
        "alerts": [
            {"status": "firing", "labels": {"sensor_type": "gas_detector"}, "startsAt": now},
            {
                "status": "firing",
                "labels": good_labels,
                "startsAt": now,
                "fingerprint": unique("f"),
            },
            {"status": "resolved", "labels": good_labels, "startsAt": now, "endsAt": 0},
        ],
    }
    body = await post(api, payload, "/api/v1/alertmanager")
    outcomes = [(r["outcome"], r["field"]) for r in body["results"]]
    assert outcomes == [
        ("rejected", "labels.device_id"),
        ("new_ticket", None),
        ("rejected", "endsAt"),
    ]
    no_alerts = await api.http.post(
        "/api/v1/alertmanager", json={"version": "4"}, headers=api.as_role(Role.SENSOR_GATEWAY)
    )
    assert no_alerts.status_code == 422


async def _triaged(api: Api, ticket: str) -> Any:
    async def in_triage() -> Any:
        status = await tickets.status(api.client, ticket)
        assert status.stage.value == "triage"
        return status

    return await eventually(in_triage)


async def test_alarms_outside_pudong_go_to_triage_marked_with_why(api: Api) -> None:
    places = {"beijing": (39.9042, 116.4074), "null-island": (0.0, 0.0), "sydney": (-33.87, 151.21)}
    events = [
        {**gas(unique(name), unique(f"GAS-{name}")), "lat": lat, "lon": lon}
        for name, (lat, lon) in places.items()
    ]
    results = (await post(api, events))["results"]
    assert [r["outcome"] for r in results] == ["triage"] * 3
    for result in results:
        assert "outside Pudong" in result["reason"] and result["scenario_id"] is None
        status = await _triaged(api, result["ticket_id"])
        assert status.classification is not None
        assert "outside Pudong" in status.classification.reason
        assert "the rules read PS01" in status.classification.reason  # a hint for the dispatcher
        assert status.street_code is None and status.assignee_id is None  # not a "-" ticket


async def test_an_alarm_no_rule_knows_goes_to_triage_not_silence(api: Api) -> None:
    strange = {**gas(unique("odd"), unique("ODD")), "sensor_type": "radiation_probe"}
    (result,) = (await post(api, strange))["results"]
    assert result["outcome"] == "triage" and "radiation_probe" in result["reason"]
    status = await _triaged(api, result["ticket_id"])
    assert status.classification is not None
    assert "no alarm rule" in status.classification.reason


async def test_a_hotline_ticket_placed_outside_pudong_goes_to_triage(api: Api) -> None:
    submitted = await api.http.post(
        "/api/v1/tickets",
        json={"text": "路口井盖丢了", "lat": 40.7128, "lon": -74.006},
        headers=api.as_role(Role.HOTLINE_AGENT),
    )
    assert submitted.status_code == 201, submitted.text
    status = await _triaged(api, submitted.json()["ticket_id"])
    assert status.classification is not None
    assert "outside Pudong" in status.classification.reason
