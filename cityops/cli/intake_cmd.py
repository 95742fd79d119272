"""`cityops intake mqtt|rejected|replay`."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from cityops.config import get_settings
from cityops.workers.logging import configure_logging

intake_app = typer.Typer(help="Alarm intake processes.", no_args_is_help=True)


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


@intake_app.command("rejected")
def rejected(
    status: Annotated[
        str, typer.Option(help="open (waiting for a replay), replayed, or all")
    ] = "open",
    channel: Annotated[str | None, typer.Option(help="http, mqtt or alertmanager")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
    payload: Annotated[bool, typer.Option(help="Print each payload under its line")] = False,
) -> None:
    """List refused alarm events (dead letters), newest first."""
    from cityops.db.deadletters import Channel, LetterStatus, list_letters
    from cityops.db.engine import get_engine
    from cityops.org.migrate import upgrade

    try:
        wanted = None if status == "all" else LetterStatus(status)
        source = Channel(channel) if channel else None
    except ValueError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    url = get_settings().database_url
    upgrade(url)
    rows = list_letters(get_engine(url), wanted, source, limit)
    for row in rows:
        if as_json:
            typer.echo(row.model_dump_json())
            continue
        when = _shanghai(row.received_at)
        where = f"#{row.item_index}" if row.item_index is not None else "whole message"
        typer.echo(
            f"{row.letter_id:>6}  {row.status:<8}  {when}  {row.channel:<12}  {where:<13}  "
            f"{row.event_id or '-'}  {row.field or '-'}: {row.reason}"
        )
        if payload:
            typer.echo(f"        {row.payload[:2000]}")
    if not rows and not as_json:
        typer.echo("no dead letters")


@intake_app.command("replay")
def replay(
    letters: Annotated[
        list[int] | None, typer.Argument(help="Letter ids (default: every open letter)")
    ] = None,
    payload: Annotated[
        Path | None,
        typer.Option(help="A corrected payload (JSON file) to replay instead of the stored one"),
    ] = None,
) -> None:
    """Send dead letters through intake again, after the cause is fixed."""
    from cityops.db.engine import get_engine
    from cityops.org.migrate import upgrade
    from cityops.service.alarms import AlarmIntake, AlarmIntakeUnavailable
    from cityops.service.deadletters import replay as replay_letters
    from cityops.workers.client import connect

    settings = get_settings()
    upgrade(settings.database_url)
    engine = get_engine(settings.database_url)
    fixed = payload.read_text(encoding="utf-8") if payload else None

    async def main() -> list[str]:
        client = await connect(settings)
        alarms = AlarmIntake(client, settings.task_queue, engine)
        done = await replay_letters(alarms, engine, letters or None, fixed)
        return [
            f"{r.letter_id:>6}  {r.outcome}"
            + (f"  {r.ticket_id}" if r.ticket_id else "")
            + (f"  ({r.reason})" if r.reason else "")
            for r in done
        ]

    try:
        lines = asyncio.run(main())
    except (RuntimeError, ValueError, AlarmIntakeUnavailable) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc
    for line in lines:
        typer.echo(line)
    if not lines:
        typer.echo("no dead letters to replay")


def _shanghai(value: datetime) -> str:
    from cityops.domain.zones import SHANGHAI

    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M (UTC+8)")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(intake_app, name="intake")
