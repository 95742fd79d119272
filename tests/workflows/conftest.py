from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from cityops.workers.client import data_converter
from cityops.workflows import search_attributes as sa
from tests.conftest import TEST_SERVER
from tests.workflows.harness import Harness, running


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping server per test: its clock jumps once a result is awaited."""
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=TEST_SERVER, data_converter=data_converter()
    )
    try:
        await sa.register(environment.client, "default")
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture
async def h(env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    async with running(env) as harness:
        yield harness


@pytest.fixture
async def demo(env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    async with running(env, demo_org=True) as harness:
        yield harness
