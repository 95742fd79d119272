"""`cityops keys`, `cityops reveal-phone` and `cityops privacy` as an operator types them
(the script as a subprocess), on a key file and database of the test's own, against a
real dev server for the Temporal half of erasure."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from cityops.activities.store import save_record
from cityops.config import Settings
from cityops.db.engine import get_engine
from cityops.domain.models import DismissInput, TicketIntake, TicketRecord, TicketStatus
from cityops.domain.stages import Source, Stage
from cityops.org.migrate import upgrade
from cityops.privacy.keys import load_keyring
from cityops.privacy.register import reveals_of
from cityops.service import tickets
from cityops.workflows.ticket import TicketWorkflow
from tests.conftest import eventually
from tests.workflows.harness import Harness, intake, running

CITYOPS = str(Path(sys.executable).parent / "cityops")
PHONE, NAME = "13900001234", "王先生"


@pytest.fixture
async def h(dev_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    async with running(dev_env) as harness:
        yield harness


@pytest.fixture
def operator_env(tmp_path: Path, h: Harness) -> dict[str, str]:
    """A deployment with a key file (no CITYOPS_KEYS) and its own database."""
    env = {k: v for k, v in os.environ.items() if k != "CITYOPS_KEYS"}
    return env | {
        "CITYOPS_KEY_FILE": str(tmp_path / "keys"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cityops.db'}",
        "TEMPORAL_ADDRESS": h.client.service_client.config.target_host,
        "CITYOPS_TASK_QUEUE": h.task_queue,
        "CITYOPS_OPERATOR": "ops-1",
    }


async def cityops(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        CITYOPS, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def settings_of(env: dict[str, str]) -> Settings:
    return Settings(
        keys="", key_file=Path(env["CITYOPS_KEY_FILE"]), database_url=env["DATABASE_URL"]
    )


def store_contact(env: dict[str, str], ticket_id: str, phone: str = PHONE) -> None:
    """What the worker's store writes for a ticket, under the deployment's active key."""
    settings = settings_of(env)
    upgrade(settings.database_url)
    at = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    record = TicketRecord(
        ticket_id=ticket_id, workflow_id=f"ticket-{ticket_id}", stage=Stage.AWAITING_ACCEPT,
        intake=TicketIntake(ticket_id=ticket_id, source=Source.HOTLINE, text="井盖不见了",
                            caller_phone=phone, caller_name=NAME, received_at=at),
        event="dispatched", at=at,
    )  # fmt: skip
    save_record(get_engine(settings.database_url), record, load_keyring(settings))


async def test_rotate_makes_a_private_key_file_and_reseals_the_register(
    operator_env: dict[str, str],
) -> None:
    code, _, err = await cityops(operator_env, "keys", "list")
    assert code == 1 and "cityops keys rotate" in err  # no key: says how to make one

    code, out, _ = await cityops(operator_env, "keys", "rotate")
    assert code == 0, out
    key_file = Path(operator_env["CITYOPS_KEY_FILE"])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = load_keyring(settings_of(operator_env)).active.key_id
    store_contact(operator_env, "HLROT1")

    code, out, _ = await cityops(operator_env, "keys", "rotate")
    assert code == 0 and "1 stored contacts re-encrypted" in out
    ring = load_keyring(settings_of(operator_env))
    assert ring.ids[0] == first and ring.active.key_id != first
    code, out, _ = await cityops(operator_env, "keys", "list")
    assert f"{ring.active.key_id}  contacts=1  (encrypts)" in out
    assert f"{first}  contacts=0" in out
    assert key_file.read_text().split()[-1] not in out  # ids only, never a key


async def test_reveal_phone_prints_the_number_and_records_who_and_why(
    operator_env: dict[str, str],
) -> None:
    await cityops(operator_env, "keys", "rotate")
    store_contact(operator_env, "HLREV1")
    code, out, err = await cityops(
        operator_env, "reveal-phone", "HLREV1", "--as", "P-T01-3", "--reason", "上门前确认"
    )
    assert code == 0, err
    assert out.split() == [PHONE, NAME]
    engine = get_engine(operator_env["DATABASE_URL"])
    [logged] = reveals_of(engine, "HLREV1")
    assert (logged.person_id, logged.via, logged.reason) == (
        "P-T01-3",
        "cli by operator:ops-1",
        "上门前确认",
    )
    code, _, err = await cityops(
        operator_env, "reveal-phone", "HLREV1", "--as", "P", "--reason", "x"
    )
    assert code == 2 and "--reason" in err


async def test_erase_clears_the_register_and_deletes_closed_histories(
    operator_env: dict[str, str], h: Harness
) -> None:
    await cityops(operator_env, "keys", "rotate")
    received = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    await h.start(intake("HLERA1", text="喂喂，听得到吗", received_at=received))  # triage
    await tickets.update(
        h.client, "HLERA1", TicketWorkflow.dismiss, DismissInput(by="P-DIST-D", reason="咨询")
    )
    await h.start(intake("HLERA2", scenario="PS03", received_at=received))  # stays open
    for ticket_id in ("HLERA1", "HLERA2"):
        store_contact(operator_env, ticket_id)

    code, out, _ = await cityops(operator_env, "privacy", "tickets", "--phone", "139 0000 1234")
    assert out.split() == ["HLERA1", "HLERA2"]

    code, out, err = await cityops(
        operator_env, "privacy", "erase", "--phone", PHONE, "--by", "P-DIST-D",
        "--reason", "市民来电要求删除个人信息",
    )  # fmt: skip
    assert code == 0, err
    assert "erased the caller's data of 2 tickets" in out
    assert "deleted 1 closed histories" in out and "still open" in out and "HLERA2" in out
    code, out, _ = await cityops(operator_env, "privacy", "tickets", "--phone", PHONE)
    assert out.strip() == ""

    async def deleted() -> None:
        try:
            await tickets.handle_for(h.client, "HLERA1").describe()
        except RPCError:
            return
        raise AssertionError("history still there")

    await eventually(deleted, timeout=60)  # Temporal deletes in the background
    status: TicketStatus = await tickets.status(h.client, "HLERA2")
    # The open work order carries on (its clock runs from the pinned intake instant, hours
    # ago, so it may already have climbed its chain: still open, still somebody's).
    assert not status.stage.is_final and status.assignee_id is not None
