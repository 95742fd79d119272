"""One-tap accept tokens: genuine ones verify; forged, expired, tampered or foreign are refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from cityops.domain.tokens import (
    AcceptClaim,
    TokenError,
    TokenExpired,
    TokenForged,
    TokenMalformed,
    TokenWrongPerson,
    accept_url,
    sign_accept_token,
    verify_accept_token,
)

SECRET = "server-secret"
NOW = datetime(2026, 9, 30, 10, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(hours=24)


def test_genuine_token_verifies_to_its_ticket_and_person() -> None:
    token = sign_accept_token("T20260930-0001", "p-zhang", EXPIRES, SECRET)
    claim = verify_accept_token(token, SECRET, NOW, person_id="p-zhang")
    assert claim == AcceptClaim(ticket_id="T20260930-0001", person_id="p-zhang", expires_at=EXPIRES)


def test_token_is_url_safe_and_carries_chinese_ids() -> None:
    token = sign_accept_token("工单-1", "张三", EXPIRES, SECRET)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert verify_accept_token(token, SECRET, NOW).person_id == "张三"
    assert accept_url("https://ops.example/", token) == f"https://ops.example/a/{token}"


def test_token_signed_with_another_secret_is_forged() -> None:
    token = sign_accept_token("T1", "p-zhang", EXPIRES, "attacker-secret")
    with pytest.raises(TokenForged):
        verify_accept_token(token, SECRET, NOW)


def test_payload_tampered_to_another_person_is_forged() -> None:
    token = sign_accept_token("T1", "p-zhang", EXPIRES, SECRET)
    _, signature = token.split(".")
    payload = json.dumps({"e": int(EXPIRES.timestamp()), "p": "p-li", "t": "T1"}).encode()
    forged_payload = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    with pytest.raises(TokenForged):
        verify_accept_token(f"{forged_payload}.{signature}", SECRET, NOW)


def test_flipped_signature_character_is_forged() -> None:
    token = sign_accept_token("T1", "p-zhang", EXPIRES, SECRET)
    last = token[-2]
    tampered = token[:-2] + ("A" if last != "A" else "B") + token[-1]
    with pytest.raises(TokenForged):
        verify_accept_token(tampered, SECRET, NOW)


def test_expired_token_is_refused_but_names_its_ticket() -> None:
    token = sign_accept_token("T1", "p-zhang", EXPIRES, SECRET)
    with pytest.raises(TokenExpired) as refused:
        verify_accept_token(token, SECRET, EXPIRES)
    assert refused.value.claim.ticket_id == "T1"
    assert verify_accept_token(token, SECRET, EXPIRES - timedelta(seconds=1)).ticket_id == "T1"


def test_other_persons_token_is_refused_when_the_person_is_known() -> None:
    token = sign_accept_token("T1", "p-zhang", EXPIRES, SECRET)
    with pytest.raises(TokenWrongPerson, match="p-zhang, not p-li"):
        verify_accept_token(token, SECRET, NOW, person_id="p-li")


@pytest.mark.parametrize("garbage", ["", "no-dot", ".sig", "payload.", "a.b.c", "ab.%%%", "é.é"])
def test_garbage_is_malformed_or_forged_never_a_crash(garbage: str) -> None:
    with pytest.raises(TokenError):
        verify_accept_token(garbage, SECRET, NOW)


def test_signed_payload_that_is_not_a_claim_is_malformed() -> None:
    # Someone holding the secret signs junk: still refused with a clear kind.
    from cityops.domain.tokens import _b64encode, _signature

    encoded = _b64encode(b'{"t": "T1"}')
    token = f"{encoded}.{_b64encode(_signature(encoded, SECRET))}"
    with pytest.raises(TokenMalformed):
        verify_accept_token(token, SECRET, NOW)


def test_signing_refuses_naive_expiry_and_empty_secret() -> None:
    with pytest.raises(ValueError, match="time zone"):
        sign_accept_token("T1", "p", datetime(2026, 1, 1), SECRET)
    with pytest.raises(ValueError, match="secret"):
        sign_accept_token("T1", "p", EXPIRES, "")
