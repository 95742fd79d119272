"""One seeded organisation per module (the dev server is the session's); a fresh app and
worker per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment

from cityops.db.audit import IncidentRow, IncidentTicketRow
from tests.api.stack import Api, Organisation, running_api, seeded_organisation


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Organisation:
    return seeded_organisation(tmp_path_factory.mktemp("org"))


def no_open_incidents(org: Organisation) -> None:
    """The register is the module's: a complaint an earlier test left open at the same
    place would make this test's complaint a repeat call, which waits on that ticket
    instead of being dispatched (docs/incidents.md). Each test starts with none."""
    with Session(org.engine) as session:
        session.execute(delete(IncidentTicketRow))
        session.execute(delete(IncidentRow))
        session.commit()


@pytest.fixture
async def api(dev_env: WorkflowEnvironment, org: Organisation) -> AsyncIterator[Api]:
    no_open_incidents(org)
    async with running_api(dev_env, org) as running:
        yield running


@pytest.fixture
async def served(dev_env: WorkflowEnvironment, org: Organisation) -> AsyncIterator[Api]:
    """The stack behind a real HTTP server, for outside clients."""
    no_open_incidents(org)
    async with running_api(dev_env, org, served=True) as running:
        yield running
