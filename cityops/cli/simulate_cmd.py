"""`cityops simulate`: a whole Pudong day through the real engine, with its report."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Annotated

import typer


def simulate(
    day: Annotated[str, typer.Option(help="The day to simulate, YYYY-MM-DD (Shanghai)")],
    out: Annotated[Path, typer.Option(help="Folder for report.json, report.html, the db")],
    seed: Annotated[int, typer.Option(help="Same seed, same day: byte-identical report")] = 7,
    scale: Annotated[
        float, typer.Option(min=0.001, max=10.0, help="1.0 is a full day's load")
    ] = 1.0,
    realtime: Annotated[
        bool, typer.Option(help="Run on a dev server in real time (use --minutes)")
    ] = False,
    minutes: Annotated[
        int, typer.Option(min=1, max=1440, help="Minutes of the day to run (from 00:00)")
    ] = 1440,
) -> None:
    """Simulate a day: calls, alarms, storms and people; exit 1 if an invariant fails."""
    from cityops.simulation import report
    from cityops.simulation.day import simulate_day

    try:
        wanted = date.fromisoformat(day)
    except ValueError:
        raise typer.BadParameter(
            f"{day!r} is not a date like 2026-12-07", param_hint="--day"
        ) from None
    result = asyncio.run(
        simulate_day(wanted, seed, out, scale=scale, realtime=realtime, minutes=minutes)
    )
    typer.echo(report.summary(result.report))
    typer.echo(f"report: {out / 'report.html'}, {out / 'report.json'}")
    if result.failures:
        raise typer.Exit(1)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.command()(simulate)
