"""`cityops intake mqtt`: alarm events from an MQTT broker, acknowledged only once taken.

Subscribes with QoS 1 on a persistent session (fixed client id, clean_session off), so
the broker keeps what we have not acknowledged while we are away. Acknowledgement is
manual: a message is PUBACKed only after its events are delivered to Temporal and
recorded in the audit log (service/alarms.py). If we crash before that, the broker
sends the message again and the repeat is recognised by its event_id.

Messages are taken in small batches (whatever has arrived, up to `batch` messages), so
a storm is ingested in parallel across devices while each device stays in order. A
message holds one event or a list of any length (taken in chunks of 1,000). Each event
is read on its own: a bad one is stored in the dead-letter table with the reason
(db/deadletters.py) and the others go through; a message that is not JSON at all is
stored whole. Either way it is acknowledged, so it does not block the ones behind it,
and nothing acknowledged is lost.
When Temporal is down the batch is retried with backoff, unacknowledged, until it goes
through. When the broker goes away we reconnect with backoff (0.5 s doubling to 30 s).

Configured by environment: CITYOPS_MQTT_HOST (127.0.0.1), CITYOPS_MQTT_PORT (1883),
CITYOPS_MQTT_TOPIC (cityops/alarms/#), CITYOPS_MQTT_CLIENT_ID (cityops-intake).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiomqtt
import structlog

from cityops.config import Settings, get_settings
from cityops.db.audit import AlarmOutcome
from cityops.db.deadletters import Channel
from cityops.service.alarms import (
    AlarmBatchInvalid,
    AlarmIntake,
    AlarmIntakeUnavailable,
    Incoming,
    split_payload,
)

log = structlog.get_logger(__name__)
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # a longer message is kept (cut) as a dead letter


@dataclass(frozen=True)
class MqttSettings:
    host: str = field(default_factory=lambda: os.environ.get("CITYOPS_MQTT_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(os.environ.get("CITYOPS_MQTT_PORT", "1883")))
    topic: str = field(
        default_factory=lambda: os.environ.get("CITYOPS_MQTT_TOPIC", "cityops/alarms/#")
    )
    client_id: str = field(
        default_factory=lambda: os.environ.get("CITYOPS_MQTT_CLIENT_ID", "cityops-intake")
    )
    batch: int = 200  # messages taken together at most
    max_backoff: float = 30.0


@dataclass
class MqttStats:
    """Counters for tests, the benchmark and the logs."""

    messages: int = 0
    events: int = 0
    invalid: int = 0
    connects: int = 0
    retries: int = 0


class MqttIntake:
    def __init__(self, alarms: AlarmIntake, settings: MqttSettings | None = None) -> None:
        self._alarms = alarms
        self.settings = settings or MqttSettings()
        self.stats = MqttStats()
        self.connected = asyncio.Event()
        self._was_up = False

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Consume until `stop` is set (or forever), reconnecting after broker failures."""
        stop = stop or asyncio.Event()
        backoff = 0.5
        while not stop.is_set():
            session = asyncio.create_task(self._session())
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({session, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if session not in done:
                session.cancel()
                await asyncio.gather(session, return_exceptions=True)
                break
            self.connected.clear()
            error = session.exception()
            if error is not None and not isinstance(error, aiomqtt.MqttError):
                raise error
            log.warning("mqtt_disconnected", error=str(error), retry_in=backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff)
            # Reset after a session that got going, so a later outage starts fast again.
            backoff = 0.5 if self._was_up else min(backoff * 2, self.settings.max_backoff)

    async def _session(self) -> None:
        self._was_up = False
        client = aiomqtt.Client(
            self.settings.host,
            self.settings.port,
            identifier=self.settings.client_id,
            clean_session=False,
        )
        # aiomqtt has no manual-ack option; its paho client does. Without it paho would
        # PUBACK each message as soon as it is queued, before we have taken it.
        client._client.manual_ack_set(True)
        async with client:
            await client.subscribe(self.settings.topic, qos=1)
            self.stats.connects += 1
            self._was_up = True
            self.connected.set()
            log.info(
                "mqtt_subscribed",
                host=self.settings.host,
                port=self.settings.port,
                topic=self.settings.topic,
            )
            inbox: asyncio.Queue[aiomqtt.Message] = asyncio.Queue()
            reader = asyncio.create_task(_read_into(client, inbox))
            try:
                while True:
                    batch = [await _next(inbox, reader)]
                    while len(batch) < self.settings.batch and not inbox.empty():
                        batch.append(inbox.get_nowait())
                    await self._take(batch)
                    for message in batch:
                        if message.qos > 0:
                            client._client.ack(message.mid, message.qos)
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)

    async def _take(self, messages: list[aiomqtt.Message]) -> None:
        """Give every event of the batch an outcome; returns only once all are taken.

        A message may hold one event or a list of any length (taken in chunks). Events that
        cannot be read, and messages that are not JSON event lists at all, are stored as
        dead letters before the PUBACK, so nothing acknowledged is lost."""
        received = datetime.now(UTC)
        items: list[Incoming] = []
        for message in messages:
            self.stats.messages += 1
            topic = str(message.topic)
            raw = _bytes(message.payload)
            try:
                if len(raw) > MAX_MESSAGE_BYTES:
                    raise ValueError(f"message over {MAX_MESSAGE_BYTES // (1024 * 1024)} MiB")
                found = split_payload(json.loads(raw.decode("utf-8")))
            except (ValueError, AlarmBatchInvalid) as exc:
                self.stats.invalid += 1
                reason = f"not an alarm event or list of them: {str(exc)[:300]}"
                await self._alarms.refuse_whole(
                    Channel.MQTT, topic, raw.decode("utf-8", errors="replace"), reason, received
                )
                log.error("mqtt_message_refused", topic=topic, error=reason, bytes=len(raw))
                continue
            items += [Incoming(item, index, topic) for index, item in enumerate(found)]
        if not items:
            return
        backoff = 0.2
        while True:
            try:
                results = await self._alarms.submit(items, Channel.MQTT, received)
                break
            except AlarmIntakeUnavailable as exc:
                self.stats.retries += 1
                log.warning("mqtt_delivery_retry", error=str(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.settings.max_backoff)
        rejected = [r for r in results if r.outcome is AlarmOutcome.REJECTED]
        self.stats.invalid += len(rejected)
        self.stats.events += len(results) - len(rejected)
        for result in rejected:
            log.warning(
                "mqtt_event_rejected",
                index=result.index,
                field=result.field,
                reason=result.reason,
                dead_letter_id=result.dead_letter_id,
            )


async def _read_into(client: aiomqtt.Client, inbox: asyncio.Queue[aiomqtt.Message]) -> None:
    async for message in client.messages:
        inbox.put_nowait(message)


async def _next(
    inbox: asyncio.Queue[aiomqtt.Message], reader: asyncio.Task[None]
) -> aiomqtt.Message:
    """The next message, or the reader's error (the connection dropped)."""
    getter = asyncio.create_task(inbox.get())
    done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
    if getter in done:
        return getter.result()
    getter.cancel()
    error = reader.exception() if not reader.cancelled() else None
    raise error or aiomqtt.MqttError("the message stream ended")


def _bytes(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return str(payload).encode("utf-8")


async def serve(settings: Settings | None = None, mqtt: MqttSettings | None = None) -> None:
    """The `cityops intake mqtt` process: connect, consume until SIGTERM or Ctrl-C."""
    from cityops.db.engine import get_engine
    from cityops.workers.client import connect

    settings = settings or get_settings()
    client = await connect(settings)
    alarms = AlarmIntake(client, settings.task_queue, get_engine(settings.database_url))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await MqttIntake(alarms, mqtt).run(stop)
    log.info("mqtt_intake_stopped")
