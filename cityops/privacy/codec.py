"""The Temporal payload codec: every payload leaves the process AES-256-GCM encrypted.

A payload (workflow input and results, activity arguments, update and query answers,
summaries and details) is serialised whole, metadata included, and encrypted with the
ring's active key; the result carries ``encoding: binary/encrypted`` and the key id in
its metadata (``encryption-key-id``), so any key of the ring decrypts it after a rotation.
Search attributes never pass through a codec, so they must not hold personal data
(workflows/search_attributes.py holds none).

Decoding leaves a payload that is not ``binary/encrypted`` as it is: histories recorded
before the codec replay, and tickets started before it keep running.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from cityops.privacy.keys import KeyRing, KeyRingError

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
PAYLOAD_PURPOSE = "cityops/temporal-payload/v1"
_NONCE = 12


class PayloadDecryptError(KeyRingError):
    """An encrypted payload names no key of the ring, or does not open with it."""


class EncryptionCodec(PayloadCodec):
    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        active = ring.active
        self._active_id = active.key_id.encode()
        self._encrypt = AESGCM(active.subkey(PAYLOAD_PURPOSE))
        self._decrypt = {key.key_id: AESGCM(key.subkey(PAYLOAD_PURPOSE)) for key in ring}

    @property
    def ring(self) -> KeyRing:
        return self._ring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(_NONCE)
        sealed = self._encrypt.encrypt(nonce, payload.SerializeToString(), self._active_id)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: self._active_id}, data=nonce + sealed
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # written before the codec (or never encoded): as it is
        key_id = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._decrypt.get(key_id)
        if cipher is None:
            raise PayloadDecryptError(f"payload encrypted with key {key_id!r}, not in the ring")
        try:
            plain = cipher.decrypt(payload.data[:_NONCE], payload.data[_NONCE:], key_id.encode())
            return Payload.FromString(plain)
        except (InvalidTag, DecodeError) as exc:
            raise PayloadDecryptError(f"payload does not open with key {key_id!r}") from exc
