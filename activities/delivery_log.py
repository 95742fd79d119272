"""Which channel accepted which notice for which person: makes send_notice idempotent.

A Temporal activity may run again after it delivered (worker crash, timeout before the
result was recorded). Before sending to a person, send_notice asks the log whether a
channel already accepted this idempotency key for them, and skips them if so.
Channels are stored as ``kind:hash-of-target`` so robot access tokens stay out of the DB.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import Engine, UniqueConstraint, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select

from cityops.domain.models import ContactChannel


def channel_key(channel: ContactChannel) -> str:
    """A stable name for a channel that does not reveal its URL or address."""
    digest = hashlib.sha256(channel.target.encode("utf-8")).hexdigest()[:16]
    return f"{channel.kind.value}:{digest}"


class DeliveryLog(Protocol):
    async def accepted_channel(self, idempotency_key: str, person_id: str) -> str | None:
        """The channel key that already accepted this notice for this person, if any."""
        ...

    async def record(self, idempotency_key: str, person_id: str, channel: str) -> None:
        """Note that ``channel`` accepted the notice; recording twice is harmless."""
        ...


class InMemoryDeliveryLog:
    """For tests and single-process demos: forgets everything on restart."""

    def __init__(self) -> None:
        self.accepted: dict[tuple[str, str], str] = {}

    async def accepted_channel(self, idempotency_key: str, person_id: str) -> str | None:
        return self.accepted.get((idempotency_key, person_id))

    async def record(self, idempotency_key: str, person_id: str, channel: str) -> None:
        self.accepted.setdefault((idempotency_key, person_id), channel)


class NoticeDelivery(SQLModel, table=True):
    """One accepted delivery of one notice to one person."""

    __tablename__ = "notice_delivery"
    __table_args__ = (
        UniqueConstraint("idempotency_key", "person_id", name="uq_notice_delivery_key_person"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=256, index=True)
    person_id: str = Field(max_length=64)
    channel: str = Field(max_length=64, description="kind:sha256(target)[:16]")
    delivered_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class SqlDeliveryLog:
    """The log in the project database; blocking SQL runs in a thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def accepted_channel(self, idempotency_key: str, person_id: str) -> str | None:
        return await asyncio.to_thread(self._accepted_channel, idempotency_key, person_id)

    async def record(self, idempotency_key: str, person_id: str, channel: str) -> None:
        await asyncio.to_thread(self._record, idempotency_key, person_id, channel)

    def _accepted_channel(self, idempotency_key: str, person_id: str) -> str | None:
        with Session(self._engine) as session:
            row = session.exec(
                select(NoticeDelivery.channel).where(
                    NoticeDelivery.idempotency_key == idempotency_key,
                    NoticeDelivery.person_id == person_id,
                )
            ).first()
            return row

    def _record(self, idempotency_key: str, person_id: str, channel: str) -> None:
        # One prebuilt insert, not an ORM session: a notice's delivery is written on the
        # new ticket's path, where the session's unit of work cost 1 ms of CPU.
        row = {
            "idempotency_key": idempotency_key,
            "person_id": person_id,
            "channel": channel,
            "delivered_at": datetime.now(UTC),
        }
        try:
            with self._engine.begin() as connection:
                connection.execute(_RECORD, row)
        except IntegrityError:
            pass  # another attempt recorded it first: the first accepted channel stands


_RECORD = insert(NoticeDelivery.__table__)  # type: ignore[attr-defined]
