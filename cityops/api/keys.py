"""API keys, hashed at rest, each bound to a role, a person and a scope.

A key reads ``co_<key_id>_<secret>``: the key id finds the row, and only the SHA-256
of the whole key is stored. Keys are 32 random bytes, so a plain digest is enough (no
password stretching needed); a database dump cannot be turned back into keys.

What a key says about its holder (docs/api.md, "Who may do what"):

- ``role``: what they may do (submit, post alarms, act on tickets, supervise);
- ``person``: who they are: a person id of the organisation (responders, supervisors),
  the hotline agent, or a system such as a sensor gateway. The acting person of every
  action is the key's person; the request body cannot name someone else unless the key
  has ``act_for``, and then both are recorded ("P-X on behalf of P-Y");
- ``scope``: which tickets they see and act on: ``district`` (all), ``street:T01`` (one
  street or town), ``station:T01-03`` (one work station);
- ``expires_at``: none, or the instant after which the key is refused (401), as a
  revoked key is.

For development, ``CITYOPS_DEV_API_KEYS`` adds keys that live only in the environment
(never in the database): ``role[:person[:scope[:act_for]]]=KEY``, comma-separated, e.g.
``responder:P-T01-01-1:station:T01-01=KEY`` is written ``responder:P-T01-01-1:T01-01=KEY``
(a bare code is a street, or a station when it has a dash). ``role=KEY`` alone, as before,
is a key of no person and district scope: it may read and post, but not act as anyone.

Exceptions (one tree):

    ApiKeyError(Exception)      the key cannot be created or is unusable
    ├── UnknownRole             a role outside Role
    └── BadScope                a scope that is not district, a street or a station
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from cityops.org.directory import OrgDirectory, UnknownPersonError
from cityops.org.models import UnitKind

DEV_KEYS_ENV = "CITYOPS_DEV_API_KEYS"
KEY_PREFIX = "co_"
# A person id or a system's name: what a key may carry as its person.
PERSON = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_STREET = re.compile(r"^[A-Z]\d{2}$")
_STATION = re.compile(r"^[A-Z]\d{2}-\d{2,3}$")


class Role(StrEnum):
    HOTLINE_AGENT = "hotline_agent"  # submits complaints, records callbacks
    SENSOR_GATEWAY = "sensor_gateway"  # posts alarm events
    RESPONDER = "responder"  # accepts, resolves, returns tickets
    SUPERVISOR = "supervisor"  # everything, plus triage, transfers, rulings


class ScopeKind(StrEnum):
    DISTRICT = "district"
    STREET = "street"
    STATION = "station"


class ApiKeyError(Exception):
    """Base of API key problems."""


class UnknownRole(ApiKeyError):
    pass


class BadScope(ApiKeyError):
    pass


@dataclass(frozen=True)
class Scope:
    """Which tickets a key sees: the district's (all), one street's, or one station's."""

    kind: ScopeKind
    code: str | None = None

    def __str__(self) -> str:
        return self.kind.value if self.code is None else f"{self.kind.value}:{self.code}"

    @property
    def street(self) -> str | None:
        """The street the scope lies in (a station's street is its code before the dash)."""
        if self.code is None:
            return None
        return self.code if self.kind is ScopeKind.STREET else self.code.split("-")[0]

    def covers(self, street_code: str | None, station_code: str | None) -> bool:
        """Whether a ticket of this street and station lies inside the scope. A ticket
        with no street yet (triage, outside the district) is the district's only."""
        if self.kind is ScopeKind.DISTRICT:
            return True
        if self.kind is ScopeKind.STREET:
            return street_code == self.code
        return station_code == self.code


DISTRICT = Scope(ScopeKind.DISTRICT)


def parse_scope(text: str) -> Scope:
    """``district``, ``street:T01``, ``station:T01-03``, or a bare code (``T01``: a
    street; ``T01-03``: a station)."""
    cleaned = text.strip()
    kind_text, sep, code = cleaned.partition(":")
    if not sep:
        if cleaned.lower() == ScopeKind.DISTRICT.value or cleaned == "DISTRICT":
            return DISTRICT
        kind_text, code = ("station" if "-" in cleaned else "street"), cleaned
    try:
        kind = ScopeKind(kind_text.lower())
    except ValueError:
        kind = None
    code = code.strip().upper()
    if kind is ScopeKind.STREET and _STREET.match(code):
        return Scope(kind, code)
    if kind is ScopeKind.STATION and _STATION.match(code):
        return Scope(kind, code)
    raise BadScope(
        f"scope {text[:80]!r}: district, a street or town code (T01, street:T01) or a "
        "work station's code (T01-03, station:T01-03)"
    )


class ApiKeyRow(SQLModel, table=True):
    __tablename__ = "api_keys"

    key_id: str = Field(primary_key=True, max_length=16)
    key_hash: str = Field(max_length=64)
    role: str = Field(max_length=32)
    label: str = Field(default="", max_length=200)
    created_at: datetime
    revoked_at: datetime | None = None
    # Who holds it (a person id or a system's name); None for keys made before keys had
    # persons: those may read and post but act as nobody.
    person: str | None = Field(default=None, max_length=64)
    scope: str = Field(default=ScopeKind.DISTRICT.value, max_length=48)
    expires_at: datetime | None = None
    act_for: bool = False  # may act on behalf of another person (both are recorded)


@dataclass(frozen=True)
class Caller:
    """Who is calling: the role decides what they may do, the person who does it, the
    scope which tickets they see."""

    key_id: str
    role: Role
    person: str | None = None
    scope: Scope = DISTRICT
    act_for: bool = False

    @property
    def who(self) -> str:
        """How the caller is named in a record: the person, else the key."""
        return self.person or f"key:{self.key_id}"


@dataclass(frozen=True)
class KeyInfo:
    """A stored key as `cityops apikey list` shows it: never the key or its hash."""

    key_id: str
    role: str
    person: str | None
    scope: str
    act_for: bool
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and _aware(self.expires_at) <= now:
            return "expired"
        return "active"


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip())
    except ValueError as exc:
        raise UnknownRole(
            f"unknown role {text!r}; one of: {', '.join(r.value for r in Role)}"
        ) from exc


def check_person(text: str) -> str:
    person = text.strip()
    if not PERSON.match(person):
        raise ApiKeyError(
            f"person {text[:80]!r}: 1-64 letters, digits and _ . : - (a person id such as "
            "P-T01-01-1, or a system's name such as gateway-1)"
        )
    return person


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _aware(value: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; they were stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def create_key(
    engine: Engine,
    role: Role,
    label: str = "",
    *,
    person: str | None = None,
    scope: Scope = DISTRICT,
    expires_at: datetime | None = None,
    act_for: bool = False,
    now: datetime | None = None,
) -> str:
    """Store a new key's digest and return the key itself: the only time it is seen."""
    if expires_at is not None and expires_at.tzinfo is None:
        raise ApiKeyError("expires_at must carry a time zone")
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    with Session(engine) as session:
        session.add(
            ApiKeyRow(
                key_id=key_id,
                key_hash=_digest(key),
                role=role.value,
                label=label,
                created_at=now or datetime.now(UTC),
                person=check_person(person) if person is not None else None,
                scope=str(scope),
                expires_at=expires_at,
                act_for=act_for,
            )
        )
        session.commit()
    return key


def list_keys(engine: Engine) -> list[KeyInfo]:
    """Every stored key, oldest first, without its secret."""
    with Session(engine) as session:
        rows = session.exec(select(ApiKeyRow).order_by(col(ApiKeyRow.created_at))).all()
    return [
        KeyInfo(
            key_id=row.key_id,
            role=row.role,
            person=row.person,
            scope=row.scope,
            act_for=row.act_for,
            label=row.label,
            created_at=_aware(row.created_at),
            expires_at=_aware(row.expires_at) if row.expires_at else None,
            revoked_at=_aware(row.revoked_at) if row.revoked_at else None,
        )
        for row in rows
    ]


def revoke_key(engine: Engine, key_id: str, now: datetime | None = None) -> bool:
    """Revoke a key by its id: it is refused (401) from now on. False: no such key.
    Revoking twice keeps the first instant."""
    with Session(engine) as session:
        row = session.get(ApiKeyRow, key_id)
        if row is None:
            return False
        if row.revoked_at is None:
            row.revoked_at = now or datetime.now(UTC)
            session.add(row)
            session.commit()
    return True


def dev_keys(environ: Mapping[str, str] | None = None) -> dict[str, Caller]:
    """Keys from CITYOPS_DEV_API_KEYS, as {key: caller}; a malformed entry is an error."""
    text = (environ if environ is not None else os.environ).get(DEV_KEYS_ENV, "")
    keys: dict[str, Caller] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        who, sep, key = entry.partition("=")
        if not sep or len(key.strip()) < 16:
            raise ApiKeyError(
                f"{DEV_KEYS_ENV}: {entry[:40]!r}… is not role[:person[:scope]]=key "
                "with a key of 16+ characters"
            )
        keys[key.strip()] = _dev_caller(who, len(keys) + 1)
    return keys


def _dev_caller(text: str, number: int) -> Caller:
    """``role[:person[:scope[:act_for]]]``; a scope may itself be ``street:T01``."""
    role_text, _, rest = text.partition(":")
    person_text, _, scope_text = rest.partition(":")
    act_for = False
    if scope_text.endswith(":act_for") or scope_text == "act_for":
        act_for = True
        scope_text = scope_text.removesuffix("act_for").removesuffix(":")
    return Caller(
        key_id=f"dev{number}",
        role=parse_role(role_text),
        person=check_person(person_text) if person_text else None,
        scope=parse_scope(scope_text) if scope_text else DISTRICT,
        act_for=act_for,
    )


class KeyStore:
    """Checks presented keys: environment dev keys first, then the database."""

    def __init__(self, engine: Engine, dev: Mapping[str, Caller] | None = None) -> None:
        self._engine = engine
        self._dev = dict(dev or {})

    def check(self, key: str, now: datetime | None = None) -> Caller | None:
        """The caller a key belongs to; None for an unknown, revoked or expired key."""
        for dev_key, caller in self._dev.items():
            if hmac.compare_digest(dev_key.encode(), key.encode()):
                return caller
        if not key.startswith(KEY_PREFIX):
            return None
        key_id = key[len(KEY_PREFIX) :].partition("_")[0]
        if len(key_id) > 16:
            return None
        with Session(self._engine) as session:
            row = session.get(ApiKeyRow, key_id)
        if row is None or not hmac.compare_digest(row.key_hash, _digest(key)):
            return None
        return _live_caller(row, now)

    def live(self, key_id: str, now: datetime | None = None) -> Caller | None:
        """The caller of a key already checked once (a codec session names only its key
        id): None once the key is revoked or expired, or a dev key no longer configured."""
        for caller in self._dev.values():
            if caller.key_id == key_id:
                return caller
        if not key_id or len(key_id) > 16:
            return None
        with Session(self._engine) as session:
            row = session.get(ApiKeyRow, key_id)
        return None if row is None else _live_caller(row, now)


def _live_caller(row: ApiKeyRow, now: datetime | None) -> Caller | None:
    """The caller of a stored key whose secret matched; None when revoked or expired."""
    if row.revoked_at is not None:
        return None
    if row.expires_at is not None and _aware(row.expires_at) <= (now or datetime.now(UTC)):
        return None
    return Caller(
        key_id=row.key_id,
        role=Role(row.role),
        person=row.person,
        scope=parse_scope(row.scope),
        act_for=row.act_for,
    )


def org_problem(
    directory: OrgDirectory, role: Role, person: str | None, scope: Scope
) -> str | None:
    """Why this key does not fit the organisation, or None. Responders and supervisors
    are people of the organisation; a street or station scope names one of its units.
    Hotline agents and sensor gateways are outside it: their person is only a name."""
    if role in (Role.RESPONDER, Role.SUPERVISOR):
        if person is None:
            return f"--person: a {role.value} key names the person who holds it"
        try:
            directory.person(person)
        except UnknownPersonError:
            return f"--person: no person {person} in the organisation"
    if scope.code is not None:
        wanted = UnitKind.SUBCENTER if scope.kind is ScopeKind.STREET else UnitKind.STATION
        if not directory.has_unit(scope.code) or directory.unit(scope.code).kind is not wanted:
            return f"--scope: no {scope.kind.value} {scope.code} in the organisation"
    return None
