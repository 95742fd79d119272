"""`cityops bench intake|storm|growth|profile`: the system under load, as `cityops up` runs
it, on loopback; each prints the machine, its command line and the ceiling of the same run
(docs/performance.md)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from cityops.config import MAX_WORKERS, default_workers

Workers = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=MAX_WORKERS,
        help="Ticket worker processes (default: as `cityops up`, one per core)",
    ),
]
Ceiling = Annotated[int, typer.Option(help="Trivial workflows for the ceiling")]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        help="Application database for the bench alone (e.g. postgresql+psycopg://…); "
        "default: a fresh SQLite file"
    ),
]


def bench_intake(
    workers: Workers = None,
    ceiling: Ceiling = 1000,
    throughput: Annotated[int, typer.Option(help="New alarms for the throughput run")] = 1000,
    rate: Annotated[
        float | None,
        typer.Option(help="New alarms/s for the latency run (default: 60% of the ceiling)"),
    ] = None,
    latency_seconds: Annotated[int, typer.Option(help="Length of the latency run")] = 30,
    storm_devices: Annotated[int, typer.Option(help="Devices in the storm")] = 200,
    storm_events: Annotated[int, typer.Option(help="Events in the storm (0: no storm)")] = 10_000,
    storm_seconds: Annotated[float, typer.Option(help="Storm duration")] = 60.0,
    database_url: DatabaseUrl = None,
) -> None:
    """Ceiling, alarm-to-notification latency, new-ticket throughput with CPU per ticket
    per process, and a storm with peak memory. Loopback only; stops by itself."""
    from cityops.benchmarks.intake import BenchOptions, run_bench

    options = BenchOptions(
        workers=workers or default_workers(),
        ceiling=ceiling,
        throughput=throughput,
        rate=rate,
        latency_seconds=latency_seconds,
        storm_devices=storm_devices,
        storm_events=storm_events,
        storm_seconds=storm_seconds,
        database_url=database_url,
    )
    asyncio.run(run_bench(options))


def bench_storm(
    events: Annotated[int, typer.Option(min=1, help="Events in the storm")] = 100_000,
    devices: Annotated[int, typer.Option(min=1, help="Devices they come from")] = 2_000,
    seconds: Annotated[float, typer.Option(help="Over how long")] = 300.0,
    workers: Workers = None,
    ceiling: Ceiling = 1000,
    database_url: DatabaseUrl = None,
) -> None:
    """A storm of alarm events: tickets opened, events recorded and lost, peak RSS of the
    API, each worker and the Temporal server."""
    from cityops.benchmarks.intake import run_storm_bench

    asyncio.run(
        run_storm_bench(
            workers or default_workers(), ceiling, devices, events, seconds, database_url
        )
    )


def bench_growth(
    open_tickets: Annotated[
        str, typer.Option("--open", help="Levels of open tickets, comma-separated")
    ] = "1000,10000",
    big: Annotated[bool, typer.Option("--big", help="Also 50,000 (takes long to build)")] = False,
    rate: Annotated[float, typer.Option(help="New alarms/s for the latency at each level")] = 10.0,
    seconds: Annotated[float, typer.Option(help="Length of each latency run")] = 30.0,
    accept: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of the open tickets accepted by their notice's link (the rest "
            "escalate); 0: all unaccepted, the worst case",
        ),
    ] = 0.9,
    workers: Workers = None,
    ceiling: Ceiling = 1000,
) -> None:
    """Open tickets waiting on timers, level by level: the dev server's database size,
    every process's memory, a supervisor's list query and alarm-to-notice latency."""
    from cityops.benchmarks.growth import run_growth

    try:
        levels = [int(part) for part in open_tickets.split(",") if part.strip()]
    except ValueError as exc:
        raise typer.BadParameter("comma-separated whole numbers", param_hint="--open") from exc
    if not levels or min(levels) < 1:
        raise typer.BadParameter("at least one level, each 1 or more", param_hint="--open")
    if big:
        levels.append(50_000)
    asyncio.run(run_growth(workers or default_workers(), ceiling, levels, rate, seconds, accept))


def bench_profile(
    workers: Workers = None,
    ceiling: Ceiling = 1000,
    rate: Annotated[
        float | None, typer.Option(help="New alarms/s (default: 60% of the ceiling)")
    ] = None,
    seconds: Annotated[float, typer.Option(min=1, help="How long to send and sample")] = 30.0,
    sample_rate: Annotated[int, typer.Option(help="py-spy samples per second")] = 100,
) -> None:
    """Where a new ticket's milliseconds go: CPU per ticket of every process, and inside
    the API and each worker by part (py-spy; root or ptrace rights needed)."""
    from cityops.benchmarks.profile import run_profile

    asyncio.run(run_profile(workers or default_workers(), ceiling, rate, seconds, sample_rate))


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    bench_app.command("intake")(bench_intake)
    bench_app.command("storm")(bench_storm)
    bench_app.command("profile")(bench_profile)
    bench_app.command("growth")(bench_growth)
