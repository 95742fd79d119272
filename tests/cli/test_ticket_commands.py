"""The ticket commands as a hotline agent and a responder type them, against a real dev
server and worker: the `cityops` script runs as a subprocess."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.workflows.harness import Harness, running

CITYOPS = str(Path(sys.executable).parent / "cityops")


@pytest.fixture
async def h(dev_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    async with running(dev_env) as harness:
        yield harness


async def cityops(h: Harness, *args: str) -> tuple[int, str, str]:
    env = os.environ | {
        "TEMPORAL_ADDRESS": h.client.service_client.config.target_host,
        "CITYOPS_TASK_QUEUE": h.task_queue,
    }
    process = await asyncio.create_subprocess_exec(
        CITYOPS, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_submit_accept_and_status_as_typed(h: Harness) -> None:
    submit = ["submit", "--text", "碧波路690号门口井盖不见了", "--address",
              "浦东新区张江镇碧波路690号", "--phone", "13900001234", "--name", "王先生",
              "--hotline-id", "12345-CLI-1", "--scenario", "PS03"]  # fmt: skip
    code, out, _ = await cityops(h, *submit)
    ticket = out.strip()
    assert code == 0 and ticket.startswith("HL")
    code, out, _ = await cityops(h, *submit)
    assert code == 0 and out.strip() == f"{ticket}  (already submitted: same ticket)"

    await h.settled(ticket)
    code, _, err = await cityops(h, "accept", ticket, "--as", "P-NOBODY")
    assert code == 1 and "P-NOBODY is not assigned to this ticket" in err
    code, out, _ = await cityops(h, "accept", ticket, "--as", "P-T01-D")
    assert code == 0 and "accepted" in out

    code, out, _ = await cityops(h, "status", ticket)
    assert code == 0
    assert "PS03 井盖缺失或位移 P1" in out and "P-T01-D" in out and "dispatched" in out


async def test_unknown_ticket_and_bad_input_say_what_is_wrong(h: Harness) -> None:
    code, _, err = await cityops(h, "status", "NOPE-1")
    assert code == 1 and "no ticket NOPE-1" in err
    code, _, err = await cityops(h, "submit", "--text", "   ", "--lat", "95")
    assert code == 2 and "lat" in err
