"""The intake API on a real Temporal dev server: the app from `create_app`, a worker with
the real rules and organisation (seeded SQLite in tmp) and a recording notifier, an
httpx client, and API keys created in the database (hashed at rest): one of every role
bound to no person (it reads and posts), and keys bound to a person and scope on demand
(`as_person`), since only those act on tickets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cityops.activities.calls import CallActivities
from cityops.activities.dispatch import DispatchActivities
from cityops.activities.grouping import NoticeGroupActivities
from cityops.activities.route import RoutingActivities
from cityops.activities.testing import RecordingNotifier, RecordingStore
from cityops.api.app import create_app
from cityops.api.keys import DISTRICT, Role, create_key, parse_scope
from cityops.config import Settings
from cityops.db.engine import get_engine
from cityops.org.migrate import upgrade
from cityops.org.routing import OrgRouter
from cityops.org.store import seed_if_empty
from cityops.service.tickets import TicketUnavailable, WorkerWatch
from cityops.workers.main import build_worker
from tests.conftest import eventually, fresh_queue


@dataclass(frozen=True)
class Organisation:
    """A migrated, seeded database and the router built from it (built once: it is slow)."""

    url: str
    engine: Engine
    router: OrgRouter


def seeded_organisation(directory: Path) -> Organisation:
    url = f"sqlite:///{directory / 'cityops.db'}"
    upgrade(url)
    seed_if_empty(url)
    return Organisation(url, get_engine(url), OrgRouter.from_database(url))


@dataclass
class Api:
    http: httpx.AsyncClient
    app: FastAPI
    client: Client
    settings: Settings
    engine: Engine
    notifier: RecordingNotifier
    keys: dict[Role, str]
    base_url: str = "http://test"
    _person_keys: dict[tuple[Role, str, str, bool], str] = field(default_factory=dict)

    def as_role(self, role: Role) -> dict[str, str]:
        """A key of the role bound to no person: it reads and posts, it acts as nobody."""
        return {"X-API-Key": self.keys[role]}

    def as_person(
        self, role: Role, person: str, scope: str = "district", *, act_for: bool = False
    ) -> dict[str, str]:
        """A key of the role held by `person`, seeing `scope` (made once per test)."""
        wanted = (role, person, scope, act_for)
        if wanted not in self._person_keys:
            self._person_keys[wanted] = create_key(
                self.engine,
                role,
                label="test",
                person=person,
                scope=parse_scope(scope) if scope != "district" else DISTRICT,
                act_for=act_for,
            )
        return {"X-API-Key": self._person_keys[wanted]}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def polled(client: Client, queue: str) -> None:
    """Until the worker has polled its queue: the API answers 503 before (no worker)."""
    watch = WorkerWatch(client, queue)

    async def seen() -> None:
        try:
            await watch.ensure()
        except TicketUnavailable as exc:
            raise AssertionError(str(exc)) from exc

    await eventually(seen)


@asynccontextmanager
async def running_api(
    env: WorkflowEnvironment, org: Organisation, *, served: bool = False
) -> AsyncIterator[Api]:
    """A fresh task queue, worker and app per test; the server and database are shared.
    `served`: behind a real HTTP server on a free port (for outside clients: Open311
    clients, Alertmanager, schemathesis, a browser), else in-process."""
    queue = fresh_queue()
    photos = Path(org.url.removeprefix("sqlite:///")).parent / "photos"
    settings = Settings(database_url=org.url, task_queue=queue, photo_dir=photos)
    notifier = RecordingNotifier()
    store = RecordingStore(engine=org.engine)  # the app reads the register (scope)
    dispatch = DispatchActivities(router=org.router)
    routing = RoutingActivities(org.router)  # returns and transfers re-route on the org
    worker = build_worker(
        env.client,
        queue,
        [
            *dispatch.activities(),
            *CallActivities(org.router).activities(),
            routing.return_ticket,
            routing.transfer_ticket,
            notifier.send_notice,
            *store.activities(),
            NoticeGroupActivities().group_notice,
        ],
        check_workflow_code=True,
    )

    async def provide() -> Client:
        return env.client

    app = create_app(settings, provide, locator=None)
    keys = {role: create_key(org.engine, role, label="test") for role in Role}
    async with worker:
        await polled(env.client, queue)
        if not served:
            transport = httpx.ASGITransport(app=app)
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=transport, base_url="http://test") as http,
            ):
                yield Api(http, app, env.client, settings, org.engine, notifier, keys)
            return
        port = free_port()
        config = uvicorn.Config(  # as `cityops up` serves it (workers/stack.py)
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            http="h11",
            h11_max_incomplete_event_size=1 << 20,
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                yield Api(http, app, env.client, settings, org.engine, notifier, keys, base)
        finally:
            server.should_exit = True
            await task
