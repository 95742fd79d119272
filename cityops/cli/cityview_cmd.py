"""The supervisor's commands over the register: `cityops kpi`, `cityops vitals`,
`cityops report` and `cityops register purge`. They read the application database
(DATABASE_URL) and need no Temporal server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from cityops.config import get_settings
from cityops.db.engine import get_engine
from cityops.register.kpis import RATES
from cityops.register.retention import purge
from cityops.report.render import percent, render, shown
from cityops.service import cityview
from cityops.service.cityview import CityViewInputError

register_app = typer.Typer(help="The lasting ticket register.", no_args_is_help=True)

FromOpt = Annotated[
    str | None,
    typer.Option("--from", help="Window start, ISO 8601 (Shanghai time without an offset)"),
]
ToOpt = Annotated[str | None, typer.Option("--to", help="Window end (default: now)")]
StreetOpt = Annotated[str | None, typer.Option("--street", help="A street/town code, e.g. S02")]


class Format(StrEnum):
    JSON = "json"
    TABLE = "table"


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _engine() -> Engine:
    return get_engine(get_settings().database_url)


def _now() -> datetime:
    return datetime.now(UTC)


def _kpis(start: str | None, end: str | None, street: str | None) -> dict[str, Any]:
    engine = _engine()
    try:
        window = cityview.window_of(start, end, _now())
        code = cityview.check_street(engine, street)
        return cityview.kpis(engine, window, code)
    except CityViewInputError as exc:
        raise _fail(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise _fail(
            f"cannot read the register: {exc.__class__.__name__} (run `cityops up` "
            "or the migrations first)",
            1,
        ) from exc


def kpi(
    start: FromOpt = None,
    end: ToOpt = None,
    street: StreetOpt = None,
    output: Annotated[Format, typer.Option("--format", help="json or table")] = Format.TABLE,
) -> None:
    """KPIs of the tickets received in [--from, --to): the same JSON as GET /api/v1/kpis."""
    figures = _kpis(start, end, street)
    if output is Format.JSON:
        typer.echo(json.dumps(figures, ensure_ascii=False, indent=2))
        return
    window = figures["window"]
    where = f", street {window['street']}" if window["street"] else ""
    typer.echo(
        f"window {shown(window['from'])} — {shown(window['to'])}, "
        f"as of {shown(window['as_of'])}{where}"
    )
    by_source = ", ".join(f"{k} {v}" for k, v in figures["by_source"].items() if v)
    typer.echo(f"{'received':>26}  {figures['received']}  ({by_source or 'none'})")
    typer.echo(f"{'non-work orders':>26}  {figures['non_work_orders']['received']}")
    for rate in RATES:
        typer.echo(f"{rate:>26}  {percent(figures[rate])}")
    for name in (
        "closed",
        "closed_unfixed",
        "median_minutes_to_accept",
        "median_minutes_to_resolve",
        "open_now",
        "triage_now",
        "overdue_now",
    ):
        value = figures[name]
        typer.echo(f"{name:>26}  {'-' if value is None else value}")
    streets = figures["by_street"]
    if streets:
        typer.echo("\nstreet  received  closed-loop  on-time(resolve)  open  overdue")
        for code, row in streets.items():
            typer.echo(
                f"{code:<7} {row['received']:>8}  {percent(row['closed_loop_rate']):>11}  "
                f"{percent(row['resolved_on_time_rate']):>16}  {row['open_now']:>4}  "
                f"{row['overdue_now']:>7}"
            )


def vitals(
    street: StreetOpt = None,
    at: Annotated[str | None, typer.Option("--at", help="Instant (default: now)")] = None,
    output: Annotated[Format, typer.Option("--format", help="json or table")] = Format.TABLE,
) -> None:
    """The city's vital signs (城市生命体征) now: scores per dimension and per street."""
    engine = _engine()
    try:
        instant = cityview.parse_instant(at, "at") if at else _now()
        code = cityview.check_street(engine, street)
        signs = cityview.vitals(engine, instant.astimezone(UTC), code)
    except CityViewInputError as exc:
        raise _fail(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise _fail(f"cannot read the register: {exc.__class__.__name__}", 1) from exc
    if output is Format.JSON:
        typer.echo(json.dumps(signs, ensure_ascii=False, indent=2))
        return
    where = f"street {code}" if code else "district"
    typer.echo(f"vital signs of the {where} at {shown(signs['at'])}: score {signs['score']}")
    for dimension, row in signs["dimensions"].items():
        typer.echo(
            f"  {dimension:<8} score {row['score']}  green {row['green']}  "
            f"yellow {row['yellow']}  red {row['red']}  no data {row['no_data']}"
        )
    reds = [r for r in signs["indicators"] if r["status"] == "red"]
    for row in reds[:30]:
        typer.echo(f"  red  {row['id']:<44} {row['value']} {row['unit']}  {row['name_zh']}")
    for code_, row in (signs.get("streets") or {}).items():
        typer.echo(f"  {code_:<6} score {row['score']}  red {row['red']}  yellow {row['yellow']}")


def report(
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write")],
    start: FromOpt = None,
    end: ToOpt = None,
    street: StreetOpt = None,
) -> None:
    """One self-contained HTML report (charts embedded, works offline)."""
    engine = _engine()
    settings = get_settings()
    try:
        window = cityview.window_of(start, end, _now())
        code = cityview.check_street(engine, street)
        figures = cityview.report_figures(engine, window, code)
    except CityViewInputError as exc:
        raise _fail(str(exc)) from exc
    except SQLAlchemyError as exc:
        raise _fail(f"cannot read the register: {exc.__class__.__name__}", 1) from exc
    page = render(figures, ticket_url=f"{settings.public_url.rstrip('/')}/tickets")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    typer.echo(
        f"wrote {out} ({len(page) // 1024} KiB): {figures['kpis']['received']} tickets, "
        f"{len(figures['overdue'])} overdue shown"
    )


def register_purge(
    older_than_days: Annotated[
        int | None,
        typer.Option(help="Keep this many days (default: CITYOPS_REGISTER_RETENTION_DAYS)"),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, delete nothing")] = False,
) -> None:
    """Delete tickets closed longer ago than the retention period, with their events."""
    days = (
        older_than_days if older_than_days is not None else get_settings().register_retention_days
    )
    if days < 1:
        raise _fail("--older-than-days: at least 1")
    before = _now() - timedelta(days=days)
    done = purge(_engine(), before, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    typer.echo(
        f"{verb} {done.tickets} tickets closed before {shown(before)} and {done.events} events"
    )


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.command("kpi")(kpi)
    app.command("vitals")(vitals)
    app.command("report")(report)
    register_app.command("purge")(register_purge)
    app.add_typer(register_app, name="register")
