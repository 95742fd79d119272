"""`cityops intake mqtt`, `cityops apikey create`, `cityops bench intake`."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from cityops.config import get_settings
from cityops.workers.logging import configure_logging

intake_app = typer.Typer(help="Alarm intake processes.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys per role (stored hashed).", no_args_is_help=True)


@intake_app.command("mqtt")
def mqtt(
    host: Annotated[str | None, typer.Option(help="Broker host [CITYOPS_MQTT_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Broker port [CITYOPS_MQTT_PORT]")] = None,
    topic: Annotated[str | None, typer.Option(help="Topic filter [CITYOPS_MQTT_TOPIC]")] = None,
) -> None:
    """Subscribe to alarm events (QoS 1) and hand them to Temporal; Ctrl-C stops."""
    from cityops.intake.mqtt import MqttSettings, serve

    settings = get_settings()
    configure_logging(settings.log_format)
    defaults = MqttSettings()
    mqtt_settings = MqttSettings(
        host=host or defaults.host, port=port or defaults.port, topic=topic or defaults.topic
    )
    asyncio.run(serve(settings, mqtt_settings))


@apikey_app.command("create")
def create(
    role: Annotated[
        str, typer.Option(help="hotline_agent, sensor_gateway, responder or supervisor")
    ],
    label: Annotated[str, typer.Option(help="Who or what holds it")] = "",
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    from cityops.api.keys import UnknownRole, create_key, parse_role
    from cityops.db.engine import get_engine
    from cityops.org.migrate import upgrade

    try:
        parsed = parse_role(role)
    except UnknownRole as exc:
        typer.secho(f"error: --role: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    url = get_settings().database_url
    upgrade(url)
    typer.echo(create_key(get_engine(url), parsed, label))


def bench_intake(
    ceiling: Annotated[int, typer.Option(help="Trivial workflows for the ceiling")] = 1000,
    throughput: Annotated[int, typer.Option(help="New alarms for the throughput run")] = 1000,
    rate: Annotated[float, typer.Option(help="New alarms per second for the latency run")] = 10.0,
    latency_seconds: Annotated[int, typer.Option(help="Length of the latency run")] = 30,
    storm_devices: Annotated[int, typer.Option(help="Devices in the storm")] = 200,
    storm_events: Annotated[int, typer.Option(help="Events in the storm")] = 10_000,
    storm_seconds: Annotated[float, typer.Option(help="Storm duration")] = 60.0,
    worker_process: Annotated[
        bool,
        typer.Option(
            "--worker-process/--in-process-worker",
            help="Run the worker as its own process, as `cityops up` does",
        ),
    ] = True,
    workers: Annotated[int, typer.Option(min=1, max=16, help="Worker processes")] = 1,
) -> None:
    """Start a dev server, a worker and the HTTP intake; print ceiling, throughput,
    alarm-to-notification latency and storm figures. Loopback only; stops by itself."""
    from cityops.benchmarks.intake import BenchOptions, run_bench

    options = BenchOptions(
        ceiling=ceiling,
        throughput=throughput,
        rate=rate,
        latency_seconds=latency_seconds,
        storm_devices=storm_devices,
        storm_events=storm_events,
        storm_seconds=storm_seconds,
        worker_process=worker_process,
        workers=workers,
    )
    asyncio.run(run_bench(options))


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(intake_app, name="intake")
    app.add_typer(apikey_app, name="apikey")
    bench_app.command("intake")(bench_intake)
