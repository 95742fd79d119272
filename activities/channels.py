"""Deliver one rendered message over one contact channel: webhook, e-mail, WeCom, DingTalk.

Each sender either returns (the channel accepted the message) or raises a ChannelError
that says whether trying again could help. Retrying and falling through to the next
channel is the caller's business (activities/notify.py).

Exceptions (one tree):

    ChannelError(Exception)          the channel did not accept the message
    ├── TransientChannelError        worth retrying: timeouts, refused connections,
    │                                HTTP 408/429/5xx, SMTP 4xx, robot rate limits
    └── PermanentChannelError        retrying will not help: HTTP 4xx, SMTP 5xx,
                                     robot errcode (bad token, keyword missing)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import smtplib
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from cityops.activities.notice_text import to_html
from cityops.config import Settings
from cityops.domain.models import ChannelKind, ContactChannel

# Robot error codes that mean "slow down / busy", not "you are wrong".
_ROBOT_TRANSIENT_ERRCODES = frozenset({-1, 45009, 130101, 130102})
_HTTP_TRANSIENT_STATUSES = frozenset({408, 425, 429})


class ChannelError(Exception):
    """Base of every delivery failure on one channel."""


class TransientChannelError(ChannelError):
    pass


class PermanentChannelError(ChannelError):
    pass


class OutgoingMessage(BaseModel):
    """A notice rendered for one recipient: what every channel sends, in its own format."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    ticket_id: str
    idempotency_key: str
    person_id: str
    person_name: str
    title: str
    text: str  # markdown, readable as plain text too
    facts: dict[str, str]
    accept_url: str | None
    ticket_url: str
    page_url: str | None = None  # the recipient's own responder page (docs/responder.md)


@dataclass(frozen=True)
class SmtpSettings:
    """The SMTP relay, from the same settings every process reads (cityops.config)."""

    host: str
    port: int
    sender: str = "cityops@localhost"
    sender_name: str = "城运中心"
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpSettings:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            sender_name=settings.smtp_from_name,
            user=settings.smtp_user or None,
            password=settings.smtp_password or None,
            starttls=settings.smtp_starttls,
        )


class ChannelSenders:
    """Sends a message over any ChannelKind; one instance per worker, sharing an HTTP client."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        smtp: SmtpSettings,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._http = http
        self._smtp = smtp
        self._clock_ms = clock_ms  # DingTalk signatures carry the current time

    async def send(self, channel: ContactChannel, message: OutgoingMessage) -> None:
        if channel.kind is ChannelKind.WEBHOOK:
            await self._post(channel.target, _webhook_body(message), message, robot=False)
        elif channel.kind is ChannelKind.WECOM:
            await self._post(channel.target, _wecom_body(message), message, robot=True)
        elif channel.kind is ChannelKind.DINGTALK:
            url = dingtalk_signed_url(channel.target, channel.secret, self._clock_ms())
            await self._post(url, _dingtalk_body(message), message, robot=True)
        else:
            await asyncio.to_thread(_send_email, self._smtp, channel.target, message)

    async def _post(
        self, url: str, body: dict[str, Any], message: OutgoingMessage, robot: bool
    ) -> None:
        try:
            response = await self._http.post(
                url, json=body, headers={"Idempotency-Key": message.idempotency_key}
            )
        except httpx.TransportError as error:  # connect, read, timeouts
            raise TransientChannelError(f"{type(error).__name__}: {error}") from error
        except httpx.InvalidURL as error:
            raise PermanentChannelError(f"bad URL: {error}") from error
        status = response.status_code
        if status >= 500 or status in _HTTP_TRANSIENT_STATUSES:
            raise TransientChannelError(f"HTTP {status}")
        if status >= 400:
            raise PermanentChannelError(f"HTTP {status}")
        if robot:
            _check_robot_reply(response)


def dingtalk_signed_url(url: str, secret: str | None, timestamp_ms: int) -> str:
    """DingTalk 加签: append timestamp and base64(HMAC-SHA256(secret, "ts\\nsecret"))."""
    if not secret:
        return url
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), to_sign, hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest).decode("ascii"))
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={sign}"


def _webhook_body(message: OutgoingMessage) -> dict[str, Any]:
    return message.model_dump(mode="json")


def _wecom_body(message: OutgoingMessage) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"content": message.text}}


def _dingtalk_body(message: OutgoingMessage) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"title": message.title, "text": message.text}}


def _check_robot_reply(response: httpx.Response) -> None:
    """Robots answer HTTP 200 with {"errcode": N, "errmsg": ...}; only 0 is success."""
    try:
        reply = response.json()
        errcode = int(reply.get("errcode", 0))
    except (ValueError, AttributeError, TypeError) as error:
        raise PermanentChannelError(f"robot reply is not JSON: {response.text[:200]!r}") from error
    if errcode == 0:
        return
    detail = f"robot errcode {errcode}: {reply.get('errmsg', '')}"
    if errcode in _ROBOT_TRANSIENT_ERRCODES:
        raise TransientChannelError(detail)
    raise PermanentChannelError(detail)


def _send_email(settings: SmtpSettings, address: str, message: OutgoingMessage) -> None:
    """Blocking SMTP send; run in a thread so the event loop keeps serving other activities."""
    mail = EmailMessage()
    mail["From"] = formataddr((settings.sender_name, settings.sender))
    mail["To"] = address
    mail["Subject"] = message.title
    # One Message-ID per notice and person: mail servers and clients can drop duplicates.
    domain = settings.sender.rpartition("@")[2] or "cityops"
    digest = hashlib.sha256(f"{message.idempotency_key}/{message.person_id}".encode()).hexdigest()
    mail["Message-ID"] = f"<{digest[:32]}@{domain}>"
    mail["X-Cityops-Ticket"] = message.ticket_id
    mail.set_content(message.text)  # the plain part: untrusted text already neutralised
    mail.add_alternative(to_html(message.text), subtype="html")
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.user and settings.password:
                smtp.login(settings.user, settings.password)
            smtp.send_message(mail)
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        kind = (
            TransientChannelError if all(400 <= c < 500 for c in codes) else PermanentChannelError
        )
        raise kind(f"SMTP refused {address}: {codes}") from error
    except smtplib.SMTPResponseException as error:
        kind = TransientChannelError if 400 <= error.smtp_code < 500 else PermanentChannelError
        raise kind(f"SMTP {error.smtp_code}: {error.smtp_error!r}") from error
    except (smtplib.SMTPException, OSError) as error:  # disconnects, refused, timeouts
        raise TransientChannelError(f"SMTP {type(error).__name__}: {error}") from error
