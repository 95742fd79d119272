"""Dead letters: every alarm event (or whole message) the front door refused, kept with
its raw payload and the reason, so nothing acknowledged is lost in silence.

An MQTT message, an HTTP batch or an Alertmanager group is taken item by item: the valid
events go on to Temporal, and each refused one is written here before the sender gets its
answer (HTTP 200 with outcome ``rejected``, an MQTT PUBACK). A dispatcher lists them
(``cityops intake rejected``, ``GET /api/v1/alarms/rejected``) and, once the cause is
fixed (a rule for a new sensor type, a corrected payload), replays them
(``cityops intake replay``, service/deadletters.py).

The same refusal arriving again (MQTT redelivery, an HTTP retry) is one letter: its
``fingerprint`` (SHA-256 of channel and payload) is unique, and a repeat counts up
``times_received`` and opens the letter again. Payloads are kept up to
``MAX_PAYLOAD_CHARS``; a longer one is cut and marked ``truncated`` (it cannot be replayed
as it was, but its start says who sent it).

All functions here are synchronous database calls; async callers run them in a thread.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel, col, select

MAX_PAYLOAD_CHARS = 256 * 1024
MAX_REASON_CHARS = 1000


class Channel(StrEnum):
    """Where a refused event came in."""

    HTTP = "http"  # POST /api/v1/alarms
    MQTT = "mqtt"  # cityops intake mqtt
    ALERTMANAGER = "alertmanager"  # POST /api/v1/alertmanager


class LetterStatus(StrEnum):
    OPEN = "open"  # waiting for a fix and a replay
    REPLAYED = "replayed"  # went through on replay: it has an outcome now


class DeadLetterRow(SQLModel, table=True):
    __tablename__ = "dead_letters"

    letter_id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(max_length=64, unique=True)
    channel: str = Field(max_length=16, index=True)
    origin: str = Field(default="", max_length=300)  # MQTT topic, HTTP route, AM receiver
    item_index: int | None = None  # place in its message or group; None: the whole message
    event_id: str | None = Field(default=None, max_length=128)
    field: str = Field(default="", max_length=200)  # what is wrong: "occurred_at", "labels.lat"
    reason: str = Field(max_length=MAX_REASON_CHARS)
    payload: str  # as received (JSON text of the item, or the message's text)
    truncated: bool = False
    received_at: datetime = Field(index=True)
    times_received: int = 1
    status: str = Field(default=LetterStatus.OPEN.value, max_length=16, index=True)
    attempts: int = 0  # replays tried
    replayed_at: datetime | None = None
    replay_outcome: str | None = Field(default=None, max_length=32)
    replay_ticket_id: str | None = Field(default=None, max_length=64)


@dataclass(frozen=True)
class Refusal:
    """One refused item before it is stored."""

    channel: Channel
    origin: str
    index: int | None
    field: str
    reason: str
    payload: str
    event_id: str | None = None


def fingerprint(channel: Channel, payload: str) -> str:
    return hashlib.sha256(f"{channel.value}\n{payload}".encode()).hexdigest()


def store_refusals(engine: Engine, refusals: Sequence[Refusal], at: datetime) -> list[int]:
    """Write each refusal (a repeat reopens its letter); the letter ids, in order."""
    if not refusals:
        return []
    table = DeadLetterRow.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    ids: list[int] = []
    with engine.begin() as connection:
        for refusal in refusals:
            payload = refusal.payload[:MAX_PAYLOAD_CHARS]
            values = {
                "fingerprint": fingerprint(refusal.channel, refusal.payload),
                "channel": refusal.channel.value,
                "origin": refusal.origin[:300],
                "item_index": refusal.index,
                "event_id": refusal.event_id[:128] if refusal.event_id else None,
                "field": refusal.field[:200],
                "reason": refusal.reason[:MAX_REASON_CHARS],
                "payload": payload,
                "truncated": len(payload) < len(refusal.payload),
                "received_at": at,
                "times_received": 1,
                "status": LetterStatus.OPEN.value,
                "attempts": 0,
            }
            statement = (
                insert(table)
                .values(values)
                .on_conflict_do_update(
                    index_elements=["fingerprint"],
                    set_={
                        "times_received": table.c.times_received + 1,
                        "received_at": at,
                        "status": LetterStatus.OPEN.value,
                        "reason": values["reason"],
                        "field": values["field"],
                    },
                )
                .returning(table.c.letter_id)
            )
            ids.append(int(connection.execute(statement).scalar_one()))
    return ids


def list_letters(
    engine: Engine,
    status: LetterStatus | None = LetterStatus.OPEN,
    channel: Channel | None = None,
    limit: int = 100,
    *,
    origin_suffix: str | None = None,
) -> list[DeadLetterRow]:
    """Newest first; `origin_suffix`: only letters whose origin ends so (one key's posts)."""
    with Session(engine) as session:
        query = select(DeadLetterRow)
        if origin_suffix is not None:
            query = query.where(col(DeadLetterRow.origin).endswith(origin_suffix, autoescape=True))
        if status is not None:
            query = query.where(DeadLetterRow.status == status.value)
        if channel is not None:
            query = query.where(DeadLetterRow.channel == channel.value)
        query = query.order_by(
            col(DeadLetterRow.received_at).desc(), col(DeadLetterRow.letter_id).desc()
        ).limit(limit)
        return list(session.exec(query))


def get_letters(engine: Engine, letter_ids: Sequence[int]) -> list[DeadLetterRow]:
    with Session(engine) as session:
        rows = session.exec(
            select(DeadLetterRow).where(col(DeadLetterRow.letter_id).in_(list(letter_ids)))
        )
        return sorted(rows, key=lambda row: row.letter_id or 0)


def count_letters(engine: Engine, status: LetterStatus | None = None) -> int:
    with Session(engine) as session:
        query = select(func.count()).select_from(DeadLetterRow)
        if status is not None:
            query = query.where(DeadLetterRow.status == status.value)
        return int(session.exec(query).one())


def mark_replayed(
    engine: Engine, letter_id: int, outcome: str, ticket_id: str | None, at: datetime
) -> None:
    with Session(engine) as session:
        row = session.get(DeadLetterRow, letter_id)
        if row is None:
            return
        row.status = LetterStatus.REPLAYED.value
        row.attempts += 1
        row.replayed_at = at
        row.replay_outcome = outcome[:32]
        row.replay_ticket_id = ticket_id
        session.add(row)
        session.commit()


def note_failed_replay(engine: Engine, letter_id: int, field: str, reason: str) -> None:
    """Still refused: the letter stays open with the newest reason."""
    with Session(engine) as session:
        row = session.get(DeadLetterRow, letter_id)
        if row is None:
            return
        row.attempts += 1
        row.field = field[:200]
        row.reason = reason[:MAX_REASON_CHARS]
        session.add(row)
        session.commit()
