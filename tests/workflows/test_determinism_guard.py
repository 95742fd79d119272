"""The workflow package is passed through the sandbox for speed, so ruff's bans in
workflows/ruff.toml are what keep clocks, randomness and I/O out of workflow code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUFF = str(Path(sys.executable).parent / "ruff")


def lint_as_workflow_code(source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUFF, "check", "--no-cache", "--stdin-filename", "workflows/probe.py", "-"],
        input=source, capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("source", "advice"),
    [
        ("from datetime import datetime\n\nNOW = datetime.now()\n", "use workflow.now()"),
        ("import time\n\nNOW = time.time()\n", "use workflow.now()"),
        ("import uuid\n\nID = uuid.uuid4()\n", "use workflow.uuid4()"),
        ("import httpx\n\nCLIENT = httpx.Client\n", "I/O belongs in an activity"),
    ],
)
def test_nondeterministic_calls_in_workflow_code_fail_lint(source: str, advice: str) -> None:
    result = lint_as_workflow_code(source)
    assert result.returncode == 1 and advice in result.stdout


def test_the_same_code_outside_workflows_is_not_banned() -> None:
    result = subprocess.run(
        [RUFF, "check", "--no-cache", "--stdin-filename", "activities/probe.py", "-"],
        input="from datetime import datetime\n\nNOW = datetime.now()\n",
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
