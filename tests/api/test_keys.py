"""API keys: hashed at rest, bound to a role, a person and a scope, refused once expired or
revoked; dev keys from the environment; and `cityops apikey create|list|revoke`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from cityops.api.keys import (
    DISTRICT,
    ApiKeyError,
    ApiKeyRow,
    BadScope,
    KeyStore,
    Role,
    Scope,
    ScopeKind,
    UnknownRole,
    create_key,
    dev_keys,
    list_keys,
    parse_scope,
    revoke_key,
)
from cityops.cli.apikey_cmd import parse_expiry
from cityops.cli.main import app
from cityops.db.engine import get_engine
from cityops.domain.zones import SHANGHAI
from cityops.org.migrate import upgrade
from cityops.org.store import seed_if_empty

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path) -> str:
    database = f"sqlite:///{tmp_path / 'keys.db'}"
    upgrade(database)
    return database


@pytest.fixture
def engine(url: str) -> Engine:
    return get_engine(url)


@pytest.fixture
def seeded(url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The database the commands use, with the demo organisation in it."""
    monkeypatch.setenv("DATABASE_URL", url)
    seed_if_empty(url)
    return url


def test_keys_are_stored_only_as_a_hash_and_carry_person_and_scope(engine: Engine) -> None:
    key = create_key(
        engine,
        Role.RESPONDER,
        "tablet 7",
        person="P-T01-03-1",
        scope=Scope(ScopeKind.STATION, "T01-03"),
    )
    store = KeyStore(engine)
    caller = store.check(key)
    assert caller is not None and caller.role is Role.RESPONDER
    assert caller.person == "P-T01-03-1" and str(caller.scope) == "station:T01-03"
    assert caller.act_for is False
    with Session(engine) as session:
        row = session.get(ApiKeyRow, caller.key_id)
    assert row is not None and key not in row.key_hash
    assert store.check(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert store.check("not-a-key") is None


def test_a_key_stops_working_when_it_expires_or_is_revoked(engine: Engine) -> None:
    store = KeyStore(engine)
    expiring = create_key(
        engine, Role.SUPERVISOR, person="P-DISTRICT-1", expires_at=NOW + timedelta(hours=1)
    )
    assert store.check(expiring, now=NOW) is not None
    assert store.check(expiring, now=NOW + timedelta(hours=1)) is None
    kept = create_key(engine, Role.HOTLINE_AGENT, person="agent-7")
    caller = store.check(kept, now=NOW)
    assert caller is not None
    assert revoke_key(engine, caller.key_id, now=NOW)
    assert store.check(kept, now=NOW) is None
    assert revoke_key(engine, caller.key_id, now=NOW + timedelta(days=1))  # again: harmless
    assert not revoke_key(engine, "nosuchkey")
    [listed] = [info for info in list_keys(engine) if info.key_id == caller.key_id]
    assert listed.revoked_at == NOW and listed.state(NOW) == "revoked"


def test_scopes_read_as_district_street_or_station() -> None:
    assert parse_scope("district") == DISTRICT == parse_scope("DISTRICT")
    assert parse_scope("T01") == Scope(ScopeKind.STREET, "T01") == parse_scope("street:t01")
    station = parse_scope("T01-03")
    assert station == Scope(ScopeKind.STATION, "T01-03") == parse_scope("station:T01-03")
    assert station.street == "T01"
    assert station.covers("T01", "T01-03") and not station.covers("T01", "T01-04")
    assert parse_scope("T01").covers("T01", None) and not parse_scope("T01").covers(None, None)
    assert DISTRICT.covers(None, None)
    for bad in ("", "T1", "street:T01-03", "station:T01", "city", "T01'; DROP"):
        with pytest.raises(BadScope):
            parse_scope(bad)


def test_dev_keys_carry_role_person_scope_and_act_for() -> None:
    keys = dev_keys(
        {
            "CITYOPS_DEV_API_KEYS": "sensor_gateway=0123456789abcdef0,"
            "responder:P-T01-03-1:T01-03=responder-key-0123456,"
            "supervisor:P-DISTRICT-1:district:act_for=supervisor-key-01234"
        }
    )
    legacy = keys["0123456789abcdef0"]  # role=KEY as before: no person, the district
    assert legacy.role is Role.SENSOR_GATEWAY and legacy.person is None
    assert legacy.scope == DISTRICT
    responder = keys["responder-key-0123456"]
    assert (responder.role, responder.person) == (Role.RESPONDER, "P-T01-03-1")
    assert responder.scope == Scope(ScopeKind.STATION, "T01-03") and not responder.act_for
    supervisor = keys["supervisor-key-01234"]
    assert supervisor.act_for and supervisor.scope == DISTRICT
    with pytest.raises(ApiKeyError, match="role"):
        dev_keys({"CITYOPS_DEV_API_KEYS": "sensor_gateway=short"})
    with pytest.raises(UnknownRole):
        dev_keys({"CITYOPS_DEV_API_KEYS": "mayor=0123456789abcdef0"})
    with pytest.raises(BadScope):
        dev_keys({"CITYOPS_DEV_API_KEYS": "responder:P-1:T99X=0123456789abcdef0"})


def test_expiry_is_a_duration_a_date_or_an_instant() -> None:
    assert parse_expiry("90d", NOW) == NOW + timedelta(days=90)
    end_of_day = datetime(2027, 3, 31, 23, 59, 59, tzinfo=SHANGHAI)
    assert parse_expiry("2027-03-31", NOW) == end_of_day
    assert parse_expiry("2027-03-31T18:00", NOW) == datetime(2027, 3, 31, 10, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="--expires"):
        parse_expiry("soon", NOW)


def test_apikey_create_list_and_revoke_as_an_operator_runs_them(seeded: str) -> None:
    url = seeded
    made = runner.invoke(
        app,
        [
            *("apikey", "create", "--role", "responder", "--person", "P-T01-03-1"),
            *("--scope", "T01-03", "--expires", "30d", "--label", "tablet 7"),
        ],
    )
    assert made.exit_code == 0, made.output
    key = made.output.strip()
    assert key.startswith("co_")
    listed = runner.invoke(app, ["apikey", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert key not in listed.output and key.split("_")[-1] not in listed.output
    [row] = [json.loads(line) for line in listed.output.splitlines()]
    assert (row["role"], row["person"], row["scope"]) == (
        "responder",
        "P-T01-03-1",
        "station:T01-03",
    )
    assert row["state"] == "active" and row["expires_at"] is not None
    text = runner.invoke(app, ["apikey", "list"])
    assert row["key_id"] in text.output and "tablet 7" in text.output and key not in text.output
    revoked = runner.invoke(app, ["apikey", "revoke", row["key_id"]])
    assert revoked.exit_code == 0 and f"revoked {row['key_id']}" in revoked.output
    assert KeyStore(get_engine(url)).check(key) is None
    again = runner.invoke(app, ["apikey", "list", "--json"])
    assert json.loads(again.output)["state"] == "revoked"
    missing = runner.invoke(app, ["apikey", "revoke", "nosuchkey"])
    assert missing.exit_code == 2 and "no API key" in missing.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "responder", "--person", "P-NOBODY", "--scope", "T01"], "no person P-NOBODY"),
        (["--role", "supervisor", "--person", "P-T01-03-1", "--scope", "T77"], "no street T77"),
        (["--role", "responder", "--person", "P-T01-03-1", "--scope", "T01-99"], "no station"),
        (["--role", "mayor", "--person", "x", "--scope", "district"], "unknown role"),
        (["--role", "responder", "--person", "P 1", "--scope", "district"], "person"),
        (["--role", "responder", "--person", "P-T01-03-1", "--scope", "city"], "scope"),
        (
            [
                *("--role", "sensor_gateway", "--person", "gw-1", "--scope", "district"),
                *("--expires", "2020-01-01"),
            ],
            "has passed",
        ),
    ],
)
def test_apikey_create_refuses_what_does_not_fit_the_organisation(
    seeded: str, args: list[str], message: str
) -> None:
    url = seeded
    result = runner.invoke(app, ["apikey", "create", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert list_keys(get_engine(url)) == []


def test_a_system_key_names_itself_and_may_act_for_others(seeded: str) -> None:
    url = seeded
    made = runner.invoke(
        app,
        [
            *("apikey", "create", "--role", "hotline_agent", "--person", "hotline-system"),
            *("--scope", "district", "--act-for"),
        ],
    )
    assert made.exit_code == 0, made.output
    caller = KeyStore(get_engine(url)).check(made.output.strip())
    assert caller is not None and caller.act_for and caller.person == "hotline-system"
