"""Sealing single values for the application database, and the keyed phone hash.

``seal(ring, "13900001234", purpose="caller_phone")`` is ``enc1:<key id>:<base64>``: AES-256-GCM
with a random nonce, the purpose and key id bound in as associated data (a phone cannot be
pasted into the name column and still open). ``phone_hash(key, phone)`` is an HMAC of the
phone's digits, so repeat callers and erasure requests are found without storing the number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cityops.domain.masking import digits_of
from cityops.privacy.keys import DataKey, KeyRing, KeyRingError

PREFIX = "enc1"
_NONCE = 12
FIELD_PURPOSE = "cityops/db-field/v1"
HASH_PURPOSE = "cityops/phone-hash/v1"


class SealError(KeyRingError):
    """A sealed value is malformed or does not open with its key."""


def seal(ring: KeyRing, plaintext: str, *, purpose: str) -> str:
    key = ring.active
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(key.subkey(FIELD_PURPOSE)).encrypt(
        nonce, plaintext.encode("utf-8"), _aad(key.key_id, purpose)
    )
    return f"{PREFIX}:{key.key_id}:{base64.b64encode(nonce + sealed).decode()}"


def unseal(ring: KeyRing, token: str, *, purpose: str) -> str:
    key = ring.get(sealed_key_id(token))
    blob = base64.b64decode(token.split(":", 2)[2])
    try:
        opened = AESGCM(key.subkey(FIELD_PURPOSE)).decrypt(
            blob[:_NONCE], blob[_NONCE:], _aad(key.key_id, purpose)
        )
    except InvalidTag as exc:
        raise SealError(f"a {purpose} value does not open with key {key.key_id}") from exc
    return opened.decode("utf-8")


def sealed_key_id(token: str) -> str:
    prefix, _, rest = token.partition(":")
    key_id, sep, _ = rest.partition(":")
    if prefix != PREFIX or not sep:
        raise SealError("not a sealed value")
    return key_id


def phone_hash(key: DataKey, phone: str) -> str:
    """HMAC-SHA256 of the phone's digits (+86 dropped) under the key's hash subkey."""
    return hmac.new(key.subkey(HASH_PURPOSE), digits_of(phone).encode(), hashlib.sha256).hexdigest()


def phone_hashes(ring: KeyRing, phone: str) -> list[str]:
    """The phone's hash under every key: rows hashed before a rotation still match."""
    return [phone_hash(key, phone) for key in ring]


def _aad(key_id: str, purpose: str) -> bytes:
    return f"{purpose}|{key_id}".encode()
