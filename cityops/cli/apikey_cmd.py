"""`cityops apikey create|list|revoke`: API keys bound to a role, a person and a scope.

A key is printed once, when it is made, and stored only as a hash; `list` never shows
one. A revoked or expired key is refused by the API (401). docs/operations.md, "API keys".
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

import typer

from cityops.config import get_settings

apikey_app = typer.Typer(
    help="API keys bound to a role, a person and a scope (stored hashed).", no_args_is_help=True
)


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(2)


def parse_expiry(text: str, now: datetime) -> datetime:
    """``90d``/``12h`` from now, a date (the end of that day in Shanghai) or an ISO instant
    (Shanghai time when it names no zone)."""
    from cityops.domain.zones import SHANGHAI
    from cityops.rules.durations import parse_duration

    cleaned = text.strip()
    try:
        day = date.fromisoformat(cleaned)
    except ValueError:
        day = None
    if day is not None:
        return datetime.combine(day, time(23, 59, 59), tzinfo=SHANGHAI).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        try:
            return now + parse_duration(cleaned)
        except ValueError:
            raise ValueError(
                f"--expires {text[:40]!r}: a duration (90d, 12h), a date (2027-03-31) or an "
                "instant (2027-03-31T18:00:00+08:00)"
            ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI)).astimezone(UTC)


@apikey_app.command("create")
def create(
    role: Annotated[
        str, typer.Option(help="hotline_agent, sensor_gateway, responder or supervisor")
    ],
    person: Annotated[
        str,
        typer.Option(
            help="Who holds it: a person id of the organisation (responders, supervisors), "
            "the hotline agent, or the system (e.g. gateway-1); every action is theirs"
        ),
    ],
    scope: Annotated[
        str,
        typer.Option(
            help="Which tickets it sees and acts on: district, a street or town (T01) or a "
            "work station (T01-03)"
        ),
    ],
    expires: Annotated[
        str | None,
        typer.Option(help="When it stops working: 90d, 12h, a date or an instant; default never"),
    ] = None,
    act_for: Annotated[
        bool,
        typer.Option(
            "--act-for",
            help="May act on behalf of another person named in the request (both recorded)",
        ),
    ] = False,
    label: Annotated[str, typer.Option(help="A note: where it is used (200 characters)")] = "",
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    from cityops.api.keys import (
        ApiKeyError,
        check_person,
        create_key,
        org_problem,
        parse_role,
        parse_scope,
    )
    from cityops.db.engine import get_engine
    from cityops.org.migrate import upgrade
    from cityops.org.store import load_or_demo

    now = datetime.now(UTC)
    try:
        parsed_role = parse_role(role)
        parsed_person = check_person(person)
        parsed_scope = parse_scope(scope)
        expires_at = parse_expiry(expires, now) if expires is not None else None
    except (ApiKeyError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if expires_at is not None and expires_at <= now:
        raise _fail(f"--expires: {expires_at.isoformat()} has passed")
    if len(label) > 200:
        raise _fail("--label: at most 200 characters")
    url = get_settings().database_url
    upgrade(url)
    engine = get_engine(url)
    problem = org_problem(load_or_demo(engine), parsed_role, parsed_person, parsed_scope)
    if problem is not None:
        raise _fail(problem)
    key = create_key(
        engine,
        parsed_role,
        label,
        person=parsed_person,
        scope=parsed_scope,
        expires_at=expires_at,
        act_for=act_for,
        now=now,
    )
    typer.echo(key)


@apikey_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Every key: id, role, person, scope, state (active, expired, revoked); never a secret."""
    import json

    from cityops.api.keys import list_keys
    from cityops.db.engine import get_engine
    from cityops.domain.zones import shown
    from cityops.org.migrate import upgrade

    url = get_settings().database_url
    upgrade(url)
    now = datetime.now(UTC)
    keys = list_keys(get_engine(url))
    for info in keys:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "key_id": info.key_id,
                        "role": info.role,
                        "person": info.person,
                        "scope": info.scope,
                        "act_for": info.act_for,
                        "state": info.state(now),
                        "label": info.label,
                        "created_at": info.created_at.isoformat(),
                        "expires_at": info.expires_at.isoformat() if info.expires_at else None,
                        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
                    },
                    ensure_ascii=False,
                )
            )
            continue
        until = f"until {shown(info.expires_at)}" if info.expires_at else "no expiry"
        typer.echo(
            f"{info.key_id}  {info.state(now):<8} {info.role:<15} {info.person or '-':<16} "
            f"{info.scope:<16} {'act_for ' if info.act_for else ''}{until}"
            f"{'  ' + info.label if info.label else ''}"
        )
    if not keys and not as_json:
        typer.echo("no API keys")


@apikey_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id, as `apikey list` shows")],
) -> None:
    """Revoke a key: the API refuses it (401) from now on."""
    from cityops.api.keys import revoke_key
    from cityops.db.engine import get_engine
    from cityops.org.migrate import upgrade

    url = get_settings().database_url
    upgrade(url)
    if len(key_id) > 16 or not revoke_key(get_engine(url), key_id.strip()):
        raise _fail(f"no API key {key_id[:40]!r} (see `cityops apikey list`)")
    typer.echo(f"revoked {key_id}")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(apikey_app, name="apikey")
