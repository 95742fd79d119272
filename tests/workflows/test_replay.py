"""Replay stored histories: a non-deterministic change to TicketWorkflow fails here.

The stored histories were recorded before the encryption codec; they replay through the
same converter the workers use, whose codec passes unencrypted payloads through, so
tickets in flight across the change keep working. An encrypted history is recorded and
replayed live in tests/workflows/test_privacy_history.py (its key is the test's own)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from cityops.workers.client import data_converter
from cityops.workers.main import WORKFLOWS, workflow_runner

HISTORIES = sorted((Path(__file__).parent.parent / "data" / "histories").glob("*.json"))


def test_there_are_histories_to_replay() -> None:
    assert len(HISTORIES) >= 3


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_stored_history_replays_without_nondeterminism(path: Path) -> None:
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=data_converter(),
        workflow_runner=workflow_runner(check_workflow_code=True),
    )
    history = WorkflowHistory.from_json(f"ticket-{path.stem}", path.read_text())
    await replayer.replay_workflow(history)
