"""A ticket never refuses what its own history holds: a history recorded before the length
limits existed, holding an urge whose note is three times today's limit, replays without
nondeterminism; the same input is refused everywhere outside a workflow."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from cityops.domain.models import UrgeInput
from cityops.workers.client import data_converter
from cityops.workers.main import WORKFLOWS, workflow_runner

HISTORY = Path(__file__).parent.parent / "data" / "histories" / "H-EXT-v3.json"
LONG_NOTE = "抓紧" * 3000


def _with_long_urge(events: list[dict[str, Any]]) -> int:
    """Make the history's urge carry a note over its limit (before the limits, the note
    had none)."""
    changed = 0
    for event in events:
        accepted = event.get("workflowExecutionUpdateAcceptedEventAttributes")
        if not accepted or accepted["acceptedRequest"]["input"]["name"] != "urge":
            continue
        payload = accepted["acceptedRequest"]["input"]["args"]["payloads"][0]
        payload["data"] = base64.b64encode(
            json.dumps({"by": "P-DIST-D", "note": LONG_NOTE}, ensure_ascii=False).encode()
        ).decode()
        changed += 1
    return changed


def _long_history() -> WorkflowHistory:
    recorded = json.loads(HISTORY.read_text())
    assert _with_long_urge(recorded["events"]) == 1
    return WorkflowHistory.from_json("ticket-H-EXT", json.dumps(recorded))


@pytest.mark.parametrize("checked", [False, True], ids=["production runner", "checked sandbox"])
async def test_a_history_with_an_urge_over_the_limits_replays(checked: bool) -> None:
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=data_converter(),
        workflow_runner=workflow_runner(check_workflow_code=checked),
    )
    await replayer.replay_workflow(_long_history())


async def test_without_the_workers_runner_the_same_history_would_not_replay() -> None:
    """Why every activation is marked (HistoryReading): a bare runner without the sandbox,
    as production runs, would refuse the old urge and fail the replay."""
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=data_converter(),
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    result = await replayer.replay_workflow(_long_history(), raise_on_replay_failure=False)
    assert result.replay_failure is not None


def test_the_same_urge_is_refused_outside_a_workflow() -> None:
    with pytest.raises(ValidationError) as refused:
        UrgeInput.model_validate({"by": "P-DIST-D", "note": LONG_NOTE})
    assert [error["loc"] for error in refused.value.errors()] == [("note",)]
