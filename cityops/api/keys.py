"""API keys per role, hashed at rest.

A key reads ``co_<key_id>_<secret>``: the key id finds the row, and only the SHA-256
of the whole key is stored. Keys are 32 random bytes, so a plain digest is enough (no
password stretching needed); a database dump cannot be turned back into keys.

For development, ``CITYOPS_DEV_API_KEYS="hotline_agent=KEY,sensor_gateway=KEY,..."``
adds keys that live only in the environment (never in the database).

Exceptions (one tree):

    ApiKeyError(Exception)      the key cannot be created or is unusable
    └── UnknownRole             a role outside Role
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel

DEV_KEYS_ENV = "CITYOPS_DEV_API_KEYS"
KEY_PREFIX = "co_"


class Role(StrEnum):
    HOTLINE_AGENT = "hotline_agent"  # submits complaints, records callbacks
    SENSOR_GATEWAY = "sensor_gateway"  # posts alarm events
    RESPONDER = "responder"  # accepts, resolves, returns tickets
    SUPERVISOR = "supervisor"  # everything, plus triage, transfers, rulings


class ApiKeyError(Exception):
    """Base of API key problems."""


class UnknownRole(ApiKeyError):
    pass


class ApiKeyRow(SQLModel, table=True):
    __tablename__ = "api_keys"

    key_id: str = Field(primary_key=True, max_length=16)
    key_hash: str = Field(max_length=64)
    role: str = Field(max_length=32)
    label: str = Field(default="", max_length=200)
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class Caller:
    """Who is calling: the role decides what they may do."""

    key_id: str
    role: Role


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip())
    except ValueError as exc:
        raise UnknownRole(
            f"unknown role {text!r}; one of: {', '.join(r.value for r in Role)}"
        ) from exc


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(engine: Engine, role: Role, label: str = "") -> str:
    """Store a new key's digest and return the key itself: the only time it is seen."""
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    with Session(engine) as session:
        session.add(
            ApiKeyRow(
                key_id=key_id,
                key_hash=_digest(key),
                role=role.value,
                label=label,
                created_at=datetime.now(UTC),
            )
        )
        session.commit()
    return key


def dev_keys(environ: Mapping[str, str] | None = None) -> dict[str, Role]:
    """Keys from CITYOPS_DEV_API_KEYS, as {key: role}; a malformed entry is an error."""
    text = (environ if environ is not None else os.environ).get(DEV_KEYS_ENV, "")
    keys: dict[str, Role] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        role, sep, key = entry.partition("=")
        if not sep or len(key.strip()) < 16:
            raise ApiKeyError(
                f"{DEV_KEYS_ENV}: {entry!r} is not role=key with a key of 16+ characters"
            )
        keys[key.strip()] = parse_role(role)
    return keys


class KeyStore:
    """Checks presented keys: environment dev keys first, then the database."""

    def __init__(self, engine: Engine, dev: Mapping[str, Role] | None = None) -> None:
        self._engine = engine
        self._dev = dict(dev or {})

    def check(self, key: str) -> Caller | None:
        for dev_key, role in self._dev.items():
            if hmac.compare_digest(dev_key.encode(), key.encode()):
                return Caller(key_id="dev", role=role)
        if not key.startswith(KEY_PREFIX):
            return None
        key_id = key[len(KEY_PREFIX) :].partition("_")[0]
        with Session(self._engine) as session:
            row = session.get(ApiKeyRow, key_id)
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.key_hash, _digest(key)):
            return None
        return Caller(key_id=row.key_id, role=Role(row.role))
