"""`cityops up` (the whole system) and `cityops worker` (one more worker process)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from cityops.config import MAX_WORKERS, InsecureSecret, check_secret, default_workers, get_settings
from cityops.workers.logging import configure_logging


def up(
    mqtt: Annotated[bool, typer.Option("--mqtt/--no-mqtt", help="Also run the MQTT intake")] = True,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=MAX_WORKERS,
            help="Worker processes (stateless); default CITYOPS_WORKERS, else one per core",
        ),
    ] = None,
) -> None:
    """Start Temporal, the workers, the intake API and the MQTT intake; Ctrl-C stops all."""
    from cityops.workers.stack import run_up

    settings = get_settings()
    configure_logging(settings.log_format)
    try:
        weakness = check_secret(settings)
    except InsecureSecret as exc:  # before Temporal or anything else is started
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    if weakness is not None:
        typer.secho(f"warning: {weakness}", fg=typer.colors.YELLOW, err=True)
    run_up(settings, with_mqtt=mqtt, workers=workers or default_workers())


def worker() -> None:
    """Run one ticket worker against TEMPORAL_ADDRESS (stateless; run as many as needed)."""
    from cityops.workers.main import run_worker

    asyncio.run(run_worker())


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.command()(up)
    app.command()(worker)
