"""Callers' privacy: `cityops keys list|rotate|reencrypt`, `cityops privacy erase|tickets`,
`cityops reveal-phone`. docs/privacy.md says what each does to which store."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from sqlalchemy import Engine

from cityops.cli.tickets import operator
from cityops.config import Settings, get_settings
from cityops.privacy.keys import KeyRing, KeyRingError, append_key, generate_key, load_keyring

keys_app = typer.Typer(help="Encryption keys for callers' data.", no_args_is_help=True)
privacy_app = typer.Typer(help="Callers' personal data: lookup and erasure.", no_args_is_help=True)

PhoneOpt = Annotated[str, typer.Option("--phone", help="The caller's phone number", max=32)]
ByOpt = Annotated[str, typer.Option("--by", help="Your person id: kept with the action")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why: kept with the action")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _ring(settings: Settings) -> KeyRing:
    try:
        return load_keyring(settings)
    except KeyRingError as exc:
        raise _fail(str(exc)) from exc


def _engine(settings: Settings) -> Engine:
    from cityops.db.engine import get_engine
    from cityops.org.migrate import upgrade

    upgrade(settings.database_url)
    return get_engine(settings.database_url)


def _check_text(option: str, value: str, low: int, high: int) -> str:
    value = value.strip()
    if not low <= len(value) <= high:
        raise _fail(f"{option}: {low}-{high} characters", 2)
    return value


@keys_app.command("list")
def list_keys() -> None:
    """Key ids (never the keys), which one encrypts, and how many stored contacts each sealed."""
    from cityops.privacy.register import keys_in_use

    settings = get_settings()
    ring = _ring(settings)
    used = keys_in_use(_engine(settings))
    source = "CITYOPS_KEYS" if settings.keys.strip() else str(settings.key_file)
    typer.echo(f"keys from {source}")
    for key in ring:
        active = "  (encrypts)" if key.key_id == ring.active.key_id else ""
        typer.echo(f"{key.key_id}  contacts={used.get(key.key_id, 0)}{active}")


@keys_app.command("rotate")
def rotate() -> None:
    """Add a new key that encrypts from now on, and re-encrypt the register's contacts with
    it. Older keys stay to decrypt Temporal histories; restart workers and the API."""
    from cityops.privacy.register import reencrypt

    settings = get_settings()
    key = generate_key()
    if settings.keys.strip():
        typer.echo(
            "CITYOPS_KEYS is set, so the key lives in your secret store: append this entry "
            "to CITYOPS_KEYS, restart, then run `cityops keys reencrypt`:"
        )
        typer.echo(f"{key.key_id}:{key.line().split()[1]}")
        return
    append_key(settings.key_file, key)
    changed = reencrypt(_engine(settings), _ring(settings))
    typer.echo(f"key {key.key_id} added to {settings.key_file} and encrypts from now on")
    typer.echo(f"{changed} stored contacts re-encrypted; restart workers and the API")


@keys_app.command("reencrypt")
def reencrypt_command() -> None:
    """Re-encrypt the register's contacts with the active key (after adding one)."""
    from cityops.privacy.register import reencrypt

    settings = get_settings()
    changed = reencrypt(_engine(settings), _ring(settings))
    typer.echo(f"{changed} stored contacts re-encrypted with {_ring(settings).active.key_id}")


@privacy_app.command("tickets")
def tickets_of(phone: PhoneOpt) -> None:
    """The tickets a phone number called in (matched by its keyed hash)."""
    from cityops.privacy.register import tickets_of_phone

    settings = get_settings()
    for ticket_id in tickets_of_phone(_engine(settings), _ring(settings), phone):
        typer.echo(ticket_id)


@privacy_app.command("erase")
def erase(
    phone: PhoneOpt,
    by: ByOpt,
    reason: ReasonOpt,
    temporal: Annotated[
        bool,
        typer.Option(
            "--temporal/--database-only",
            help="Also delete the Temporal histories of the caller's closed tickets",
        ),
    ] = True,
) -> None:
    """Remove a caller's phone, name and complaint texts from the register, record the
    erasure, and delete the histories of their closed tickets from Temporal."""
    from cityops.privacy.register import erase_phone

    by = _check_text("--by", by, 1, 64)
    reason = _check_text("--reason", reason, 4, 500)
    settings = get_settings()
    erased = erase_phone(_engine(settings), _ring(settings), phone, requested_by=by, reason=reason)
    typer.echo(f"erased the caller's data of {len(erased.ticket_ids)} tickets from the register")
    for ticket_id in erased.ticket_ids:
        typer.echo(f"  {ticket_id}")
    if temporal and erased.ticket_ids:
        _erase_histories(settings, erased.ticket_ids)


def _erase_histories(settings: Settings, ticket_ids: list[str]) -> None:
    from cityops.service.privacy import delete_closed_histories
    from cityops.workers.client import connect

    async def run() -> None:
        client = await connect(settings)
        outcome = await delete_closed_histories(client, settings.temporal_namespace, ticket_ids)
        typer.echo(f"Temporal: deleted {len(outcome.deleted)} closed histories")
        if outcome.absent:
            typer.echo(f"  already gone (retention): {', '.join(outcome.absent)}")
        if outcome.still_open:
            typer.echo(
                f"  still open, kept encrypted until they close: {', '.join(outcome.still_open)}"
                " (run erase again after, or let retention remove them)"
            )

    try:
        asyncio.run(run())
    except RuntimeError as exc:
        raise _fail(f"the register is erased, but Temporal was not reached: {exc}") from exc


def reveal_phone_command(
    ticket_id: Annotated[str, typer.Argument(help="Ticket number")],
    as_person: Annotated[str, typer.Option("--as", help="Your person id, e.g. P-T01-3")],
    reason: ReasonOpt,
) -> None:
    """Show a ticket caller's full phone number; who and why are recorded first."""
    from cityops.privacy.register import ContactError, reveal_phone

    as_person = _check_text("--as", as_person, 1, 64)
    reason = _check_text("--reason", reason, 4, 200)
    settings = get_settings()
    try:
        contact = reveal_phone(
            _engine(settings),
            _ring(settings),
            ticket_id,
            by=as_person,
            via=f"cli by {operator()}"[:80],
            reason=reason,
        )
    except ContactError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(contact.phone or "—")
    if contact.name:
        typer.echo(contact.name)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.add_typer(privacy_app, name="privacy")
    app.command("reveal-phone")(reveal_phone_command)
