"""The system the benchmarks load, shaped as `cityops up` runs it, on loopback.

Every piece is its own process, started from the same commands `cityops up` uses:

- the Temporal dev server (`temporal server start-dev`, file-backed SQLite in WAL mode,
  our search attributes);
- N ticket workers (`python -m cityops.workers.main`; N as `cityops up` chooses it from the
  cores unless told), with the real rules, routing, register and notifier: every person's
  contact is a webhook pointed at the bench's receiver, which timestamps each ticket's
  first notice;
- the intake API (`uvicorn cityops.api.app:app`, h11 as in `cityops up`);
- N ceiling workers (`python -m cityops.benchmarks.ceiling_worker`) for the trivial
  one-activity workflow, so the ceiling has as many worker processes as the tickets.

The bench process itself sends the load and runs the receiver. The application database
is a fresh SQLite file, or `database_url` (e.g. PostgreSQL: a database for the bench alone,
since its people's contacts are rewritten). All of it stops when the bench ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlmodel import Session, select
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from cityops.api.keys import Role, create_key
from cityops.benchmarks.ceiling import CEILING_QUEUE
from cityops.benchmarks.procstat import Process
from cityops.config import Settings
from cityops.db.engine import get_engine
from cityops.org.migrate import upgrade
from cityops.org.models import Person
from cityops.org.store import seed_if_empty
from cityops.privacy.keys import generate_key
from cityops.workers.stack import API_HTTP_OPTIONS, temporal_args, wait_for_temporal
from cityops.workflows import search_attributes

TASK_QUEUE = "bench-intake"


@dataclass
class WebhookReceiver:
    """A loopback HTTP endpoint that notes when the first notice of each ticket (and of
    each alarm's device: a notice names it) arrived."""

    first_notice: dict[str, float] = field(default_factory=dict)
    first_by_device: dict[str, float] = field(default_factory=dict)
    first_wall_by_device: dict[str, float] = field(default_factory=dict)  # time.time()
    # The one-tap accept link of each device's first notice (an assignee's), as a
    # responder taps it: the growth bench accepts tickets by it.
    accept_by_device: dict[str, str] = field(default_factory=dict)
    notices: int = 0
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)

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
                arrived, arrived_wall = time.perf_counter(), time.time()
                notice = json.loads(body)  # the webhook channel's body
                self.notices += 1
                self.first_notice.setdefault(str(notice["ticket_id"]), arrived)
                device = (notice.get("facts") or {}).get("device")
                if device:
                    self.first_by_device.setdefault(str(device), arrived)
                    self.first_wall_by_device.setdefault(str(device), arrived_wall)
                    if notice.get("accept_url"):
                        self.accept_by_device.setdefault(str(device), str(notice["accept_url"]))
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@dataclass
class BenchStack:
    client: Client
    http: httpx.AsyncClient
    receiver: WebhookReceiver
    database_url: str
    directory: Path
    temporal: Process
    api: Process
    workers: list[Process]
    ceiling_workers: list[Process]
    supervisor: dict[str, str]  # headers of a supervisor's API key
    retried: int = 0  # alarm requests sent again after a 503 (Temporal too slow to take them)
    sent_wall: dict[str, float] = field(default_factory=dict)  # device -> time.time() sent
    bench: Process = field(default_factory=lambda: Process("bench", os.getpid()))

    @property
    def ticket_processes(self) -> list[Process]:
        """What a new ticket costs CPU in: the server, the API, the workers, the load."""
        return [self.temporal, self.api, *self.workers, self.bench]

    @property
    def ceiling_processes(self) -> list[Process]:
        return [self.temporal, *self.ceiling_workers, self.bench]

    @property
    def temporal_db(self) -> Path:
        return self.directory / "temporal.db"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def point_contacts_at(database_url: str, url: str) -> None:
    """Every person of the bench's own organisation is reached by one webhook: the receiver."""
    with Session(get_engine(database_url)) as session:
        for person in session.exec(select(Person)).all():
            person.contacts = [{"kind": "webhook", "target": url}]
            session.add(person)
        session.commit()


async def until_polled(client: Client, queue: str, timeout: float = 90.0) -> None:
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
    its configured one; its processes inherit it."""
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


class _Children:
    """The stack's processes, stopped newest first (as `cityops up` stops its children)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[str, asyncio.subprocess.Process]] = []

    async def spawn(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        with (self.logs / f"{name}.log").open("ab") as out:
            process = await asyncio.create_subprocess_exec(
                *args, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
            )
        self.started.append((name, process))
        return Process(name, process.pid)

    def check(self) -> None:
        for name, process in self.started:
            if process.returncode is not None:
                log = (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")
                raise RuntimeError(f"{name} exited ({process.returncode}):\n{log[-3000:]}")

    async def stop(self) -> None:
        for _, process in reversed(self.started):
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def _until_temporal(settings: Settings, children: _Children, timeout: float) -> Client:
    """The dev server's client, once it answers; its log if it exits first."""
    deadline = time.monotonic() + timeout
    while True:
        children.check()
        try:
            return await wait_for_temporal(settings, timeout=5)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise


async def _until_serving(http: httpx.AsyncClient, children: _Children, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        children.check()
        with contextlib.suppress(httpx.TransportError):
            if (await http.get("/health")).status_code < 500:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the API did not answer within {timeout:.0f} s")
        await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def bench_stack(workers: int, database_url: str | None = None) -> AsyncIterator[BenchStack]:
    with _bench_key(), tempfile.TemporaryDirectory(prefix="cityops-bench-") as tmp:
        directory = Path(tmp)
        url = database_url or f"sqlite:///{directory / 'cityops.db'}"
        upgrade(url)
        seed_if_empty(url)
        receiver = WebhookReceiver()
        await receiver.start()
        point_contacts_at(url, f"http://127.0.0.1:{receiver.port}/notice")
        api_port = free_port()
        settings = Settings(
            temporal_address=f"127.0.0.1:{free_port()}",
            task_queue=TASK_QUEUE,
            database_url=url,
            var_dir=directory,
            ui_port=free_port(),
            api_port=api_port,
            public_url=f"http://127.0.0.1:{api_port}",
        )
        env = os.environ | {
            "TEMPORAL_ADDRESS": settings.temporal_address,
            "CITYOPS_TASK_QUEUE": TASK_QUEUE,
            "DATABASE_URL": url,
            # The links in notices (accept, page) point at this stack's API.
            "CITYOPS_API_PORT": str(api_port),
            "CITYOPS_PUBLIC_URL": settings.public_url,
            "CITYOPS_VAR": str(directory),
            "CITYOPS_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
        (directory / "logs").mkdir()
        children = _Children(directory / "logs")
        python = sys.executable
        try:
            temporal = await children.spawn("temporal", temporal_args(settings), env)
            client = await _until_temporal(settings, children, timeout=180)
            await search_attributes.register(client, settings.temporal_namespace)
            worker_processes = [
                await children.spawn(f"worker-{n}", [python, "-m", "cityops.workers.main"], env)
                for n in range(1, workers + 1)
            ]
            ceiling_processes = [
                await children.spawn(
                    f"ceiling-{n}", [python, "-m", "cityops.benchmarks.ceiling_worker"], env
                )
                for n in range(1, workers + 1)
            ]
            api = await children.spawn(
                "api",
                [python, "-m", "uvicorn", "cityops.api.app:app", "--host", "127.0.0.1",
                 "--port", str(api_port), "--log-level", "warning", "--no-access-log",
                 *API_HTTP_OPTIONS],
                env,
            )  # fmt: skip
            key = create_key(get_engine(url), Role.SENSOR_GATEWAY, "bench")
            supervisor = create_key(get_engine(url), Role.SUPERVISOR, "bench supervisor")
            async with httpx.AsyncClient(
                base_url=settings.public_url,
                headers={"X-API-Key": key},
                timeout=300,
                limits=httpx.Limits(max_connections=32),
            ) as http:
                await _until_serving(http, children, timeout=90)
                await until_polled(client, TASK_QUEUE)
                await until_polled(client, CEILING_QUEUE)
                yield BenchStack(
                    client=client,
                    http=http,
                    receiver=receiver,
                    database_url=url,
                    directory=directory,
                    temporal=temporal,
                    api=api,
                    workers=worker_processes,
                    ceiling_workers=ceiling_processes,
                    supervisor={"X-API-Key": supervisor},
                )
        finally:
            await children.stop()
            await receiver.stop()
            get_engine.cache_clear()
