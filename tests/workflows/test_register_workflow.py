"""The workflow writes the lasting register (real store activities, SQLite and PostgreSQL):
every history entry once, in order, with who and from which stage to which; the ticket
row shows the workflow's stage at each step, reopened included; triage and dismissed
tickets are there too."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from cityops.domain.models import AcceptInput, CallbackInput, DismissInput, ResolveInput
from cityops.domain.stages import CallbackResult, Stage
from cityops.org.migrate import upgrade
from cityops.register.tables import TicketEventRow, TicketRow
from cityops.service import cityview, tickets
from cityops.workflows.ticket import TicketWorkflow
from tests.conftest import eventually
from tests.workflows.harness import Harness, intake, running


def _row(engine: Engine, ticket_id: str) -> TicketRow | None:
    with Session(engine) as session:
        return session.get(TicketRow, ticket_id)


def _events(engine: Engine, ticket_id: str) -> list[TicketEventRow]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(TicketEventRow)
                .where(TicketEventRow.ticket_id == ticket_id)
                .order_by(col(TicketEventRow.seq))
            )
        )


async def _register_shows(h: Harness, engine: Engine, ticket_id: str) -> Stage:
    """Wait until the register's row has the workflow's stage; return it."""

    async def check() -> Stage:
        status = await h.status(ticket_id)
        row = _row(engine, ticket_id)
        assert row is not None and row.stage == status.stage.value
        assert len(_events(engine, ticket_id)) == len(status.history)
        return status.stage

    return await eventually(check)


async def test_the_register_follows_a_reopened_ticket_to_its_closing(
    env: WorkflowEnvironment, database_url: str, engine: Engine
) -> None:
    upgrade(database_url)
    async with running(env, register=engine) as h:
        handle = await h.start(intake("T-REG", scenario="CH01", received_at=datetime.now(UTC)))
        assert await _register_shows(h, engine, "T-REG") is Stage.AWAITING_ACCEPT
        await tickets.update(
            h.client, "T-REG", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D")
        )
        await tickets.update(
            h.client,
            "T-REG",
            TicketWorkflow.resolve,
            ResolveInput(person_id="P-T01-D", note="已处理"),
        )
        await h.until(lambda: "callback_request" in h.notifier.kinds())
        unhappy = CallbackInput(result=CallbackResult.UNSATISFIED, by="hotline-agent-7")
        await tickets.update(h.client, "T-REG", TicketWorkflow.callback, unhappy)
        await h.until_stage("T-REG", Stage.REOPENED)
        assert await _register_shows(h, engine, "T-REG") is Stage.REOPENED
        await tickets.update(
            h.client,
            "T-REG",
            TicketWorkflow.resolve,
            ResolveInput(person_id="P-T01-D", note="再次处理"),
        )
        happy = CallbackInput(result=CallbackResult.SATISFIED, by="hotline-agent-7")
        await tickets.update(h.client, "T-REG", TicketWorkflow.callback, happy)
        await handle.result()
        history = (await h.status("T-REG")).history

    row = _row(engine, "T-REG")
    assert row is not None and row.stage == "closed" and row.closed_at is not None
    assert row.text == "测试工单" and row.scenario_id == "CH01" and row.street_code == "T01"
    events = _events(engine, "T-REG")
    assert [(e.event, e.stage, e.actor) for e in events] == [
        (entry.event, entry.stage.value, entry.by) for entry in history
    ]
    assert all(e.from_stage == prev.stage for prev, e in itertools.pairwise(events))
    accepted = next(e for e in events if e.event == "accepted")
    assert accepted.actor == "P-T01-D" and accepted.resolve_deadline is not None


async def test_a_dismissed_triage_ticket_is_in_the_register(
    env: WorkflowEnvironment, database_url: str, engine: Engine
) -> None:
    upgrade(database_url)
    async with running(env, register=engine) as h:
        handle = await h.start(
            intake("T-RDIS", text="请问社保卡在哪里补办", received_at=datetime.now(UTC))
        )
        assert await _register_shows(h, engine, "T-RDIS") is Stage.TRIAGE
        dismissal = DismissInput(by="P-DIST-D", reason="咨询类，已答复")
        await tickets.update(h.client, "T-RDIS", TicketWorkflow.dismiss, dismissal)
        await handle.result()
    events = _events(engine, "T-RDIS")
    assert [(e.event, e.from_stage, e.stage) for e in events] == [
        ("received", None, "intake"),
        ("needs_triage", "intake", "triage"),
        ("triage_assigned", "triage", "triage"),  # its owner, on the triage clock
        ("dismissed", "triage", "dismissed"),
    ]
    assert events[-1].actor == "P-DIST-D" and events[-1].detail == "咨询类，已答复"
    row = _row(engine, "T-RDIS")
    assert row is not None and row.stage == "dismissed"


async def test_a_stalled_ticket_shows_in_the_city_views_vital_signs(
    env: WorkflowEnvironment, database_url: str, engine: Engine
) -> None:
    """PS01 (safe) nobody accepts: the director is pressed three times, then the ticket is
    stalled; the register says so and the city view counts it until someone acts."""
    upgrade(database_url)
    async with running(env, register=engine) as h:
        received = (await env.get_current_time()).astimezone(UTC)
        await h.start(intake("T-STL", scenario="PS01", received_at=received))
        await env.sleep(timedelta(minutes=36))
        assert (await h.status("T-STL")).stalled_since is not None
        await _register_shows(h, engine, "T-STL")

        async def stalled_now() -> object:
            now = (await env.get_current_time()).astimezone(UTC) + timedelta(seconds=1)
            rows = cityview.vitals(engine, now)["indicators"]
            return next(r["value"] for r in rows if r["id"] == "service.safe.stalled_now")

        assert await stalled_now() == 1.0
        await tickets.update(
            h.client, "T-STL", TicketWorkflow.accept, AcceptInput(person_id="P-DEPT")
        )

        async def acted() -> None:
            assert "stall_ended" in [e.event for e in _events(engine, "T-STL")]

        await eventually(acted)
        assert await stalled_now() == 0.0


async def test_a_retried_write_adds_no_second_row(
    env: WorkflowEnvironment, database_url: str, engine: Engine
) -> None:
    """Every register write commits and then loses its answer, so every one is retried:
    the key (the ticket and the entry's index) is the same on the retry, and the register
    holds each entry once, `dispatched` included."""
    upgrade(database_url)
    async with running(env, register=engine, lose_first_answers=True) as h:
        handle = await h.start(intake("T-RTY", scenario="CH01", received_at=datetime.now(UTC)))
        await tickets.update(
            h.client, "T-RTY", TicketWorkflow.accept, AcceptInput(person_id="P-T01-D")
        )
        assert await _register_shows(h, engine, "T-RTY") is Stage.ACCEPTED
        history = (await h.status("T-RTY")).history
        await handle.terminate("test over")
    events = _events(engine, "T-RTY")
    assert [e.event for e in events] == [e.event for e in history]
    assert [e.event for e in events].count("dispatched") == 1
    assert [e.seq for e in events] == list(range(len(history)))
