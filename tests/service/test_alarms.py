"""Pure parts of alarm intake: reading items one by one (events, Alertmanager alerts),
workflow ids and ticket numbers. (API keys: tests/api/test_keys.py.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from cityops.db.deadletters import Channel
from cityops.domain.alarms import alarm_intake, alarm_ticket_id, alarm_workflow_id
from cityops.domain.models import AlarmEvent
from cityops.service.alarms import AlarmBatchInvalid, read_item, split_payload
from cityops.service.items import ItemRefused

EVENT: dict[str, Any] = {
    "event_id": "evt-1",
    "device_id": "GAS-T01-00042",
    "sensor_type": "gas_detector",
    "metric": "lel_percent",
    "value": 27.5,
    "status": "firing",
    "lat": 31.2,
    "lon": 121.6,
    "occurred_at": "2026-11-28T23:30:00+00:00",
}


def test_one_event_or_a_list_of_any_length_are_items() -> None:
    assert split_payload(EVENT) == [EVENT]
    assert len(split_payload([EVENT] * 1500)) == 1500
    assert split_payload([]) == []


@pytest.mark.parametrize("payload", ["text", 42, None, True])
def test_a_payload_that_is_no_object_or_list_is_refused_whole(payload: Any) -> None:
    with pytest.raises(AlarmBatchInvalid):
        split_payload(payload)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "burning"}, "status"),
        ({"lon": 500}, "lon"),
        ({"lon": False}, "lon"),  # a boolean is not a coordinate
        ({"lat": "31.2"}, "lat"),  # nor is text
        ({"occurred_at": 0}, "occurred_at"),  # a time is text with an offset
        ({"occurred_at": "2026-11-28T23:30:00"}, "occurred_at"),
    ],
)
def test_a_bad_event_is_refused_naming_its_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ItemRefused) as caught:
        read_item(Channel.HTTP, {**EVENT, **change})
    assert caught.value.field == field


def test_a_good_event_reads_and_an_integer_coordinate_is_a_number() -> None:
    assert read_item(Channel.MQTT, {**EVENT, "lat": 31}).lat == 31.0


ALERT: dict[str, Any] = {
    "status": "firing",
    "labels": {
        "device_id": "GAS-1",
        "sensor_type": "gas_detector",
        "metric": "lel_percent",
        "lat": "31.2",
        "lon": "121.6",
    },
    "startsAt": "2026-11-28T23:30:00Z",
    "endsAt": "0001-01-01T00:00:00Z",
    "fingerprint": "f1",
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"labels": {**ALERT["labels"], "lat": "north"}}, "labels.lat"),
        ({"labels": {k: v for k, v in ALERT["labels"].items() if k != "device_id"}},
         "labels.device_id"),
        ({"labels": {**ALERT["labels"], "lat": "123"}}, "labels.lat"),
        ({"endsAt": 0}, "endsAt"),
        ({"labels": {**ALERT["labels"], "lat": 31.2}}, "labels.lat"),  # labels are strings
    ],
)  # fmt: skip
def test_a_bad_alert_is_refused_naming_its_label(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ItemRefused) as caught:
        read_item(Channel.ALERTMANAGER, {**ALERT, **change})
    assert caught.value.field == field


def test_an_alert_reads_as_an_event_with_an_id_from_its_fingerprint() -> None:
    event = read_item(Channel.ALERTMANAGER, ALERT)
    assert event.event_id == "am-f1-2026-11-28T23:30:00+00:00-firing"
    assert (event.lat, event.lon, event.status) == (31.2, 121.6, "firing")


def test_the_workflow_id_is_per_device_and_metric() -> None:
    assert alarm_workflow_id("GAS-1", "lel_percent") == "alarm-GAS-1-lel_percent"
    assert alarm_workflow_id("GAS-1", "lel_percent") != alarm_workflow_id("GAS-1", "other")


def test_the_ticket_number_uses_the_shanghai_date_and_differs_per_opening_event() -> None:
    event = AlarmEvent.model_validate(EVENT)
    number = alarm_ticket_id(event)
    assert number.startswith("AL20261129")  # 23:30 UTC is the next day in Shanghai
    assert number == alarm_ticket_id(event)
    assert number != alarm_ticket_id(event.model_copy(update={"event_id": "evt-9"}))


def test_a_video_event_is_a_video_ticket_and_a_sensor_event_an_iot_ticket() -> None:
    sensor = AlarmEvent.model_validate(EVENT)
    video = AlarmEvent.model_validate({**EVENT, "sensor_type": "video_ai", "metric": "detection"})
    received = datetime.fromisoformat("2026-11-28T23:31:00+00:00")
    assert alarm_intake(sensor, received).source.value == "iot"
    assert alarm_intake(video, received).source.value == "video"
