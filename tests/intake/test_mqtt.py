"""The MQTT intake against a real Mosquitto of its own (a free port, so restarting it
disturbs nobody), published to with `mosquitto_pub` as a gateway would, and a real
Temporal dev server: events become tickets, a message of any size is split, bad events
and payloads are kept as dead letters (listed and replayed with the `cityops` command)
while the good ones go through, and a broker restart loses nothing after it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from cityops.activities.dispatch import DispatchActivities
from cityops.activities.grouping import NoticeGroupActivities
from cityops.activities.testing import RecordingNotifier, RecordingStore
from cityops.db.audit import AlarmEventRow, AlarmOutcome, count_events, events_of_ticket
from cityops.db.deadletters import Channel, DeadLetterRow, LetterStatus, list_letters
from cityops.intake.mqtt import MqttIntake, MqttSettings
from cityops.service.alarms import AlarmIntake
from cityops.workers.main import build_worker
from tests.api.stack import Organisation, free_port, seeded_organisation
from tests.conftest import eventually, fresh_queue

MOSQUITTO = "/usr/sbin/mosquitto"


@dataclass
class Broker:
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        config = self.directory / "mosquitto.conf"
        config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    async def ready(self) -> None:
        async def accepting() -> None:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError as exc:
                raise AssertionError(f"broker not up: {exc}") from exc
            writer.close()

        await eventually(accepting)


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Organisation:
    return seeded_organisation(tmp_path_factory.mktemp("org"))


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    running = Broker(free_port(), tmp_path)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@asynccontextmanager
async def consuming(
    env: WorkflowEnvironment, org: Organisation, broker: Broker
) -> AsyncIterator[MqttIntake]:
    queue = fresh_queue()
    dispatch = DispatchActivities(router=org.router)
    worker = build_worker(
        env.client,
        queue,
        [
            *dispatch.activities(),
            RecordingNotifier().send_notice,
            *RecordingStore().activities(),
            NoticeGroupActivities().group_notice,
        ],
        check_workflow_code=True,
    )
    alarms = AlarmIntake(env.client, queue, org.engine)
    settings = MqttSettings(
        host="127.0.0.1",
        port=broker.port,
        topic="cityops/alarms/#",
        client_id=f"intake-{queue}",
        max_backoff=1.0,
    )
    intake = MqttIntake(alarms, settings)
    stop = asyncio.Event()
    await broker.ready()
    async with worker:
        task = asyncio.create_task(intake.run(stop))
        await asyncio.wait_for(intake.connected.wait(), timeout=10)
        try:
            yield intake
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=10)


def event(event_id: str, device: str, status: str = "firing") -> dict[str, object]:
    return {
        "event_id": event_id,
        "device_id": device,
        "sensor_type": "smoke_detector",
        "metric": "smoke",
        "value": 8.2,
        "status": status,
        "lat": 31.2051,
        "lon": 121.6003,
        "occurred_at": datetime.now(UTC).isoformat(),
        "attributes": {"site": "仓库"},
    }


async def publish(broker: Broker, payloads: list[object]) -> None:
    async with aiomqtt.Client("127.0.0.1", broker.port) as publisher:
        for payload in payloads:
            await publisher.publish("cityops/alarms/T01", json.dumps(payload), qos=1)


def tag() -> str:
    return datetime.now(UTC).strftime("%H%M%S%f")


async def test_events_over_mqtt_open_one_ticket_per_device_and_are_all_recorded(
    dev_env: WorkflowEnvironment, org: Organisation, broker: Broker
) -> None:
    suffix = tag()
    async with consuming(dev_env, org, broker) as intake:
        before = count_events(org.engine)
        batch = [event(f"m{i}-{suffix}", f"SMK-{i % 3}-{suffix}") for i in range(9)]
        await publish(broker, [batch[0], batch[1:5], *batch[5:]])

        async def all_recorded() -> None:
            assert count_events(org.engine) - before == 9

        await eventually(all_recorded, timeout=20)
    assert intake.stats.events == 9
    tickets = {r.ticket_id for i in range(3) for r in _rows_of(org, f"SMK-{i}-{suffix}")}
    assert len(tickets) == 3


def _rows_of(org: Organisation, device: str) -> list[AlarmEventRow]:
    with Session(org.engine) as session:
        return list(session.exec(select(AlarmEventRow).where(AlarmEventRow.device_id == device)))


async def test_a_bad_payload_is_skipped_and_the_next_one_still_taken(
    dev_env: WorkflowEnvironment, org: Organisation, broker: Broker
) -> None:
    suffix = tag()
    async with consuming(dev_env, org, broker) as intake:
        good = event(f"g-{suffix}", f"SMK-G-{suffix}")
        await publish(broker, ["not an event", {**event(f"b-{suffix}", "x"), "lat": "north"}, good])

        async def taken() -> None:
            assert intake.stats.events == 1

        await eventually(taken, timeout=20)
        assert intake.stats.invalid == 2
    (row,) = _rows_of(org, f"SMK-G-{suffix}")
    assert row.outcome == AlarmOutcome.NEW_TICKET.value


async def test_the_intake_reconnects_after_a_broker_restart_and_loses_nothing_after_it(
    dev_env: WorkflowEnvironment, org: Organisation, broker: Broker
) -> None:
    suffix = tag()
    device = f"SMK-R-{suffix}"
    async with consuming(dev_env, org, broker) as intake:
        await publish(broker, [event(f"r1-{suffix}", device)])

        async def first_taken() -> None:
            assert intake.stats.events == 1

        await eventually(first_taken, timeout=20)
        broker.stop()
        await asyncio.sleep(0.5)
        broker.start()
        await broker.ready()

        async def reconnected() -> None:
            assert intake.stats.connects >= 2 and intake.connected.is_set()

        await eventually(reconnected, timeout=20)
        await publish(broker, [event(f"r2-{suffix}", device), event(f"r3-{suffix}", device)])

        async def all_taken() -> None:
            assert intake.stats.events == 3

        await eventually(all_taken, timeout=20)
    rows = _rows_of(org, device)
    assert len(rows) == 3
    ticket = rows[0].ticket_id
    assert ticket is not None
    assert len(events_of_ticket(org.engine, ticket)) == 3  # the repeats joined the open ticket


MOSQUITTO_PUB = "/usr/bin/mosquitto_pub"
CITYOPS = str(Path(sys.executable).parent / "cityops")


async def mosquitto_pub(broker: Broker, payload: bytes, tmp_path: Path) -> None:
    """Publish as a device gateway would: Mosquitto's own client, QoS 1."""
    message = tmp_path / f"message-{time.time_ns()}"
    message.write_bytes(payload)
    process = await asyncio.create_subprocess_exec(
        MOSQUITTO_PUB, "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
        "-t", "cityops/alarms/T01", "-f", str(message),
    )  # fmt: skip
    assert await process.wait() == 0


async def cityops(org: Organisation, queue: str, env: WorkflowEnvironment, *args: str) -> str:
    environment = os.environ | {
        "DATABASE_URL": org.url,
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "CITYOPS_TASK_QUEUE": queue,
    }
    process = await asyncio.create_subprocess_exec(
        CITYOPS, *args, env=environment, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


def _letters_with(org: Organisation, text: str) -> list[DeadLetterRow]:
    return [x for x in list_letters(org.engine, None, Channel.MQTT, 1000) if text in x.payload]


async def test_a_message_of_1500_events_is_split_not_refused(
    dev_env: WorkflowEnvironment, org: Organisation, broker: Broker, tmp_path: Path
) -> None:
    suffix = tag()
    events = [event(f"big{i}-{suffix}", f"SMK-BIG{i % 30}-{suffix}") for i in range(1500)]
    async with consuming(dev_env, org, broker) as intake:
        before = count_events(org.engine)
        await mosquitto_pub(broker, json.dumps(events).encode(), tmp_path)

        async def all_recorded() -> None:
            assert count_events(org.engine) - before == 1500

        await eventually(all_recorded, timeout=120)
    assert intake.stats.events == 1500 and intake.stats.invalid == 0
    tickets = {r.ticket_id for d in range(30) for r in _rows_of(org, f"SMK-BIG{d}-{suffix}")}
    assert len(tickets) == 30 and None not in tickets


async def test_a_mixed_message_takes_the_good_events_and_keeps_the_rest_for_replay(
    dev_env: WorkflowEnvironment, org: Organisation, broker: Broker, tmp_path: Path
) -> None:
    suffix = tag()
    naive = {**event(f"naive-{suffix}", f"SMK-N-{suffix}"), "occurred_at": "2026-12-03T08:00:00"}
    good = [event(f"ok{i}-{suffix}", f"SMK-OK{i}-{suffix}") for i in range(2)]
    async with consuming(dev_env, org, broker) as intake:
        queue = intake._alarms._task_queue
        await mosquitto_pub(broker, json.dumps([good[0], naive, good[1]]).encode(), tmp_path)
        await mosquitto_pub(broker, f"garbage {suffix} {{".encode(), tmp_path)

        async def taken() -> None:
            assert intake.stats.events == 2 and intake.stats.invalid == 2

        await eventually(taken, timeout=30)
        assert [len(_rows_of(org, f"SMK-OK{i}-{suffix}")) for i in range(2)] == [1, 1]
        (letter,) = _letters_with(org, f"naive-{suffix}")
        assert (letter.item_index, letter.field, letter.origin) == (
            1,
            "occurred_at",
            "cityops/alarms/T01",
        )
        (whole,) = _letters_with(org, f"garbage {suffix}")
        assert whole.item_index is None and whole.payload == f"garbage {suffix} {{"

        listed = await cityops(org, queue, dev_env, "intake", "rejected", "--channel", "mqtt")
        assert f"{letter.letter_id:>6}  open" in listed and "occurred_at" in listed
        still = await cityops(org, queue, dev_env, "intake", "replay", str(letter.letter_id))
        assert "rejected" in still  # nothing fixed yet: it stays open
        fixed = tmp_path / "fixed.json"
        fixed.write_text(json.dumps({**naive, "occurred_at": "2026-12-03T08:00:00+08:00"}))
        replayed = await cityops(
            org, queue, dev_env, "intake", "replay", str(letter.letter_id), "--payload", str(fixed)
        )
        assert "new_ticket" in replayed
    (row,) = _rows_of(org, f"SMK-N-{suffix}")
    assert row.outcome == AlarmOutcome.NEW_TICKET.value
    assert row.ticket_id is not None and row.ticket_id in replayed
    (after,) = _letters_with(org, f"naive-{suffix}")
    assert after.status == LetterStatus.REPLAYED.value and after.attempts == 2
    assert after.replay_ticket_id == row.ticket_id


async def test_hostile_events_over_mqtt_are_dead_letters_naming_the_field(
    dev_env: WorkflowEnvironment, org: Organisation, broker: Broker, tmp_path: Path
) -> None:
    """The limits hold on MQTT as on HTTP: an over-long site, a year-9999 instant and a
    lone surrogate are kept as dead letters naming the field (the message is still
    acknowledged: nothing in it is lost), the good event beside them is recorded."""
    suffix = tag()
    good = event(f"fine-{suffix}", f"SMK-F-{suffix}")
    long_site = {**event(f"site-{suffix}", "SMK-X"), "attributes": {"site": "路" * 501}}
    far = {**event(f"far-{suffix}", "SMK-Y"), "occurred_at": "9999-12-31T23:59:59+00:00"}
    surrogate = {**event(f"sur-{suffix}", "SMK-Z"), "unit": "\ud800"}
    payload = json.dumps([long_site, good, far, surrogate])  # ASCII: "\ud800" as its escape
    async with consuming(dev_env, org, broker) as intake:
        await mosquitto_pub(broker, payload.encode(), tmp_path)

        async def taken() -> None:
            assert intake.stats.events == 1 and intake.stats.invalid == 3

        await eventually(taken, timeout=30)
    assert [row.outcome for row in _rows_of(org, f"SMK-F-{suffix}")] == ["new_ticket"]
    fields = {
        key: letter.field
        for key in ("site", "far", "sur")
        for letter in _letters_with(org, f"{key}-{suffix}")
    }
    assert fields == {"site": "attributes.site", "far": "occurred_at", "sur": "unit"}
