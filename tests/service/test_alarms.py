"""Pure parts of alarm intake: batch validation, workflow ids and ticket numbers; and
API keys (hashed at rest, dev keys from the environment)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from cityops.api.keys import (
    ApiKeyError,
    ApiKeyRow,
    KeyStore,
    Role,
    UnknownRole,
    create_key,
    dev_keys,
)
from cityops.db.engine import get_engine
from cityops.domain.alarms import alarm_intake, alarm_ticket_id, alarm_workflow_id
from cityops.domain.models import AlarmEvent
from cityops.org.migrate import upgrade
from cityops.service.alarms import MAX_BATCH, AlarmBatchInvalid, parse_batch

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


def test_one_event_or_a_list_parse_to_events() -> None:
    assert [e.event_id for e in parse_batch(EVENT)] == ["evt-1"]
    assert len(parse_batch([EVENT, {**EVENT, "event_id": "evt-2"}])) == 2


def test_a_bad_event_in_a_batch_is_named_by_index_and_field() -> None:
    with pytest.raises(AlarmBatchInvalid) as caught:
        parse_batch([EVENT, EVENT, {**EVENT, "status": "burning"}, {**EVENT, "lon": 500}])
    locs = [e["loc"] for e in caught.value.errors]
    assert locs == [[2, "status"], [3, "lon"]]
    assert str(caught.value).startswith("2.status:")


def test_a_single_event_error_is_named_by_field_only() -> None:
    with pytest.raises(AlarmBatchInvalid) as caught:
        parse_batch({k: v for k, v in EVENT.items() if k != "occurred_at"})
    assert caught.value.errors[0]["loc"] == ["occurred_at"]


@pytest.mark.parametrize("payload", [[], [EVENT] * (MAX_BATCH + 1), "text", 42])
def test_empty_oversized_or_non_event_payloads_are_refused(payload: Any) -> None:
    with pytest.raises(AlarmBatchInvalid):
        parse_batch(payload)


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


def test_keys_are_stored_only_as_a_hash_and_check_by_role(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    upgrade(url)
    engine = get_engine(url)
    key = create_key(engine, Role.RESPONDER, "tablet 7")
    store = KeyStore(engine)
    caller = store.check(key)
    assert caller is not None and caller.role is Role.RESPONDER
    with Session(engine) as session:
        row = session.get(ApiKeyRow, caller.key_id)
    assert row is not None and key not in row.key_hash
    assert store.check(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert store.check("not-a-key") is None


def test_dev_keys_come_from_the_environment_and_bad_entries_are_errors() -> None:
    keys = dev_keys({"CITYOPS_DEV_API_KEYS": "sensor_gateway=0123456789abcdef0"})
    assert keys == {"0123456789abcdef0": Role.SENSOR_GATEWAY}
    with pytest.raises(ApiKeyError, match="role=key"):
        dev_keys({"CITYOPS_DEV_API_KEYS": "sensor_gateway=short"})
    with pytest.raises(UnknownRole):
        dev_keys({"CITYOPS_DEV_API_KEYS": "mayor=0123456789abcdef0"})
