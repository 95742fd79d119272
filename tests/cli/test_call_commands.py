"""The call commands as a hotline agent and a department type them, against a real dev
server and worker (the fake three-person organisation): `cityops` runs as a subprocess."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.cli.test_ticket_commands import cityops
from tests.conftest import eventually
from tests.workflows.harness import Harness, running


@pytest.fixture
async def h(dev_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    async with running(dev_env) as harness:
        yield harness


async def _stage(h: Harness, ticket: str, stage: str) -> str:
    async def check() -> str:
        code, out, err = await cityops(h, "status", ticket)
        assert code == 0, err
        assert f"stage  {stage}" in out, out
        return out

    return await eventually(check)


async def test_a_consultation_answered_rated_and_converted_as_typed(h: Harness) -> None:
    code, out, err = await cityops(
        h, "submit", "--text", "想问问碧波路690号门口井盖松动归谁管",
        "--address", "浦东新区张江镇碧波路690号", "--kind", "consultation",
        "--answer", "由张江镇城运分中心负责", "--agent", "hotline-agent-7",
    )  # fmt: skip
    ticket = out.strip()
    assert code == 0 and ticket.startswith("PD"), err
    out = await _stage(h, ticket, "answered")
    assert "kind  consultation" in out and "answer  由张江镇城运分中心负责" in out
    assert "(UTC+8)" in out  # times shown to people say their zone

    code, out, err = await cityops(
        h, "rate", ticket, "--result", "satisfied", "--as", "hotline-agent-7"
    )
    assert code == 0 and "rating  satisfied" in out, err
    code, _, err = await cityops(h, "rate", ticket, "--result", "satisfied", "--as", "a")
    assert code == 1 and "rated already" in err

    code, out, err = await cityops(
        h, "convert", ticket, "--as", "hotline-agent-7", "--reason", "井盖已缺失",
        "--scenario", "PS03",
    )  # fmt: skip
    assert code == 0 and "stage  converted" in out, err
    out = await _stage(h, ticket, "awaiting_accept")
    assert "PS03" in out and "converted by operator:alice on behalf of hotline-agent-7" in out

    async def listed() -> None:
        code, out, _ = await cityops(h, "list", "--query", f"TicketId='{ticket}'")
        assert code == 0 and "complaint+consultation" in out and "awaiting_accept" in out, out

    await eventually(listed)


async def test_a_suggestion_is_replied_by_its_owner_and_a_referral_needs_its_reference(
    h: Harness,
) -> None:
    code, out, err = await cityops(
        h, "submit", "--text", "建议公园延长开放时间", "--kind", "suggestion",
        "--department", "greenery_sanitation",
    )  # fmt: skip
    ticket = out.strip()
    assert code == 0, err
    out = await _stage(h, ticket, "recorded")
    assert "inbox  greenery_sanitation" in out and "reply by" in out
    code, out, err = await cityops(h, "reply", ticket, "--as", "P-DEPT", "--text", "已采纳")
    assert code == 0 and "stage  replied" in out, err

    code, _, err = await cityops(
        h, "submit", "--text", "停电了", "--kind", "referral", "--refer-to", "95598"
    )
    assert code == 2 and "reference" in err
    code, _, err = await cityops(h, "submit", "--text", "井盖没了", "--answer", "已答复")
    assert code == 2 and "--answer: only for a consultation, not a complaint" in err
