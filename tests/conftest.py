"""Shared fixtures: Temporal binaries from the pip packages (never downloaded), fresh
task queues per test, and a worker builder with fake or real activities."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

BIN = Path(sys.executable).parent
TEMPORAL_CLI = str(BIN / "temporal")
TEST_SERVER = str(BIN / "temporal-test-server")
DATA = Path(__file__).parent / "data"

T = TypeVar("T")


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
