"""One seeded organisation per module (the dev server is the session's); a fresh app and
worker per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.api.stack import Api, Organisation, running_api, seeded_organisation


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Organisation:
    return seeded_organisation(tmp_path_factory.mktemp("org"))


@pytest.fixture
async def api(dev_env: WorkflowEnvironment, org: Organisation) -> AsyncIterator[Api]:
    async with running_api(dev_env, org) as running:
        yield running


@pytest.fixture
async def served(dev_env: WorkflowEnvironment, org: Organisation) -> AsyncIterator[Api]:
    """The stack behind a real HTTP server, for outside clients."""
    async with running_api(dev_env, org, served=True) as running:
        yield running
