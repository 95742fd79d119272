"""`cityops bench intake`: the intake under load, on this machine, in one run.

Starts a Temporal dev server (file-backed SQLite with WAL, as `cityops up` runs it), a
migrated and seeded database, one ticket worker (real rules, routing and store; a
notifier that POSTs each notice to a local webhook receiver, which timestamps it), and
the real intake API under uvicorn. Everything listens on 127.0.0.1 and stops by itself.

Prints:
(a) ceiling: trivial one-activity workflows per second on the same server;
(b) new alarms per second through the HTTP intake to the first notification sent, and
    p50/p95/p99 alarm-to-notification latency at a steady rate of new alarms;
(c) a storm: many events from a few hundred devices in one minute: tickets opened,
    events recorded and events lost, counted in the audit log and in the workflows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlmodel import Session, col, func, select
from temporalio import activity
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from cityops.activities.dispatch import DispatchActivities
from cityops.activities.grouping import NoticeGroupActivities
from cityops.activities.store import StoreActivities
from cityops.api.app import create_app
from cityops.api.keys import Role, create_key
from cityops.benchmarks.ceiling import CeilingWorkflow, noop
from cityops.config import Settings
from cityops.db.audit import AlarmEventRow
from cityops.db.engine import get_engine
from cityops.domain.models import Notice, NoticeReceipt
from cityops.org.migrate import upgrade
from cityops.org.models import Person
from cityops.org.routing import OrgRouter
from cityops.org.store import seed_if_empty
from cityops.privacy.keys import generate_key
from cityops.service import tickets
from cityops.workers.devserver import start_dev_server
from cityops.workers.main import build_worker

BIN = Path(sys.executable).parent
TASK_QUEUE = "bench-intake"


@dataclass(frozen=True)
class BenchOptions:
    ceiling: int = 1000
    throughput: int = 1000
    rate: float = 10.0
    latency_seconds: int = 30
    storm_devices: int = 200
    storm_events: int = 10_000
    storm_seconds: float = 60.0
    # As `cityops up` runs it: the worker in its own process, with the real notifier and
    # the organisation's contacts pointed at the receiver. False: one process for all.
    worker_process: bool = True
    workers: int = 1  # worker processes, when worker_process


# --------------------------------------------------------------------------- notices


@dataclass
class WebhookReceiver:
    """A loopback HTTP endpoint that notes when the first notice of each ticket arrived."""

    first_notice: dict[str, float] = field(default_factory=dict)
    notices: int = 0
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                arrived = time.perf_counter()
                ticket_id = str(json.loads(body)["ticket_id"])  # a Notice or a webhook body
                self.notices += 1
                self.first_notice.setdefault(ticket_id, arrived)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class WebhookNotifier:
    """send_notice that POSTs the notice as JSON to the receiver, like a webhook channel."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._http = httpx.AsyncClient(timeout=10, limits=httpx.Limits(max_connections=50))

    @activity.defn(name="send_notice")
    async def send_notice(self, notice: Notice) -> NoticeReceipt:
        response = await self._http.post(
            self._url,
            content=notice.model_dump_json(),
            headers={"content-type": "application/json"},
        )
        response.raise_for_status()
        return NoticeReceipt(delivered_to=[r.person_id for r in notice.recipients])

    async def close(self) -> None:
        await self._http.aclose()  # ends the receiver's keep-alive connections cleanly


# --------------------------------------------------------------------------- the stack


@dataclass
class Stack:
    env: WorkflowEnvironment
    client: Client
    settings: Settings
    http: httpx.AsyncClient
    receiver: WebhookReceiver
    database_url: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _point_contacts_at(database_url: str, url: str) -> None:
    """Every person of the bench's own organisation is reached by one webhook: the receiver."""
    with Session(get_engine(database_url)) as session:
        for person in session.exec(select(Person)).all():
            person.contacts = [{"kind": "webhook", "target": url}]
            session.add(person)
        session.commit()


@contextlib.asynccontextmanager
async def _worker_processes(client: Client, database_url: str, count: int) -> AsyncIterator[None]:
    """`count` × `python -m workers.main`, configured by environment as in production."""
    environment = os.environ | {
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "CITYOPS_TASK_QUEUE": TASK_QUEUE,
        "DATABASE_URL": database_url,
        "CITYOPS_LOG_FORMAT": "json",
    }
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cityops.workers.main",
            env=environment,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    try:
        await _until_polled(client, TASK_QUEUE)
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await process.wait()


async def _until_polled(client: Client, queue: str, timeout: float = 60.0) -> None:
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    deadline = time.monotonic() + timeout
    while not (await client.workflow_service.describe_task_queue(request)).pollers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no worker polled {queue} within {timeout:.0f} s")
        await asyncio.sleep(0.2)


@contextlib.contextmanager
def _bench_key() -> Iterator[None]:
    """The bench's throwaway stack encrypts with a key of its own, as production does with
    its configured one; its worker processes inherit it."""
    key = generate_key()
    before = os.environ.get("CITYOPS_KEYS")
    os.environ["CITYOPS_KEYS"] = f"{key.key_id}:{key.line().split()[1]}"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CITYOPS_KEYS", None)
        else:
            os.environ["CITYOPS_KEYS"] = before


async def _with_stack(work: Callable[[Stack], Awaitable[None]], options: BenchOptions) -> None:
    with _bench_key(), tempfile.TemporaryDirectory(prefix="cityops-bench-") as tmp:
        database_url = f"sqlite:///{Path(tmp) / 'cityops.db'}"
        upgrade(database_url)
        seed_if_empty(database_url)
        env = await start_dev_server(Path(tmp) / "temporal.db")
        receiver = WebhookReceiver()
        await receiver.start()
        receiver_url = f"http://127.0.0.1:{receiver.port}/notice"
        settings = Settings(database_url=database_url, task_queue=TASK_QUEUE)
        notifier = WebhookNotifier(receiver_url)
        if options.worker_process:
            _point_contacts_at(database_url, receiver_url)
            worker: contextlib.AbstractAsyncContextManager[Any] = _worker_processes(
                env.client, database_url, options.workers
            )
        else:
            dispatch = DispatchActivities(router=OrgRouter.from_database(database_url))
            store = StoreActivities(get_engine(database_url))
            worker = build_worker(
                env.client,
                TASK_QUEUE,
                [
                    *dispatch.activities(),
                    notifier.send_notice,
                    store.record_ticket,
                    store.record_event,
                    NoticeGroupActivities().group_notice,
                ],
            )

        async def provide() -> Client:
            return env.client

        app = create_app(settings, provide)
        key = create_key(get_engine(database_url), Role.SENSOR_GATEWAY, "bench")
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        )
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:
                await asyncio.sleep(0.05)
            async with (
                worker,
                httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}",
                    headers={"X-API-Key": key},
                    timeout=120,
                    limits=httpx.Limits(max_connections=32),
                ) as http,
            ):
                await work(Stack(env, env.client, settings, http, receiver, database_url))
        finally:
            server.should_exit = True
            await serving
            await notifier.close()
            await receiver.stop()
            await env.shutdown()


# --------------------------------------------------------------------------- (a) ceiling


async def measure_ceiling(stack: Stack, count: int) -> float:
    queue = "bench-ceiling"
    async with Worker(
        stack.client, task_queue=queue, workflows=[CeilingWorkflow], activities=[noop]
    ):
        slots = asyncio.Semaphore(100)
        stamp = int(time.time())

        async def one(index: int) -> None:
            async with slots:
                await stack.client.execute_workflow(
                    CeilingWorkflow.run, index, id=f"ceiling-{stamp}-{index}", task_queue=queue
                )

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
        return count / (time.perf_counter() - started)


# --------------------------------------------------------------------------- (b) new alarms


def alarm(event_id: str, device: str, status: str = "firing") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "device_id": device,
        "sensor_type": "manhole_cover",
        "metric": "tilt_deg",
        "value": 32.0,
        "status": status,
        "lat": 31.2051,
        "lon": 121.6003,
        "occurred_at": datetime.now(UTC).isoformat(),
        "attributes": {"site": "碧波路690号"},
    }


async def post_alarms(stack: Stack, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = await stack.http.post("/api/v1/alarms", json=events)
    response.raise_for_status()
    results: list[dict[str, Any]] = response.json()["results"]
    return results


async def wait_for_notices(stack: Stack, ticket_ids: set[str], timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while not ticket_ids <= stack.receiver.first_notice.keys():
        if time.perf_counter() > deadline:
            missing = len(ticket_ids - stack.receiver.first_notice.keys())
            raise RuntimeError(f"{missing} tickets sent no notice within {timeout:.0f} s")
        await asyncio.sleep(0.05)


async def measure_throughput(stack: Stack, count: int) -> float:
    """New alarms posted as fast as the intake takes them; until every first notice."""
    run = f"tp{int(time.time())}"
    events = [alarm(f"{run}-{i}", f"MHC-{run}-{i}") for i in range(count)]
    batches = [events[i : i + 20] for i in range(0, len(events), 20)]
    slots = asyncio.Semaphore(16)

    async def send(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        async with slots:
            return await post_alarms(stack, batch)

    started = time.perf_counter()
    replies = await asyncio.gather(*(send(b) for b in batches))
    ticket_ids = {r["ticket_id"] for reply in replies for r in reply}
    await wait_for_notices(stack, ticket_ids, timeout=300)
    last = max(stack.receiver.first_notice[t] for t in ticket_ids)
    return count / (last - started)


async def measure_latency(stack: Stack, rate: float, seconds: int) -> list[float]:
    """One new alarm every 1/rate s; latency from sending it to its first notice, in ms."""
    run = f"lat{int(time.time())}"
    sent_at: dict[str, float] = {}
    pending: list[asyncio.Task[None]] = []

    async def send(index: int) -> None:
        started = time.perf_counter()
        (result,) = await post_alarms(stack, [alarm(f"{run}-{index}", f"MHC-{run}-{index}")])
        sent_at[result["ticket_id"]] = started

    begin = time.perf_counter()
    for index in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, begin + index / rate - time.perf_counter()))
        pending.append(asyncio.create_task(send(index)))
    await asyncio.gather(*pending)
    await wait_for_notices(stack, set(sent_at), timeout=120)
    return [(stack.receiver.first_notice[t] - sent_at[t]) * 1000 for t in sent_at]


# --------------------------------------------------------------------------- (c) storm


@dataclass(frozen=True)
class StormResult:
    sent: int
    devices: int
    seconds: float
    tickets_opened: int
    events_recorded: int
    events_in_workflows: int

    @property
    def lost(self) -> int:
        return self.sent - self.events_recorded


async def run_storm(stack: Stack, devices: int, events: int, seconds: float) -> StormResult:
    run = f"st{int(time.time())}"
    ticks = max(1, int(seconds * 2))  # a batch every half second, as a gateway would send
    per_tick = [events // ticks + (1 if i < events % ticks else 0) for i in range(ticks)]
    counter = 0
    pending: list[asyncio.Task[list[dict[str, Any]]]] = []
    begin = time.perf_counter()
    for tick, size in enumerate(per_tick):
        batch = []
        for _ in range(size):
            batch.append(alarm(f"{run}-{counter}", f"SMK-{run}-{counter % devices}"))
            counter += 1
        await asyncio.sleep(max(0.0, begin + tick * seconds / ticks - time.perf_counter()))
        for start in range(0, len(batch), 1000):
            pending.append(asyncio.create_task(post_alarms(stack, batch[start : start + 1000])))
    replies = await asyncio.gather(*pending)
    elapsed = time.perf_counter() - begin
    opened = {r["ticket_id"] for reply in replies for r in reply if r["outcome"] == "new_ticket"}
    engine = get_engine(stack.database_url)
    with Session(engine) as session:
        recorded = session.exec(
            select(func.count())
            .select_from(AlarmEventRow)
            .where(col(AlarmEventRow.event_id).startswith(f"{run}-"))
        ).one()
    in_workflows = await _events_in_workflows(stack.client, opened)
    return StormResult(counter, devices, elapsed, len(opened), int(recorded), in_workflows)


async def _events_in_workflows(client: Client, ticket_ids: set[str]) -> int:
    """Sum of the events each ticket counted, read back from the workflows themselves."""
    slots = asyncio.Semaphore(20)

    async def count(ticket_id: str) -> int:
        async with slots:
            return (await tickets.status(client, ticket_id, include_history=False)).alarm_events

    return sum(await asyncio.gather(*(count(t) for t in ticket_ids)))


# --------------------------------------------------------------------------- report


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def run_bench(options: BenchOptions) -> None:
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )

    async def work(stack: Stack) -> None:
        ceiling = await measure_ceiling(stack, options.ceiling)
        print(
            f"(a) ceiling: {ceiling:.0f} trivial one-activity workflows/s "
            f"({options.ceiling} workflows)",
            flush=True,
        )
        # Latency first, on a quiet system: the throughput run leaves a backlog behind.
        latencies = await measure_latency(stack, options.rate, options.latency_seconds)
        print(
            f"(b) latency at {options.rate:g} new alarms/s for {options.latency_seconds} s "
            f"({len(latencies)} alarms): p50 {_percentile(latencies, 0.50):.0f} ms, "
            f"p95 {_percentile(latencies, 0.95):.0f} ms, "
            f"p99 {_percentile(latencies, 0.99):.0f} ms, "
            f"max {max(latencies):.0f} ms, mean {statistics.fmean(latencies):.0f} ms",
            flush=True,
        )
        throughput = await measure_throughput(stack, options.throughput)
        print(
            f"    new alarms through HTTP intake to first notification: {throughput:.0f}/s "
            f"({options.throughput} alarms; {throughput / ceiling:.0%} of the ceiling)",
            flush=True,
        )
        storm = await run_storm(
            stack, options.storm_devices, options.storm_events, options.storm_seconds
        )
        print(
            f"(c) storm: {storm.sent} events from {storm.devices} devices "
            f"in {storm.seconds:.1f} s: "
            f"tickets opened {storm.tickets_opened} (distinct device alarms {storm.devices}), "
            f"events recorded {storm.events_recorded} (sent {storm.sent}), "
            f"events counted by the tickets {storm.events_in_workflows}, lost {storm.lost}",
            flush=True,
        )

    print(
        "worker: "
        + (
            f"{options.workers} process(es) of their own, real notifier"
            if options.worker_process
            else "in this process"
        ),
        flush=True,
    )
    await _with_stack(work, options)
