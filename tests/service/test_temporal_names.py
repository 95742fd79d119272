"""Temporal calls go through definitions, not name strings: every API route and every CLI
command names an update the workflow really has, and every update has both."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from temporalio import workflow
from typer.testing import CliRunner

from cityops.api.routes_tickets import UPDATES
from cityops.api.routes_tickets import router as tickets_router
from cityops.cli import tickets as cli_tickets
from cityops.cli.main import app
from cityops.domain.models import TicketStatus
from cityops.domain.stages import Source, Stage
from cityops.service import tickets
from cityops.workflows.ticket import ALARM_EVENT_SIGNAL, TicketWorkflow

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = workflow._Definition.must_from_class(TicketWorkflow)
UPDATE_FUNCTIONS = {d.fn: name for name, d in DEFINITION.updates.items() if name}


def update_name(update: object) -> str:
    """The workflow's name for an update function; fails for anything else."""
    assert update in UPDATE_FUNCTIONS, f"{update!r} is not an update of TicketWorkflow"
    return UPDATE_FUNCTIONS[update]


def test_every_route_names_an_update_of_the_workflow() -> None:
    names = [update_name(route.update) for route in UPDATES]
    assert len(names) == len(set(names))


# One invocation per command that runs an update, with valid arguments.
CLI_UPDATES = [
    ["accept", "T1", "--as", "P"],
    ["resolve", "T1", "--as", "P"],
    ["triage", "T1", "--scenario", "PS03", "--as", "P"],
    ["callback", "T1", "--result", "satisfied", "--as", "P"],
    ["review", "T1", "--decision", "approved", "--as", "P"],
    ["recheck", "T1", "--cleared"],
    ["urge", "T1", "--as", "P"],
    ["dismiss", "T1", "--as", "P", "--reason", "咨询"],
    ["close-unfixed", "T1", "--as", "P", "--reason", "撤场"],
    ["return", "T1", "--as", "P", "--reason", "not_our_duty"],
    ["transfer", "T1", "--as", "P", "--to", "T05", "--reason", "属地"],
    ["extend", "T1", "--as", "P", "--until", "2026-12-01T18:00:00+08:00", "--reason", "等材料"],
    ["decide-extension", "T1", "--as", "P", "--approve"],
    ["reconsider", "T1", "--as", "P", "--reason", "不归我们", "--suggest", "T02"],
    ["decide-reconsideration", "T1", "--as", "P", "--approve", "--to", "T02"],
    ["contact", "T1", "--as", "P"],
    ["pause", "T1", "--as", "P", "--reason", "等业主"],
    ["resume", "T1", "--as", "P"],
]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, BaseModel]]:
    """Every update a command sends, without a server."""
    calls: list[tuple[object, BaseModel]] = []

    async def fake_update(
        client: Any, ticket_id: str, update: object, request: Any, *_: Any
    ) -> Any:
        calls.append((update, request))
        return TicketStatus(
            ticket_id=ticket_id, stage=Stage.ACCEPTED, source=Source.HOTLINE, text=None,
            address=None,
        )  # fmt: skip

    async def fake_connect(*_: Any) -> object:
        return object()

    monkeypatch.setattr(tickets, "update", fake_update)
    monkeypatch.setattr(cli_tickets, "connect", fake_connect)
    return calls


@pytest.mark.parametrize("argv", CLI_UPDATES, ids=lambda argv: argv[0])
def test_every_cli_command_names_an_update_of_the_workflow(
    argv: list[str], sent: list[tuple[object, BaseModel]]
) -> None:
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    [(update, request)] = sent
    name = update_name(update)
    assert DEFINITION.updates[name].arg_types == [type(request)]


# Updates a service function drives (with work of its own around the update), each with
# its own route and command: (service module, route path, CLI command).
OWN_ENTRY = {"split_secondary": ("cityops/service/split.py", "/{ticket_id}/split", "split")}


def test_every_update_has_a_route_and_a_cli_command(
    sent: list[tuple[object, BaseModel]],
) -> None:
    for argv in CLI_UPDATES:
        CliRunner().invoke(app, argv)
    by_cli = {update_name(update) for update, _ in sent}
    by_route = {update_name(route.update) for route in UPDATES}
    assert by_cli == by_route == set(UPDATE_FUNCTIONS.values()) - set(OWN_ENTRY)
    paths = {getattr(route, "path", "") for route in tickets_router.routes}
    commands = {c.name or getattr(c.callback, "__name__", "") for c in app.registered_commands}
    for name, (service, path, command) in OWN_ENTRY.items():
        assert name in _workflow_attributes(ROOT / service)
        assert f"/api/v1/tickets{path}" in paths and command in commands


def _workflow_attributes(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "TicketWorkflow"
    ]


def test_code_outside_the_workflow_names_only_its_handlers() -> None:
    handlers = {
        *DEFINITION.updates,
        *DEFINITION.signals,
        *DEFINITION.queries,
        "run",
    }
    handler_functions = (
        {d.fn.__name__ for d in DEFINITION.updates.values() if d.fn is not None}
        | {d.fn.__name__ for d in DEFINITION.signals.values()}
        | {d.fn.__name__ for d in DEFINITION.queries.values()}
    )
    used: dict[str, list[str]] = {}
    for folder in ("cityops/api", "cityops/cli", "cityops/service", "cityops/intake", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for attr in _workflow_attributes(path):
                used.setdefault(attr, []).append(str(path.relative_to(ROOT)))
    unknown = {a: where for a, where in used.items() if a not in handlers | handler_functions}
    assert not unknown, f"not a handler of TicketWorkflow: {unknown}"
    assert ALARM_EVENT_SIGNAL in DEFINITION.signals


def test_no_update_is_named_by_a_string() -> None:
    calls: list[str] = []
    for folder in ("cityops", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("execute_update", "start_update", "signal", "query")
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                    # Temporal's built-in handlers have no definition to name them by.
                    and not node.args[0].value.startswith("__temporal_")
                ):
                    calls.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not calls, f"Temporal handlers named by string: {calls}"
