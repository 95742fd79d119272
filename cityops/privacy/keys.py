"""The key ring: AES-256 keys that encrypt callers' data, from configuration only.

A key is an id and 32 random bytes. The ring's newest key (the last listed) encrypts;
every key in it decrypts, so a key can be rotated in without losing what the older ones
wrote. Where the keys come from, first match wins:

- ``CITYOPS_KEYS="k20261203a1b2:BASE64,k20270101c3d4:BASE64"`` (the environment), or
- the key file ``CITYOPS_KEY_FILE`` (default ``var/keys``), one ``id base64`` a line,
  ``#`` comments allowed; ``cityops keys rotate`` appends to it (mode 0600).

Each use gets its own subkey (HKDF-SHA256 with a purpose label), so the Temporal codec,
the database fields and the phone hash never share a key.

Exceptions::

    KeyRingError             base: the keys are missing or malformed
    ├── NoKeys               nothing configured
    └── UnknownKey           data names a key id the ring does not hold
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cityops.config import Settings, get_settings

KEY_BYTES = 32  # AES-256
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class KeyRingError(Exception):
    """Base of key ring problems."""


class NoKeys(KeyRingError):
    pass


class UnknownKey(KeyRingError):
    pass


@dataclass(frozen=True)
class DataKey:
    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.key_id or len(self.key_id) > 40 or not set(self.key_id) <= _ID_CHARS:
            raise KeyRingError(f"key id {self.key_id!r}: 1-40 letters, digits, '-', '_' or '.'")
        if len(self.secret) != KEY_BYTES:
            raise KeyRingError(f"key {self.key_id}: {len(self.secret)} bytes, need {KEY_BYTES}")

    def subkey(self, purpose: str) -> bytes:
        return _derive(self.secret, purpose)

    def line(self) -> str:
        """The key as the key file holds it."""
        return f"{self.key_id} {base64.b64encode(self.secret).decode()}"


@cache
def _derive(secret: bytes, purpose: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode())
    return hkdf.derive(secret)


class KeyRing:
    """Keys by id; the last one given is the active key that encrypts."""

    def __init__(self, keys: Sequence[DataKey]) -> None:
        if not keys:
            raise NoKeys("the key ring is empty")
        self._keys = {key.key_id: key for key in keys}
        if len(self._keys) != len(keys):
            raise KeyRingError("two keys share an id")
        self._active = keys[-1]

    @property
    def active(self) -> DataKey:
        return self._active

    @property
    def ids(self) -> list[str]:
        return list(self._keys)

    def get(self, key_id: str) -> DataKey:
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKey(f"no key {key_id!r} in the key ring") from None

    def __iter__(self) -> Iterator[DataKey]:
        return iter(self._keys.values())

    def __repr__(self) -> str:
        return f"KeyRing(active={self._active.key_id!r}, ids={self.ids!r})"


def generate_key(now: datetime | None = None) -> DataKey:
    """A fresh random key whose id says when it was made: ``k20261203-1a2b``."""
    day = (now or datetime.now(UTC)).strftime("%Y%m%d")
    return DataKey(f"k{day}-{secrets.token_hex(2)}", secrets.token_bytes(KEY_BYTES))


def parse_keys(text: str) -> list[DataKey]:
    """Keys from ``id:base64`` entries (comma- or line-separated) or ``id base64`` lines."""
    keys: list[DataKey] = []
    for raw in text.replace(",", "\n").splitlines():
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        key_id, _, encoded = entry.replace(":", " ", 1).partition(" ")
        try:
            secret = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KeyRingError(f"key {key_id!r}: not base64") from exc
        keys.append(DataKey(key_id.strip(), secret))
    return keys


def load_keyring(settings: Settings | None = None) -> KeyRing:
    """The ring from CITYOPS_KEYS, else from the key file; NoKeys says how to make one."""
    settings = settings or get_settings()
    if settings.keys.strip():
        return KeyRing(parse_keys(settings.keys))
    if settings.key_file.is_file():
        keys = parse_keys(settings.key_file.read_text(encoding="utf-8"))
        if keys:
            return KeyRing(keys)
    raise NoKeys(
        "no encryption key configured: set CITYOPS_KEYS or CITYOPS_KEY_FILE, "
        f"or run `cityops keys rotate` to create {settings.key_file}"
    )


def append_key(path: Path, key: DataKey) -> None:
    """Add a key to the key file (created 0600); the new key becomes the active one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        if path.stat().st_size == 0:
            out.write("# cityops encryption keys: id base64. The last line encrypts; keep old\n")
            out.write("# lines until nothing encrypted with them is left (docs/privacy.md).\n")
        out.write(key.line() + "\n")
    os.chmod(path, 0o600)


def ensure_key_file(settings: Settings) -> bool:
    """Create the key file with one key when no key is configured (`cityops up` on a new
    machine); True when it made one."""
    if settings.keys.strip() or settings.key_file.is_file():
        return False
    append_key(settings.key_file, generate_key())
    return True
