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


async def cityops(h: Harness, *args: str, operator: str = "alice") -> tuple[int, str, str]:
    env = os.environ | {
        "TEMPORAL_ADDRESS": h.client.service_client.config.target_host,
        "CITYOPS_TASK_QUEUE": h.task_queue,
        "CITYOPS_OPERATOR": operator,
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
    # The CLI is the operator's: the history says who typed it, for whom.
    assert "accepted by operator:alice on behalf of P-T01-D" in out
    status = await h.status(ticket)
    entry = next(e for e in status.history if e.event == "accepted")
    assert (entry.by, entry.acted_by) == ("P-T01-D", "operator:alice")


async def test_a_malformed_operator_name_is_refused_before_anything_happens(h: Harness) -> None:
    code, _, err = await cityops(h, "accept", "HLNONE", "--as", "P-T01-D", operator="a b")
    assert code == 2 and "CITYOPS_OPERATOR" in err


async def test_unknown_ticket_and_bad_input_say_what_is_wrong(h: Harness) -> None:
    code, _, err = await cityops(h, "status", "NOPE-1")
    assert code == 1 and "no ticket NOPE-1" in err
    code, _, err = await cityops(h, "submit", "--text", "   ", "--lat", "95")
    assert code == 2 and "lat" in err


async def test_the_cli_refuses_what_the_api_refuses_naming_the_option(h: Harness) -> None:
    """The same models as POST /api/v1/tickets and the update routes: a blank text, a note
    over its limit, a person id over its limit, a ticket number no ticket can have."""
    for blank in ("", "   "):
        code, out, err = await cityops(h, "submit", "--text", blank)
        assert code == 2 and "--text: String should have at least 1 character" in err, err
        assert out == ""
    code, _, err = await cityops(h, "submit", "--text", "井" * 4001)
    assert code == 2 and "--text: String should have at most 4000 characters" in err
    code, _, err = await cityops(h, "urge", "PD1", "--as", "P-1", "--note", "催" * 2001)
    assert code == 2 and "--note: String should have at most 2000 characters" in err
    code, _, err = await cityops(h, "accept", "PD1", "--as", "P" * 65)
    assert code == 2 and "--as: String should have at most 64 characters" in err
    code, _, err = await cityops(h, "status", "x" * 65)
    assert code == 2 and "a ticket number" in err
    code, _, err = await cityops(h, "suggest-kind", "--text", "")
    assert code == 2 and "--text" in err


async def test_status_shows_candidates_and_the_secondary_issue_and_split_splits_it(
    h: Harness,
) -> None:
    text = (
        "门口路灯坏了好几天，路灯一直不亮，这个先不说；主要是小区门口那个窨井盖丢了，晚上很危险。"
    )
    code, out, _ = await cityops(
        h,
        "submit",
        "--text",
        text,
        "--address",
        "浦东新区张江镇碧波路690号",
        "--phone",
        "13900001234",
    )
    ticket = out.strip()
    assert code == 0
    await h.settled(ticket)
    code, out, _ = await cityops(h, "status", ticket)
    assert code == 0
    assert "candidates  PS03 井盖缺失或位移" in out
    assert "secondary  PF01 " in out and f"cityops split {ticket} --as PERSON" in out

    code, _, err = await cityops(h, "split", ticket, "--as", "P-T01-01-1")
    assert code == 1 and "only a dispatcher or a supervisor" in err
    code, out, _ = await cityops(h, "split", ticket, "--as", "P-DISTRICT-1")
    assert code == 0, out
    new = out.split("new ticket ")[1].split()[0]
    assert new.startswith("PD") and new != ticket
    code, out, _ = await cityops(h, "status", ticket)
    assert (
        f"→ split into {new}" in out
        and "secondary_split by operator:alice on behalf of P-DISTRICT-1" in out
    )
    await h.settled(new)
    code, out, _ = await cityops(h, "status", new)
    assert code == 0 and "PF01 " in out and f"split from  {ticket}" in out


async def test_the_agents_service_code_wins_and_the_engines_reading_is_shown(
    h: Harness,
) -> None:
    # Issue 18: the agent picks from the candidates at submission (--service-code, the API's
    # service_code); the choice is recorded and wins, and what the engine read stays visible.
    code, out, _ = await cityops(
        h,
        "submit",
        "--text",
        "楼道里一股很重的煤气味",
        "--address",
        "浦东新区张江镇碧波路690号",
        "--phone",
        "13900001234",
        "--service-code",
        "PF01",
    )
    ticket = out.strip()
    assert code == 0, out
    await h.settled(ticket)
    code, out, _ = await cityops(h, "status", ticket)
    assert code == 0
    assert "PF01 " in out and "[service_code]" in out
    assert "engine read  PS01 (the agent's choice stands)" in out
