"""Replaying dead letters after a fix (``cityops intake replay``).

A letter holds one refused item (an event, an Alertmanager alert) or a whole message
that was not JSON. Replay reads it again with today's code and rules, or with a
corrected payload the dispatcher supplies:

- an item that now reads as an event is delivered like any other (a ticket, a join, a
  duplicate if it got through some other way, a silence) and its letter is marked
  ``replayed`` with that outcome and ticket;
- a whole message that now reads as a list is taken item by item: its letter is marked
  ``replayed`` ("split into N") and any item still refused gets a letter of its own;
- anything still refused stays ``open`` with the newest reason, and ``attempts`` counts up.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from cityops.db.deadletters import (
    Channel,
    DeadLetterRow,
    LetterStatus,
    get_letters,
    list_letters,
    mark_replayed,
    note_failed_replay,
)
from cityops.service.alarms import (
    AlarmBatchInvalid,
    AlarmIntake,
    Incoming,
    read_item,
    split_payload,
)
from cityops.service.items import ItemRefused


@dataclass(frozen=True)
class Replayed:
    letter_id: int
    outcome: str  # an AlarmOutcome value, "split into N", or "rejected" (still refused)
    ticket_id: str | None = None
    reason: str | None = None


async def replay(
    alarms: AlarmIntake,
    engine: Engine,
    letter_ids: Sequence[int] | None = None,
    fixed_payload: str | None = None,
) -> list[Replayed]:
    """Replay the given letters (default: every open one, oldest first)."""
    if letter_ids:
        letters = await asyncio.to_thread(get_letters, engine, letter_ids)
    else:
        letters = await asyncio.to_thread(list_letters, engine, LetterStatus.OPEN, None, 1000)
        letters.reverse()
    if fixed_payload is not None and len(letters) != 1:
        raise ValueError("a corrected payload replays exactly one letter")
    return [await _replay_one(alarms, engine, letter, fixed_payload) for letter in letters]


async def _replay_one(
    alarms: AlarmIntake, engine: Engine, letter: DeadLetterRow, fixed: str | None
) -> Replayed:
    assert letter.letter_id is not None
    channel = Channel(letter.channel)
    text = fixed if fixed is not None else letter.payload
    now = datetime.now(UTC)
    try:
        if letter.truncated and fixed is None:
            raise ItemRefused("", "the stored payload was cut; replay it with a corrected payload")
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise ItemRefused("", f"not valid JSON: {str(exc)[:200]}") from exc
        if letter.item_index is None:
            try:
                raws = split_payload(raw)
            except AlarmBatchInvalid as exc:
                raise ItemRefused("", str(exc)) from exc
            items = [Incoming(item, index, letter.origin) for index, item in enumerate(raws)]
            await alarms.submit(items, channel, now)
            outcome = f"split into {len(items)}"
            await asyncio.to_thread(mark_replayed, engine, letter.letter_id, outcome, None, now)
            return Replayed(letter.letter_id, outcome)
        event = read_item(channel, raw)
    except ItemRefused as refused:
        await asyncio.to_thread(
            note_failed_replay, engine, letter.letter_id, refused.field, refused.reason
        )
        return Replayed(letter.letter_id, "rejected", reason=str(refused))
    (result,) = await alarms.ingest([event], now)
    await asyncio.to_thread(
        mark_replayed, engine, letter.letter_id, result.outcome.value, result.ticket_id, now
    )
    return Replayed(letter.letter_id, result.outcome.value, result.ticket_id, result.reason)
