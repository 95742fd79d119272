"""Organisation and routing commands: `cityops org seed|show|import`, `cityops route`,
`cityops bench route`. None of them needs the Temporal server."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from cityops.cli.rules_cmd import intake_from_record
from cityops.config import DEV_HOTLINE
from cityops.domain.models import RoutePlan, ScenarioRef, TicketIntake

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from cityops.org.directory import OrgDirectory
    from cityops.org.routing import OrgRouter

org_app = typer.Typer(help="The organisation: units, people, duty rosters.", no_args_is_help=True)

DbOpt = Annotated[
    str | None, typer.Option("--database-url", help="Default: DATABASE_URL or var/cityops.db")
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


# --------------------------------------------------------------------------- org


@org_app.command("seed")
def seed(database_url: DbOpt = None) -> None:
    """Load the demo organisation for all 36 streets and towns (safe to run again)."""
    from cityops.db.engine import get_engine
    from cityops.org.seed import build_demo_org
    from cityops.org.store import write_org

    counts = write_org(get_engine(database_url), build_demo_org())
    typer.echo(
        f"seeded {counts.units} units, {counts.persons} persons, {counts.shifts} duty shifts"
    )


@org_app.command("migrate")
def migrate(database_url: DbOpt = None) -> None:
    """Bring the application database's tables up to date (a deployment's first step)."""
    from cityops.config import get_settings
    from cityops.org.migrate import upgrade

    url = database_url or get_settings().database_url
    upgrade(url)
    typer.echo(f"database schema up to date ({url.split('@')[-1]})")


@org_app.command("show")
def show(
    code: Annotated[str, typer.Argument(help="Unit code: DISTRICT, T01, T01-03, housing")],
    database_url: DbOpt = None,
) -> None:
    """Print a unit's tree: its people, their shifts, and the units under it."""
    from cityops.db.engine import get_engine
    from cityops.org.directory import OrgError

    directory = _directory(get_engine(database_url))
    try:
        for line in _tree(directory, code, depth=0, max_depth=1):
            typer.echo(line)
    except OrgError as exc:
        raise _fail(str(exc)) from exc


@org_app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="CSV, YAML, or GeoJSON of unit boundaries")],
    database_url: DbOpt = None,
) -> None:
    """Load a real organisation; a bad row is reported and nothing is written."""
    from sqlalchemy.exc import SQLAlchemyError

    from cityops.db.engine import get_engine
    from cityops.org.importer import ImportFileError, boundary_rows, read_org_file
    from cityops.org.store import write_org

    engine = get_engine(database_url)
    current = _stored_directory(engine)
    try:
        if file.suffix.lower() in (".geojson", ".json"):
            if current is None:
                raise ImportFileError(f"{file.name}: seed or import units before their boundaries")
            rows = boundary_rows(file, current)
        else:
            known = {u.code: u.kind for u in current.units()} if current else {}
            people = (
                [m.id for u in current.units() for m in current.members(u.code)] if current else []
            )
            rows = read_org_file(file, known, people)
        counts = write_org(engine, rows)
    except ImportFileError as exc:
        raise _fail(str(exc), 2) from exc
    except SQLAlchemyError as exc:
        raise _fail(
            f"{file.name}: the database refused the import, nothing written: {exc}"
        ) from exc
    typer.echo(
        f"imported {counts.units} units, {counts.persons} persons, {counts.shifts} duty shifts"
    )


def _stored_directory(engine: Engine) -> OrgDirectory | None:
    from sqlalchemy.exc import SQLAlchemyError

    from cityops.org.directory import OrgDirectory
    from cityops.org.store import unit_count

    try:
        return OrgDirectory.load(engine) if unit_count(engine) else None
    except SQLAlchemyError:
        return None


def _directory(engine: Engine) -> OrgDirectory:
    from cityops.org.store import load_or_demo

    stored = _stored_directory(engine)
    if stored is None:
        typer.secho("(no organisation in the database: showing the demo)", err=True)
        return load_or_demo(None)
    return stored


def _tree(directory: OrgDirectory, code: str, depth: int, max_depth: int) -> Iterator[str]:
    unit = directory.unit(code)
    pad = "  " * depth
    yield f"{pad}{unit.code}  {unit.name}  [{unit.tier.value}/{unit.kind.value}]"
    shifts = {s.person_id: s for s in directory.shifts(code)}
    for member in directory.members(code):
        shift = shifts.get(member.id)
        hours = (
            f"{shift.start_minute // 60:02d}:{shift.start_minute % 60:02d}-"
            f"{shift.end_minute // 60:02d}:{shift.end_minute % 60:02d}"
            if shift
            else "off roster"
        )
        channels = ", ".join(c.target for c in member.contacts)
        yield f"{pad}  · {member.id}  {member.name}  {member.role.value}  {hours}  {channels}"
    children = directory.children(code)
    if depth + 1 > max_depth:
        if children:
            yield f"{pad}  … {len(children)} units below (cityops org show {children[0].code})"
        return
    for child in children:
        yield from _tree(directory, child.code, depth + 1, max_depth)


# --------------------------------------------------------------------------- route


def route(
    file: Annotated[Path, typer.Argument(help="JSON lines: hotline records or alarm events")],
    evaluate: Annotated[
        bool, typer.Option("--eval", help="Print street accuracy against the labels")
    ] = False,
    database_url: DbOpt = None,
) -> None:
    """Classify, locate and route each record; one JSON line each (no server needed)."""
    from cityops.rules.classify import classify
    from cityops.rules.load import RulesError, default_rules

    router = _router(database_url)
    try:
        rules = default_rules()
    except RulesError as exc:
        raise _fail(f"classification rules: {exc}") from exc
    total = right = labelled = 0
    wrong: list[str] = []
    for number, record in _records(file):
        intake, expected_street = _intake(file, number, record)
        classification = classify(intake, rules)
        plan = _route(router, intake, classification.scenario)
        total += 1
        if expected_street is not None:
            labelled += 1
            if plan.street_code == expected_street:
                right += 1
            else:
                wrong.append(f"{intake.ticket_id}: got {plan.street_code}, want {expected_street}")
        if not evaluate:
            scenario_id = classification.scenario.id if classification.scenario else None
            typer.echo(json.dumps(_output(intake.ticket_id, scenario_id, plan), ensure_ascii=False))
    if evaluate:
        share = right / labelled if labelled else 0.0
        typer.echo(f"records {total}, labelled with a street {labelled}")
        typer.echo(f"street_code right {right}/{labelled} = {share:.1%}")
        for line in wrong:
            typer.echo(f"  wrong {line}")


def _route(router: OrgRouter, intake: TicketIntake, scenario: ScenarioRef | None) -> RoutePlan:
    from cityops.org.route import plan_triage

    if scenario is not None:
        return router.route(scenario, intake)
    return plan_triage(router.locate(intake), router.directory, intake.received_at)


def _output(ticket_id: str, scenario_id: str | None, plan: RoutePlan) -> dict[str, Any]:
    return {
        "id": ticket_id,
        "scenario": scenario_id,
        "street_code": plan.street_code,
        "station": plan.station_code,
        "tier": plan.assignee.tier.value,
        "department": plan.assignee.department,
        "unit": plan.assignee.unit_code,
        "person": plan.assignee.person_id,
    }


def _router(database_url: str | None) -> OrgRouter:
    """The stored organisation if there is one, else the demo in memory."""
    from cityops.db.engine import get_engine
    from cityops.org.routing import OrgRouter
    from cityops.org.store import load_or_demo

    return OrgRouter(load_or_demo(get_engine(database_url)))


def _records(file: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise _fail(f"{file}: cannot read: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _fail(f"{file.name} line {number}: not JSON: {exc}") from exc
        if not isinstance(record, dict):
            raise _fail(f"{file.name} line {number}: expected a JSON object")
        yield number, record


def _intake(file: Path, number: int, record: dict[str, Any]) -> tuple[TicketIntake, str | None]:
    """The record as `cityops classify` reads it, plus its street label if it has one."""
    try:
        intake = intake_from_record(record, number)
    except (ValidationError, ValueError) as exc:
        raise _fail(f"{file.name} line {number}: {exc}") from exc
    label = record.get("expected_street_code") if intake.alarm else record.get("street_code")
    return intake, label


# --------------------------------------------------------------------------- bench


def bench_route(
    file: Annotated[Path, typer.Argument(help="JSON lines to route")] = DEV_HOTLINE,
    rounds: Annotated[int, typer.Option(help="Passes over the file")] = 20,
    database_url: DbOpt = None,
) -> None:
    """Average time to route one ticket (jurisdiction + route + roster) in a warm process.

    Scenarios are dealt round-robin from the catalogue so every tier is exercised;
    classification is not timed here (`cityops bench classify` times it)."""
    from cityops.rules.load import default_rules

    started = time.perf_counter()
    router = _router(database_url)
    warm_up = time.perf_counter() - started
    rules = default_rules()
    scenarios = [rules.scenario(sid) for sid in sorted(rules.scenario_ids)]
    intakes = [_intake(file, number, record)[0] for number, record in _records(file)]
    if not intakes:
        raise _fail(f"{file}: no records")
    pairs = [(scenarios[i % len(scenarios)], intake) for i, intake in enumerate(intakes)]
    per_ticket_ms = []
    for _ in range(max(rounds, 1)):
        began = time.perf_counter()
        for scenario, intake in pairs:
            router.route(scenario, intake)
        per_ticket_ms.append((time.perf_counter() - began) * 1000 / len(pairs))
    typer.echo(
        f"organisation and areas loaded in {warm_up * 1000:.0f} ms ({len(router.directory)} units)"
    )
    typer.echo(
        f"routed {len(pairs) * len(per_ticket_ms)} tickets: "
        f"mean {statistics.mean(per_ticket_ms):.3f} ms, best pass {min(per_ticket_ms):.3f} ms "
        "per ticket (target < 2 ms)"
    )


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(org_app, name="org")
    app.command("route")(route)
    bench_app.command("route")(bench_route)
