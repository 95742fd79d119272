"""The OpenAPI document is true: a bounded schemathesis run over every operation of the
API on a real HTTP server finds no server error and no response that the document does
not describe (status code, content type, headers, body schema).

Bounded and once: every operation gets its examples, its coverage cases and at most 5
fuzzed cases, one pass (no `--max-time`, under which fuzzing repeats until the budget is
spent); the whole run is killed, and the test fails saying so, after RUN_LIMIT seconds."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cityops.api.keys import Role
from cityops.workers.devserver import start_dev_server
from tests.api.stack import Api, Organisation, running_api

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
RUN_LIMIT = 600  # seconds for the whole run, every operation once (about 3 min on 2 cores)
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


@pytest.fixture
async def alone(org: Organisation) -> AsyncIterator[Api]:
    """The stack on a Temporal server of its own: the shared one holds tickets of earlier
    tests whose workers are gone, and an action on those rightly answers 503."""
    environment = await start_dev_server()
    try:
        async with running_api(environment, org, served=True) as running:
            yield running
    finally:
        await environment.shutdown()


async def test_a_bounded_schemathesis_run_finds_no_violation(alone: Api, tmp_path: Path) -> None:
    served = alone
    process = await asyncio.create_subprocess_exec(
        SCHEMATHESIS,
        "run",
        f"{served.base_url}/openapi.json",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "5",
        "--workers",
        "1",  # hypothesis' lambda descriptions are not thread-safe (schemathesis runtime errors)
        "--seed",
        "13",
        "--request-timeout",
        "20",
        "--generation-allow-x00",
        "false",
        "--header",
        f"X-API-Key: {served.keys[Role.SUPERVISOR]}",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout=RUN_LIMIT)
    except TimeoutError:
        process.kill()
        out, _ = await process.communicate()
        pytest.fail(f"schemathesis ran over {RUN_LIMIT} s:\n{out.decode(errors='replace')[-3000:]}")
    text = out.decode(errors="replace")
    (tmp_path / "schemathesis.out").write_text(text)  # the whole story, kept with the test
    assert process.returncode == 0, text[-6000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", text)
    assert generated is not None, text[-3000:]
    assert int(generated[1]) == int(generated[2])  # every case passed
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", text)
    assert selected is not None, text[-3000:]
    assert selected[1] == selected[2] == selected[3]  # every operation was exercised
