"""`cityops bench sandbox`: what running the workflows inside Temporal's sandbox costs.

Replays the stored ticket histories (tests/data/histories) many times with three runners:
production's (no sandbox), the sandbox with the workflow package passed through (production
before), and the checked one the tests use, which re-imports the workflow package inside
the sandbox for every workflow run. A replay runs a ticket's whole life through the same
code a worker runs, with no server, so the differences per ticket are the sandbox's price
on this machine.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, WorkflowRunner

from cityops.workers.main import WORKFLOWS, sandbox_runner, workflow_runner

RUNNERS: dict[str, Callable[[], WorkflowRunner]] = {
    "production (no sandbox)": lambda: workflow_runner(),
    "sandbox, workflow package passed through": lambda: sandbox_runner(),
    "checked (workflow package sandboxed)": lambda: sandbox_runner(check_workflow_code=True),
}


@dataclass(frozen=True)
class Figure:
    runner: str
    tickets: int
    cpu_ms_per_ticket: float
    wall_ms_per_ticket: float


def load_histories(folder: Path) -> list[tuple[str, str]]:
    files = sorted(folder.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"{folder}: no histories (*.json) to replay")
    return [(f"ticket-{path.stem}", path.read_text(encoding="utf-8")) for path in files]


async def _each(histories: Iterable[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for history in histories:
        yield history


async def measure(histories: list[tuple[str, str]], rounds: int, runner: str) -> Figure:
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=pydantic_data_converter,
        workflow_runner=RUNNERS[runner](),
    )
    batch = [
        WorkflowHistory.from_json(f"{workflow_id}-{n}", text)
        for n in range(rounds)
        for workflow_id, text in histories
    ]
    warm = [WorkflowHistory.from_json(wid, text) for wid, text in histories]
    await replayer.replay_workflows(_each(warm))  # imports and caches first
    cpu, wall = time.process_time(), time.perf_counter()
    results = await replayer.replay_workflows(_each(batch), raise_on_replay_failure=True)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert not results.replay_failures
    return Figure(
        runner,
        len(batch),
        cpu * 1000 / len(batch),
        wall * 1000 / len(batch),
    )
