"""The payload codec and sealed fields: encryption, key ids, rotation, old payloads."""

from __future__ import annotations

import pytest
from temporalio.api.common.v1 import Payload

from cityops.domain.models import TicketIntake
from cityops.domain.stages import Source
from cityops.privacy.codec import ENCODING, KEY_ID, EncryptionCodec, PayloadDecryptError
from cityops.privacy.keys import KeyRing, KeyRingError, NoKeys, generate_key, parse_keys
from cityops.privacy.seal import SealError, phone_hash, seal, unseal
from cityops.workers.client import data_converter

PHONE, NAME = "13900001234", "王先生"
OLD, NEW = generate_key(), generate_key()


def intake() -> TicketIntake:
    from datetime import UTC, datetime

    return TicketIntake(
        ticket_id="HL1",
        source=Source.HOTLINE,
        text="井盖不见了",
        caller_phone=PHONE,
        caller_name=NAME,
        received_at=datetime(2026, 12, 3, tzinfo=UTC),
    )


async def test_payloads_are_encrypted_with_the_key_id_in_their_metadata() -> None:
    converter = data_converter(ring=KeyRing([OLD]))
    [payload] = await converter.encode([intake()])
    assert payload.metadata["encoding"] == ENCODING
    assert payload.metadata[KEY_ID] == OLD.key_id.encode()
    assert PHONE.encode() not in payload.data and NAME.encode() not in payload.data
    [back] = await converter.decode([payload], [TicketIntake])
    assert back == intake()


async def test_after_rotation_old_payloads_decrypt_and_new_ones_use_the_new_key() -> None:
    [old_payload] = await data_converter(ring=KeyRing([OLD])).encode([intake()])
    rotated = data_converter(ring=KeyRing([OLD, NEW]))
    [new_payload] = await rotated.encode([intake()])
    assert new_payload.metadata[KEY_ID] == NEW.key_id.encode()
    assert await rotated.decode([old_payload, new_payload], [TicketIntake, TicketIntake]) == [
        intake(),
        intake(),
    ]
    # A ring that dropped the old key cannot read what it wrote.
    with pytest.raises(PayloadDecryptError, match=OLD.key_id):
        await EncryptionCodec(KeyRing([NEW])).decode([old_payload])


async def test_payloads_written_before_the_codec_pass_through() -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"a": 1}')
    assert await EncryptionCodec(KeyRing([OLD])).decode([plain]) == [plain]


async def test_a_tampered_payload_is_refused() -> None:
    codec = EncryptionCodec(KeyRing([OLD]))
    [payload] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b"{}")])
    tampered = Payload(metadata=payload.metadata, data=payload.data[:-1] + b"\x00")
    with pytest.raises(PayloadDecryptError):
        await codec.decode([tampered])


def test_sealed_fields_open_only_for_their_purpose_and_survive_rotation() -> None:
    token = seal(KeyRing([OLD]), PHONE, purpose="caller_phone")
    assert PHONE not in token and token.startswith(f"enc1:{OLD.key_id}:")
    assert unseal(KeyRing([OLD, NEW]), token, purpose="caller_phone") == PHONE
    with pytest.raises(SealError):
        unseal(KeyRing([OLD]), token, purpose="caller_name")


def test_the_phone_hash_is_keyed_and_ignores_formatting() -> None:
    assert phone_hash(OLD, "139-0000-1234") == phone_hash(OLD, "+86 13900001234")
    assert phone_hash(OLD, PHONE) != phone_hash(NEW, PHONE)


def test_keys_parse_from_the_environment_form_and_the_file_form() -> None:
    env_form = f"{OLD.key_id}:{OLD.line().split()[1]},{NEW.key_id}:{NEW.line().split()[1]}"
    file_form = f"# comment\n{OLD.line()}\n\n{NEW.line()}\n"
    for text in (env_form, file_form):
        ring = KeyRing(parse_keys(text))
        assert ring.ids == [OLD.key_id, NEW.key_id] and ring.active == NEW
    assert "secret" not in repr(OLD) and OLD.line().split()[1] not in repr(ring)


def test_bad_keys_are_refused_with_a_reason() -> None:
    with pytest.raises(KeyRingError, match="bytes"):
        parse_keys("k1:c2hvcnQ=")
    with pytest.raises(KeyRingError, match="base64"):
        parse_keys("k1:***")
    with pytest.raises(NoKeys):
        KeyRing([])
