"""The intake API: tickets, alarms, Open311, Alertmanager, one-tap accept, ticket pages,
the responder's page, the caller's phone revealed on purpose, and the codec server at /codec.

``create_app(settings, client_provider)`` builds the app; the Temporal client is made
when the app starts (lifespan), so importing this module connects to nothing.
``uvicorn cityops.api.app:app`` serves the module-level app on the environment's settings;
OpenAPI docs are at /docs (Swagger UI) and /redoc, served from the package.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from temporalio.client import Client

from cityops.api import (
    accept,
    docs_pages,
    errors,
    openapi_docs,
    routes_alarms,
    routes_alertmanager,
    routes_calls,
    routes_cityview,
    routes_health,
    routes_incidents,
    routes_open311,
    routes_pages,
    routes_privacy,
    routes_responder,
    routes_tickets,
)
from cityops.api.codec_server import create_codec_app
from cityops.api.context import AppContext
from cityops.api.keys import KeyStore, dev_keys
from cityops.config import Settings, check_secret, get_settings
from cityops.db.engine import get_engine
from cityops.domain.models import AcceptInput
from cityops.privacy.keys import load_keyring
from cityops.rules.load import default_rules
from cityops.service import tickets
from cityops.service.alarms import AlarmIntake, Locator
from cityops.service.geography import Geography
from cityops.service.tickets import TicketNotFound, TicketRejected, WorkerWatch
from cityops.workers.calendar_watch import announce_calendar
from cityops.workers.client import connect
from cityops.workers.logging import configure_logging
from cityops.workflows.ticket import TicketWorkflow

log = structlog.get_logger(__name__)
ClientProvider = Callable[[], Awaitable[Client]]
# Under `cityops up` the API may start a moment before Temporal answers.
CONNECT_TRIES = 30


def create_app(
    settings: Settings | None = None,
    client_provider: ClientProvider | None = None,
    *,
    locator: Locator | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    provider = client_provider or (lambda: _connect_with_retries(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_format)
        # Before anything connects: a weak secret beyond loopback stops the start here.
        if (weakness := check_secret(settings)) is not None:
            log.warning("weak_secret", detail=weakness)
        # The same "today" and calendar as GET /health, so a test can pin both.
        overrides = app.dependency_overrides
        announce_calendar(
            "api",
            today=overrides.get(routes_health.get_today, routes_health.get_today)(),
            hours=overrides.get(routes_health.get_working_hours, routes_health.get_working_hours)(),
        )
        client = await provider()
        engine = get_engine(settings.database_url)
        rules = default_rules()
        geography = Geography(engine)
        context = AppContext(
            settings=settings,
            client=client,
            engine=engine,
            rules=rules,
            alarms=AlarmIntake(
                client,
                settings.task_queue,
                engine,
                rules=rules,
                locator=locator,
                geography=geography,
            ),
            keys=KeyStore(engine, dev_keys()),
            ring=load_keyring(settings),
            geography=geography,
            workers=WorkerWatch(client, settings.task_queue, settings.temporal_namespace),
        )
        app.state.context = context
        app.dependency_overrides[accept.get_accept_action] = lambda: _accept_action(
            client, context.workers
        )
        app.dependency_overrides[accept.get_link_check] = lambda: _link_check(
            client, context.workers
        )
        log.info("api_started", temporal=settings.temporal_address, task_queue=settings.task_queue)
        yield
        app.state.context = None

    app = FastAPI(
        title="cityops intake API",
        description="Tickets, alarm events, Open311 GeoReport v2 and Alertmanager intake.",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # served from the package by docs_pages, not from a CDN
        redoc_url=None,
    )
    errors.install(app)
    docs_pages.install(app)
    openapi_docs.install(app)
    for module in (
        routes_calls,
        routes_tickets,
        routes_alarms,
        routes_incidents,
        routes_open311,
        routes_alertmanager,
        routes_pages,
        routes_responder,
        routes_cityview,
        routes_privacy,
        routes_health,
    ):
        app.include_router(module.router)
    app.include_router(accept.router)
    # The codec server for the Temporal UI and CLI: its own CORS, supervisors only.
    app.mount("/codec", create_codec_app(settings, lambda: getattr(app.state, "context", None)))
    return app


def _link_check(client: Client, workers: WorkerWatch) -> accept.LinkCheck:
    """What a link may do on the live ticket (its status query); gone: stale."""

    async def state(ticket_id: str, person_id: str) -> accept.LinkState:
        try:
            status = await tickets.status(client, ticket_id, include_history=False, workers=workers)
        except TicketNotFound as gone:
            raise accept.LinkStale(str(gone)) from gone
        return accept.link_state(status, person_id)

    return state


def _accept_action(client: Client, workers: WorkerWatch) -> accept.AcceptAction:
    """The one-tap accept: only while the live ticket waits for the link's person; a
    second tap (or a race with the first) finds it accepted by them and says so."""
    state = _link_check(client, workers)

    async def accept_ticket(ticket_id: str, person_id: str) -> accept.AcceptOutcome:
        found = await state(ticket_id, person_id)
        if found is accept.LinkState.ALREADY:
            return accept.AcceptOutcome.ALREADY_ACCEPTED
        if found is accept.LinkState.STALE:
            raise accept.LinkStale(f"ticket {ticket_id} no longer waits for {person_id}")
        try:
            await tickets.update(
                client, ticket_id, TicketWorkflow.accept, AcceptInput(person_id=person_id), workers
            )
        except (TicketRejected, TicketNotFound) as refused:
            if await state(ticket_id, person_id) is accept.LinkState.ALREADY:
                return accept.AcceptOutcome.ALREADY_ACCEPTED
            raise accept.LinkStale(str(refused)) from refused
        return accept.AcceptOutcome.ACCEPTED

    return accept_ticket


async def _connect_with_retries(settings: Settings) -> Client:
    for attempt in range(CONNECT_TRIES):
        try:
            return await connect(settings)
        except RuntimeError:
            if attempt + 1 == CONNECT_TRIES:
                raise
            log.warning(
                "temporal_not_ready", address=settings.temporal_address, attempt=attempt + 1
            )
            await asyncio.sleep(1)
    raise AssertionError("unreachable")


app = create_app()
