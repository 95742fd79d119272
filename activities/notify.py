"""The send_notice activity: tell each recipient of a Notice over their own channels.

For each recipient, in parallel:

1. If the DeliveryLog says a channel already accepted this notice (same idempotency
   key) for them, skip them: a retried activity never sends twice.
2. Otherwise render the kind's Chinese template with a one-tap accept link signed for
   this person, and try their channels in order of preference. A transient error is
   retried a few times with doubling backoff; a permanent one, or retries used up, falls
   through to the next channel. The first channel that accepts is recorded in the log.
3. If every channel fails (or the person has none), the recipient goes to
   ``NoticeReceipt.failed`` with the reasons in ``failures``; the workflow tells the tier
   above and shows it on the ticket.

The activity raises (so Temporal retries it later) only when *nobody* was reached and at
least one failure was transient, and only on its first ``give_up_after_attempts - 1``
attempts: from that attempt on it returns the receipt with the failures, so the workflow
always gets an answer as long as its retry policy allows that many attempts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from cityops.activities.channels import (
    ChannelError,
    ChannelSenders,
    OutgoingMessage,
    SmtpSettings,
    TransientChannelError,
)
from cityops.activities.delivery_log import DeliveryLog, channel_key
from cityops.activities.notice_text import neutral, own_photo, render_notice, ticket_url
from cityops.config import Settings, get_settings
from cityops.domain.models import (
    CAMERA_DESK_ID,
    HOTLINE_DESK_ID,
    ChannelKind,
    ContactChannel,
    DeliveryFailure,
    Notice,
    NoticeReceipt,
    Recipient,
)
from cityops.domain.stages import NoticeKind, Reader
from cityops.domain.tokens import accept_url, page_url, sign_accept_token, sign_page_token

log = structlog.get_logger(__name__)

# A closed ticket has nothing left to accept.
_NO_ACCEPT_LINK = frozenset({NoticeKind.CLOSED})


def offers_accept(notice: Notice, recipient: Recipient) -> bool:
    """一键接单 only for whom may accept, only while the ticket waits for acceptance."""
    return (
        notice.accept_link
        and recipient.reader is Reader.ASSIGNEE
        and notice.kind not in _NO_ACCEPT_LINK
    )


class ContactDirectory(Protocol):
    def channels_for(self, person_id: str) -> list[ContactChannel]:
        """The person's channels, most preferred first; LookupError for an unknown person."""
        ...


class WithDesks:
    """The organisation's directory plus the desks outside it (the hotline's callback desk,
    the video platform's re-check desk), which are configured for the deployment."""

    def __init__(
        self, directory: ContactDirectory, desks: Mapping[str, list[ContactChannel]]
    ) -> None:
        self._directory = directory
        self._desks = dict(desks)

    def channels_for(self, person_id: str) -> list[ContactChannel]:
        if person_id in self._desks:
            return list(self._desks[person_id])
        return self._directory.channels_for(person_id)


def parse_contact(value: str) -> ContactChannel:
    """`email:desk@example.org` or `webhook:https://…` → a channel; ValueError says why."""
    kind, sep, target = value.partition(":")
    if not sep or not target:
        raise ValueError(f"contact {value!r}: expected kind:target, e.g. email:desk@example.org")
    try:
        return ContactChannel(kind=ChannelKind(kind), target=target)
    except ValueError as exc:
        kinds = ", ".join(k.value for k in ChannelKind)
        raise ValueError(f"contact {value!r}: kind must be one of {kinds}") from exc


class ChannelSender(Protocol):
    async def send(self, channel: ContactChannel, message: OutgoingMessage) -> None: ...


class InMemoryContactDirectory:
    """A ContactDirectory from a mapping: for tests and demos without the org database."""

    def __init__(self, channels: Mapping[str, Sequence[ContactChannel]]) -> None:
        self._channels = {person: list(found) for person, found in channels.items()}

    def channels_for(self, person_id: str) -> list[ContactChannel]:
        try:
            return list(self._channels[person_id])
        except KeyError:
            raise LookupError(f"no person with id {person_id!r}") from None


@dataclass(frozen=True)
class NotifySettings:
    public_url: str
    token_secret: str
    # An accept link lasts until the ticket's accept deadline (computed by the workflow on
    # the ticket's calendar: a P3 link sent on Friday evening runs into Monday's working
    # hours) plus this grace; it works only while the ticket waits for its person anyway.
    accept_link_grace: timedelta = timedelta(hours=1)
    accept_link_ttl: timedelta = timedelta(hours=72)  # a notice that names no accept deadline
    attempts_per_channel: int = 2  # bounded: the activity's start-to-close timeout is 60 s
    first_backoff_seconds: float = 0.5
    max_backoff_seconds: float = 4.0
    give_up_after_attempts: int = 5  # activity attempt that returns failures instead of raising

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> NotifySettings:
        settings = settings or get_settings()
        return cls(public_url=settings.public_url, token_secret=settings.secret)


@dataclass
class _Outcome:
    person_id: str
    channel: str | None = None  # channel kind that accepted, None when nothing did
    errors: list[str] = field(default_factory=list)
    transient: bool = False


class NotifyActivities:
    """Holds the injected directory, log and senders; register ``send_notice`` on a worker."""

    def __init__(
        self,
        directory: ContactDirectory,
        delivery_log: DeliveryLog,
        settings: NotifySettings | Settings | None = None,
        senders: ChannelSender | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Without ``senders``: the real channels, SMTP as cityops.config reads it.
        ``settings`` may be the worker's Settings (links from CITYOPS_PUBLIC_URL/SECRET)."""
        smtp = SmtpSettings.from_settings(
            settings if isinstance(settings, Settings) else get_settings()
        )
        if not isinstance(settings, NotifySettings):
            settings = NotifySettings.from_settings(settings)
        self._directory = directory
        self._log = delivery_log
        self._senders = senders or ChannelSenders(
            httpx.AsyncClient(timeout=httpx.Timeout(5.0)), smtp
        )
        self._settings = settings
        self._clock = clock
        self._sleep = sleep

    @activity.defn(name="send_notice")
    async def send_notice(self, notice: Notice) -> NoticeReceipt:
        info = activity.info()
        attempt = info.attempt
        # A key minted by the very run that scheduled this activity (workflow/run/sequence)
        # can only have been delivered by an earlier attempt of it: the first attempt skips
        # the lookup. A notice passed on by another workflow (a notice group sending a
        # ticket's follow-up) is always looked up, and so is a local activity's (a worker
        # that died in its workflow task runs it again from attempt 1) and the activity
        # that follows a failed local attempt.
        minted_here = notice.idempotency_key.startswith(
            f"{info.workflow_id}/{info.workflow_run_id}/"
        )
        look_up = attempt > 1 or not minted_here or info.is_local or notice.after_local_attempt
        outcomes = await asyncio.gather(
            *(self._deliver(notice, r, look_up=look_up) for r in notice.recipients)
        )
        receipt = NoticeReceipt(
            delivered_to=[o.person_id for o in outcomes if o.channel],
            failed=[o.person_id for o in outcomes if not o.channel],
            delivered_via={o.person_id: o.channel for o in outcomes if o.channel},
            failures=[
                DeliveryFailure(person_id=o.person_id, reason="; ".join(o.errors))
                for o in outcomes
                if not o.channel
            ],
        )
        worth_retrying = any(o.transient for o in outcomes if not o.channel)
        if (
            notice.recipients
            and not receipt.delivered_to
            and worth_retrying
            and attempt < self._settings.give_up_after_attempts
        ):
            raise ApplicationError(
                f"notice {notice.idempotency_key} reached nobody (attempt {attempt}): "
                + " | ".join(f"{f.person_id}: {f.reason}" for f in receipt.failures),
                type="NoticeUndelivered",
            )
        return receipt

    async def _deliver(self, notice: Notice, recipient: Recipient, *, look_up: bool) -> _Outcome:
        outcome = _Outcome(recipient.person_id)
        earlier = (
            await self._log.accepted_channel(notice.idempotency_key, recipient.person_id)
            if look_up
            else None
        )
        if earlier is not None:
            outcome.channel = earlier.partition(":")[0]
            return outcome
        try:
            channels = self._directory.channels_for(recipient.person_id)
        except LookupError as error:
            outcome.errors.append(f"unknown person: {error}")
            return outcome
        if not channels:
            outcome.errors.append("no contact channel")
            return outcome
        message = self._message_for(notice, recipient)
        for channel in channels:
            try:
                await self._send_with_retries(channel, message)
            except ChannelError as error:
                outcome.errors.append(f"{channel.kind.value}: {error}")
                outcome.transient = outcome.transient or isinstance(error, TransientChannelError)
                log.warning(
                    "notice_channel_failed",
                    ticket_id=notice.ticket_id,
                    kind=notice.kind.value,
                    person_id=recipient.person_id,
                    channel=channel.kind.value,
                    error=str(error),
                )
                continue
            key = channel_key(channel)
            await self._log.record(notice.idempotency_key, recipient.person_id, key)
            outcome.channel = channel.kind.value
            return outcome
        return outcome

    async def _send_with_retries(self, channel: ContactChannel, message: OutgoingMessage) -> None:
        backoff = self._settings.first_backoff_seconds
        for attempt in range(1, self._settings.attempts_per_channel + 1):
            try:
                await self._senders.send(channel, message)
                return
            except TransientChannelError:
                if attempt == self._settings.attempts_per_channel:
                    raise
            await self._sleep(backoff)
            backoff = min(backoff * 2, self._settings.max_backoff_seconds)

    def _accept_link(
        self, ticket_id: str, recipient: Recipient, facts: Mapping[str, str]
    ) -> str | None:
        if recipient.reader is not Reader.ASSIGNEE:
            return None
        settings = self._settings
        token = sign_accept_token(
            ticket_id, recipient.person_id, self._link_expiry(facts), settings.token_secret
        )
        return accept_url(settings.public_url, token)

    def _link_expiry(self, facts: Mapping[str, str]) -> datetime:
        """The ticket's accept deadline plus the grace; the fixed lifetime without one."""
        now = self._clock()
        try:
            deadline = datetime.fromisoformat(facts.get("accept_deadline", ""))
        except ValueError:
            return now + self._settings.accept_link_ttl
        if deadline.tzinfo is None:
            return now + self._settings.accept_link_ttl
        return max(deadline, now) + self._settings.accept_link_grace

    def _message_for(self, notice: Notice, recipient: Recipient) -> OutgoingMessage:
        settings = self._settings
        link = (
            self._accept_link(notice.ticket_id, recipient, notice.facts)
            if offers_accept(notice, recipient)
            else None
        )
        item_facts = {item.ticket_id: item.facts for item in notice.items}
        details = ticket_url(settings.public_url, notice.ticket_id)
        page = self._page_link(notice, recipient)
        return OutgoingMessage(
            kind=notice.kind.value,
            ticket_id=notice.ticket_id,
            idempotency_key=notice.idempotency_key,
            person_id=recipient.person_id,
            person_name=recipient.name,
            title=neutral(notice.title),  # an e-mail subject, a robot's title: one plain line
            text=render_notice(
                notice,
                recipient,
                link,
                details,
                page,
                link_for=lambda ticket_id: ticket_url(settings.public_url, ticket_id),
                accept_for=lambda ticket_id: self._accept_link(
                    ticket_id, recipient, item_facts.get(ticket_id, notice.facts)
                ),
                photo_link=own_photo(notice.facts.get("photo_url", ""), settings.public_url),
            ),
            facts=notice.facts,
            accept_url=link,
            ticket_url=details,
            page_url=page,
        )

    def _page_link(self, notice: Notice, recipient: Recipient) -> str | None:
        """The recipient's own page for the ticket, signed now (no expiry: it opens while
        the ticket is open and theirs). The desks (hotline, camera) are no person: no page."""
        if notice.kind in _NO_ACCEPT_LINK or recipient.person_id in (
            HOTLINE_DESK_ID,
            CAMERA_DESK_ID,
        ):
            return None
        token = sign_page_token(
            notice.ticket_id, recipient.person_id, self._clock(), self._settings.token_secret
        )
        return page_url(self._settings.public_url, token)
