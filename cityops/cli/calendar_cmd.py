"""`cityops calendar check`: how far the working calendar is confirmed, and what is next.

Exit 0 when at least --days days ahead are confirmed, 1 when fewer (or when a listed day
contradicts the official data), 2 when rules/calendar.yaml cannot be read.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer

from cityops.rules.calendar import OFFICIAL
from cityops.rules.calendar_coverage import (
    MIN_DAYS_CONFIRMED,
    SpecialDay,
    SpecialDayKind,
    calendar_coverage,
    listing_notes,
    special_days,
)
from cityops.rules.calendar_loader import CALENDAR_FILE, CalendarConfigError, load_working_hours

calendar_app = typer.Typer(help="The working calendar of P3/P4 clocks.", no_args_is_help=True)
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@calendar_app.command("check")
def check(
    today: Annotated[
        str | None,
        typer.Option(help="Check as if today were this date (YYYY-MM-DD); default: Shanghai"),
    ] = None,
    days: Annotated[
        int, typer.Option(min=0, help="Days ahead that must be confirmed")
    ] = MIN_DAYS_CONFIRMED,
    horizon: Annotated[
        int, typer.Option(min=1, max=3660, help="List special days this many days ahead")
    ] = 180,
    file: Annotated[Path, typer.Option(help="The calendar file")] = CALENDAR_FILE,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text")] = False,
) -> None:
    """Through which date holidays are confirmed, the next holidays and make-up working
    days, and a non-zero exit when fewer than --days days ahead are confirmed."""
    from cityops.workers.calendar_watch import shanghai_today

    try:
        day = date.fromisoformat(today) if today else shanghai_today()
    except ValueError as exc:
        typer.secho(f"error: --today: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    try:
        hours = load_working_hours(file)
    except CalendarConfigError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    coverage = calendar_coverage(hours, day, min_days_ahead=days)
    upcoming = special_days(hours, day, day + timedelta(days=horizon))
    notes = listing_notes(hours)
    failed = coverage.short or any(note.contradicts for note in notes)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "coverage": coverage.model_dump(mode="json"),
                    "upcoming": [d.model_dump(mode="json") for d in upcoming],
                    "listing_notes": [n.model_dump(mode="json") for n in notes],
                    "ok": not failed,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        raise typer.Exit(1 if failed else 0)
    years = OFFICIAL.years
    listed = (
        f"confirmed through {hours.confirmed_through}"
        if hours.confirmed_through
        else "confirmed_through not set"
    )
    typer.echo(f"{'official':>12}  {OFFICIAL.release}: {years.start}-{years.stop - 1}")
    typer.echo(
        f"{'listed':>12}  {file}: {listed}; {len(hours.extra_holidays)} days off, "
        f"{len(hours.extra_workdays)} make-up working days"
    )
    typer.echo(
        f"{'confirmed':>12}  through {coverage.confirmed_through} ({coverage.source}): "
        f"{coverage.days_ahead} days after {day}, {days} needed"
    )
    typer.echo(f"{'next':>12}  holidays and make-up working days to {day + timedelta(horizon)}:")
    for line in _special_day_lines(upcoming, coverage.confirmed_through):
        typer.echo(f"{'':>12}  {line}")
    if not upcoming:
        typer.echo(f"{'':>12}  (none known)")
    for note in notes:
        colour = typer.colors.RED if note.contradicts else typer.colors.YELLOW
        typer.secho(f"{'listing':>12}  {note.message}", fg=colour)
    warning = coverage.warning()
    if warning:
        typer.secho(f"\nNOT OK: {warning}", fg=typer.colors.RED, bold=True)
    elif failed:
        typer.secho("\nNOT OK: a listed day contradicts the official data", fg=typer.colors.RED)
    else:
        typer.secho(f"\nOK: confirmed {coverage.days_ahead} days ahead", fg=typer.colors.GREEN)
    raise typer.Exit(1 if failed else 0)


def _special_day_lines(days: list[SpecialDay], confirmed_through: date) -> list[str]:
    """Consecutive days of one break on one line: `2026-10-01 Thu - 2026-10-07 Wed (7 days)`."""
    runs: list[list[SpecialDay]] = []
    for special in days:
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and special.day - last.day == timedelta(days=1)
            and (special.kind, special.name, special.source) == (last.kind, last.name, last.source)
        ):
            runs[-1].append(special)
        else:
            runs.append([special])
    lines = []
    for run in runs:
        first, end = run[0], run[-1]
        span = _day(first.day) if len(run) == 1 else f"{_day(first.day)} - {_day(end.day)}"
        count = f" ({len(run)} days)" if len(run) > 1 else ""
        unsure = "  [NOT CONFIRMED]" if end.day > confirmed_through else ""
        kind = "day off" if first.kind is SpecialDayKind.HOLIDAY else "working day"
        lines.append(f"{span}{count}  {kind}: {first.name} [{first.source}]{unsure}")
    return lines


def _day(day: date) -> str:
    return f"{day.isoformat()} {_WEEKDAYS[day.weekday()]}"


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(calendar_app, name="calendar")
