"""Page-link tokens: per person and ticket, with the instant they were issued; keyed apart
from accept tokens so neither kind opens the other's door."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cityops.domain.tokens import (
    TokenForged,
    TokenMalformed,
    page_url,
    sign_accept_token,
    sign_page_token,
    verify_accept_token,
    verify_page_token,
)

SECRET = "page-secret"
ISSUED = datetime(2026, 12, 3, 7, 30, 0, 123000, tzinfo=UTC)


def test_a_page_token_round_trips_person_ticket_and_issue_instant() -> None:
    claim = verify_page_token(sign_page_token("PD1", "P-T01-3", ISSUED, SECRET), SECRET)
    assert (claim.ticket_id, claim.person_id, claim.issued_at) == ("PD1", "P-T01-3", ISSUED)


def test_a_changed_payload_or_another_secret_is_forged() -> None:
    token = sign_page_token("PD1", "P-T01-3", ISSUED, SECRET)
    other = sign_page_token("PD1", "P-T01-4", ISSUED, SECRET)
    spliced = other.split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(TokenForged):
        verify_page_token(spliced, SECRET)
    with pytest.raises(TokenForged):
        verify_page_token(token, "another-secret")


def test_accept_and_page_tokens_do_not_verify_as_each_other() -> None:
    accept = sign_accept_token("PD1", "P-1", ISSUED + timedelta(days=3), SECRET)
    with pytest.raises(TokenForged):
        verify_page_token(accept, SECRET)
    page = sign_page_token("PD1", "P-1", ISSUED, SECRET)
    with pytest.raises(TokenForged):
        verify_accept_token(page, SECRET, ISSUED)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "x" * 600, "!!!.###"])
def test_malformed_tokens_are_malformed(token: str) -> None:
    with pytest.raises((TokenMalformed, TokenForged)):
        verify_page_token(token, SECRET)


def test_naive_issue_time_is_refused_and_the_url_has_the_page_path() -> None:
    with pytest.raises(ValueError, match="time zone"):
        sign_page_token("PD1", "P-1", ISSUED.replace(tzinfo=None), SECRET)
    assert page_url("https://ops.example/", "tok") == "https://ops.example/r/tok"
