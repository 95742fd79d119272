"""Determinism is enforced, not hoped for. Production passes the workflow package through
the sandbox (for speed, docs/performance.md), so two guards keep clocks, randomness and I/O
out of workflow code, and both fail this suite:

1. ruff's bans for workflows/ (pyproject.toml), run here over the real workflow code and
   over probes, by either path the package is reached (workflows/, cityops/workflows/);
2. every workflow test and replay runs the checked sandbox runner, in which the workflow
   package is NOT passed through: the sandbox refuses a wall-clock call or a file opened.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from cityops.workers.main import PASSTHROUGH, SHARED, sandbox_runner
from tests.conftest import eventually, fresh_queue
from tests.workflows.probes import ProbeWorkflow

ROOT = Path(__file__).resolve().parents[2]
RUFF = str(Path(sys.executable).parent / "ruff")


def ruff(source: str, filename: str) -> subprocess.CompletedProcess[str]:
    command = [RUFF, "check", "--no-cache", "--output-format", "concise"]
    return subprocess.run(
        [*command, "--stdin-filename", filename, "-"],
        input=source, capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip


PROBES = [
    ("from datetime import datetime\n\nNOW = datetime.now()\n", "use workflow.now()"),
    ("import datetime\n\nNOW = datetime.datetime.now()\n", "use workflow.now()"),
    ("import time\n\nNOW = time.time()\n", "use workflow.now()"),
    ("import uuid\n\nID = uuid.uuid4()\n", "use workflow.uuid4()"),
    ("import random\n\nX = random.random()\n", "use workflow.random()"),
    ("import httpx\n\nCLIENT = httpx.Client\n", "I/O belongs in an activity"),
    ('def read() -> str:\n    with open("rules.yaml") as f:\n        return f.read()\n', "open()"),
    ('from pathlib import Path\n\nTEXT = Path("x").read_text()\n', "I/O belongs in an activity"),
    ('import os\n\nURL = os.environ["DATABASE_URL"]\n', "belong in activities"),
]


@pytest.mark.parametrize("path", ["workflows/probe.py", "cityops/workflows/probe.py"])
@pytest.mark.parametrize(("source", "advice"), PROBES)
def test_clocks_randomness_and_io_in_workflow_code_fail_lint(
    source: str, advice: str, path: str
) -> None:
    result = ruff(source, path)
    assert result.returncode == 1 and advice in result.stdout, result.stdout + result.stderr


def test_the_same_code_outside_workflows_is_not_banned() -> None:
    result = ruff("from datetime import datetime\n\nNOW = datetime.now()\n", "activities/probe.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_code_itself_passes_the_bans() -> None:
    """So adding a banned call to workflows/ fails this test, whether or not CI lints."""
    result = subprocess.run(
        [RUFF, "check", "--no-cache", "workflows"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_tests_run_the_workflow_package_inside_the_sandbox() -> None:
    assert "cityops.workflows" in PASSTHROUGH  # production: shared, for speed
    checked = sandbox_runner(check_workflow_code=True)
    shared = checked.restrictions.passthrough_modules
    assert "cityops.workflows" not in shared and set(SHARED) <= shared


@pytest.mark.parametrize(
    ("action", "refusal"),
    [("clock", "datetime.datetime.now"), ("file", "open")],
)
async def test_a_clock_or_a_file_in_sandboxed_workflow_code_fails_the_workflow_task(
    env: WorkflowEnvironment, action: str, refusal: str
) -> None:
    queue = fresh_queue()
    worker = Worker(
        env.client,
        task_queue=queue,
        workflows=[ProbeWorkflow],
        workflow_runner=sandbox_runner(check_workflow_code=True),
    )
    async with worker:
        handle = await env.client.start_workflow(
            ProbeWorkflow.run, action, id=f"probe-{action}-{queue}", task_queue=queue
        )

        async def task_failed() -> None:
            history: WorkflowHistory = await handle.fetch_history()
            failures = [
                e.workflow_task_failed_event_attributes.failure.message
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
            ]
            assert any(refusal in message for message in failures), failures

        await eventually(task_failed)
        await handle.terminate("probe done")
