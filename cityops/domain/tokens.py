"""Signed, expiring one-tap accept tokens: a link in a notice lets one person accept one ticket.

A token is ``<payload>.<signature>``, both base64url without padding: the payload is
compact JSON ``{"t": ticket_id, "p": person_id, "e": expiry epoch seconds}`` and the
signature is HMAC-SHA256 of the payload text with the server secret. URL-safe, so it
sits directly in ``{public_url}/a/{token}``. Not encrypted: the ticket and person ids
are readable, only their binding and the expiry are protected.

Exceptions (one tree):

    TokenError(ValueError)        the token cannot be used to accept
    ├── TokenMalformed            not shaped like a token, or the payload is not ours
    ├── TokenForged               the signature does not match (tampered, or another secret)
    ├── TokenExpired              the signature is good but the expiry has passed
    └── TokenWrongPerson          good token, but bound to someone else than expected
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

ACCEPT_PATH = "/a/"


class TokenError(ValueError):
    """Base of every refusal of an accept token."""


class TokenMalformed(TokenError):
    pass


class TokenForged(TokenError):
    pass


class TokenExpired(TokenError):
    def __init__(self, message: str, claim: AcceptClaim) -> None:
        super().__init__(message)
        self.claim = claim  # signed, so safe to show which ticket the stale link was for


class TokenWrongPerson(TokenError):
    pass


class AcceptClaim(BaseModel):
    """What a verified token says: this person may accept this ticket until expires_at."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: str
    person_id: str
    expires_at: AwareDatetime


def sign_accept_token(ticket_id: str, person_id: str, expires_at: datetime, secret: str) -> str:
    if expires_at.tzinfo is None:
        raise ValueError(f"expires_at must carry a time zone offset: {expires_at.isoformat()}")
    if not ticket_id or not person_id:
        raise ValueError("ticket_id and person_id must not be empty")
    payload = json.dumps(
        {"t": ticket_id, "p": person_id, "e": int(expires_at.timestamp())},
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    ).encode("utf-8")
    encoded = _b64encode(payload)
    return f"{encoded}.{_b64encode(_signature(encoded, secret))}"


def verify_accept_token(
    token: str, secret: str, now: datetime, person_id: str | None = None
) -> AcceptClaim:
    """The claim of a genuine, unexpired token; ``person_id`` given: it must be theirs."""
    encoded, dot, signature_text = token.partition(".")
    if not dot or not encoded or not signature_text:
        raise TokenMalformed("the token is not of the form payload.signature")
    try:
        signature = _b64decode(signature_text)
    except ValueError as error:
        raise TokenMalformed("the token signature is not base64url") from error
    # The signature is checked before the payload is even parsed: unsigned input is untrusted.
    if not hmac.compare_digest(signature, _signature(encoded, secret)):
        raise TokenForged("the token signature does not match")
    try:
        fields = json.loads(_b64decode(encoded))
        claim = AcceptClaim(
            ticket_id=str(fields["t"]),
            person_id=str(fields["p"]),
            expires_at=datetime.fromtimestamp(int(fields["e"]), UTC),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise TokenMalformed("the token payload is not an accept claim") from error
    if now >= claim.expires_at:
        raise TokenExpired(f"the token expired at {claim.expires_at.isoformat()}", claim)
    if person_id is not None and claim.person_id != person_id:
        raise TokenWrongPerson(f"the token belongs to {claim.person_id}, not {person_id}")
    return claim


def accept_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{ACCEPT_PATH}{token}"


def _signature(encoded_payload: str, secret: str) -> bytes:
    if not secret:
        raise ValueError("the token secret must not be empty")
    return hmac.new(
        secret.encode("utf-8"), encoded_payload.encode("utf-8"), hashlib.sha256
    ).digest()


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"not base64url: {error}") from error


# --------------------------------------------------------------------------- page links
#
# The responder's page link (``{public_url}/r/{token}``) is another kind of token: it names
# one person and one ticket and the instant it was issued, and it has no expiry of its
# own. It opens the page while the ticket is open and assigned to that person, which the
# page checks against the live ticket; it is revoked by a row in the revocation table
# (cityops/db/page_links.py) newer than its issue instant. Its signature is keyed apart
# from the accept token's (a "page" label is signed with the payload), so neither kind
# verifies as the other even though both are HMACs under the same secret.

PAGE_PATH = "/r/"
_PAGE_LABEL = b"cityops-page-link-v1\x00"
PAGE_TOKEN_MAX_LENGTH = 512  # longer input is not ours: refused before any decoding


class PageClaim(BaseModel):
    """What a verified page token says: this person was given this ticket's page then."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ticket_id: str
    person_id: str
    issued_at: AwareDatetime


def sign_page_token(ticket_id: str, person_id: str, issued_at: datetime, secret: str) -> str:
    if issued_at.tzinfo is None:
        raise ValueError(f"issued_at must carry a time zone offset: {issued_at.isoformat()}")
    if not ticket_id or not person_id:
        raise ValueError("ticket_id and person_id must not be empty")
    payload = json.dumps(
        {"k": "page", "t": ticket_id, "p": person_id, "i": int(issued_at.timestamp() * 1000)},
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    ).encode("utf-8")
    encoded = _b64encode(payload)
    return f"{encoded}.{_b64encode(_page_signature(encoded, secret))}"


def verify_page_token(token: str, secret: str) -> PageClaim:
    """The claim of a genuinely signed page token. Whether it still opens the page (ticket
    open and theirs, not revoked) is for the caller to check against live state."""
    if len(token) > PAGE_TOKEN_MAX_LENGTH:
        raise TokenMalformed("the token is too long")
    encoded, dot, signature_text = token.partition(".")
    if not dot or not encoded or not signature_text:
        raise TokenMalformed("the token is not of the form payload.signature")
    try:
        signature = _b64decode(signature_text)
    except ValueError as error:
        raise TokenMalformed("the token signature is not base64url") from error
    if not hmac.compare_digest(signature, _page_signature(encoded, secret)):
        raise TokenForged("the token signature does not match")
    try:
        fields = json.loads(_b64decode(encoded))
        if fields.get("k") != "page":
            raise ValueError("not a page token")
        claim = PageClaim(
            ticket_id=str(fields["t"]),
            person_id=str(fields["p"]),
            issued_at=datetime.fromtimestamp(int(fields["i"]) / 1000, UTC),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise TokenMalformed("the token payload is not a page claim") from error
    return claim


def page_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{PAGE_PATH}{token}"


def _page_signature(encoded_payload: str, secret: str) -> bytes:
    if not secret:
        raise ValueError("the token secret must not be empty")
    return hmac.new(
        secret.encode("utf-8"), _PAGE_LABEL + encoded_payload.encode("utf-8"), hashlib.sha256
    ).digest()
