"""The intake API on a real Temporal dev server: the app from `create_app`, a worker with
the real rules and organisation (seeded SQLite in tmp) and a recording notifier, an
httpx client, and API keys of every role created in the database (hashed at rest)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cityops.activities.calls import CallActivities
from cityops.activities.dispatch import DispatchActivities
from cityops.activities.route import RoutingActivities
from cityops.activities.testing import RecordingNotifier, RecordingStore
from cityops.api.app import create_app
from cityops.api.keys import Role, create_key
from cityops.config import Settings
from cityops.db.engine import get_engine
from cityops.org.migrate import upgrade
from cityops.org.routing import OrgRouter
from cityops.org.store import seed_if_empty
from cityops.workers.main import build_worker
from tests.conftest import fresh_queue


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

    def as_role(self, role: Role) -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}


@asynccontextmanager
async def running_api(env: WorkflowEnvironment, org: Organisation) -> AsyncIterator[Api]:
    """A fresh task queue, worker and app per test; the server and database are shared."""
    queue = fresh_queue()
    photos = Path(org.url.removeprefix("sqlite:///")).parent / "photos"
    settings = Settings(database_url=org.url, task_queue=queue, photo_dir=photos)
    notifier = RecordingNotifier()
    store = RecordingStore()
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
        ],
    )

    async def provide() -> Client:
        return env.client

    app = create_app(settings, provide, locator=None)
    keys = {role: create_key(org.engine, role, label="test") for role in Role}
    transport = httpx.ASGITransport(app=app)
    async with (
        worker,
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
    ):
        yield Api(http, app, env.client, settings, org.engine, notifier, keys)
