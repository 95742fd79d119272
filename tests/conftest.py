"""Shared fixtures: Temporal binaries from the pip packages (never downloaded), fresh
task queues per test, and a worker builder with fake or real activities."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

# Tests make their own encryption key before anything builds a data converter; subprocesses
# (the CLI under test) inherit it. No key is ever read from the repository.
from cityops.privacy.keys import generate_key

TEST_KEY = generate_key()
os.environ["CITYOPS_KEYS"] = f"{TEST_KEY.key_id}:{TEST_KEY.line().split()[1]}"

from cityops.workers.devserver import start_dev_server  # noqa: E402

BIN = Path(sys.executable).parent
TEMPORAL_CLI = str(BIN / "temporal")
TEST_SERVER = str(BIN / "temporal-test-server")
DATA = Path(__file__).parent / "data"

T = TypeVar("T")
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'org.db'}"
        return
    with fresh_postgres_database() as url:
        yield url


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database on the local server, dropped afterwards."""
    name = f"cityops_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        from cityops.db.engine import get_engine

        get_engine.cache_clear()  # engines hold connections; the drop forces them out anyway
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def engine(database_url: str) -> Engine:
    """The application's engine (SQLite with foreign keys on), as the commands use it."""
    from cityops.db.engine import get_engine

    return get_engine(database_url)


def fresh_queue() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


async def eventually(check: Callable[[], Awaitable[T]], *, timeout: float = 10.0) -> T:
    """Poll `check` until it stops raising AssertionError; poll, don't sleep."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """One real dev server for the whole run; tests stay apart by fresh task queues."""
    environment = await start_dev_server()
    try:
        yield environment
    finally:
        await environment.shutdown()
