"""Counts of calls by kind from the ticket register's event rows. Pure: rows in, figures out.

Each row is one register event (`ticket_events`: ticket_id, event, stage, at). CallWorkflow
writes its events through the same `record_ticket` activity as a work order, so one
register holds both. A ticket's kind is read from its rows, never guessed:

| first call row's stage | kind |
|---|---|
| `answered` | consultation |
| `referred` | referral |
| `recorded` | suggestion |
| none of these | complaint (a work order from the start) |

Window: a ticket falls in ``[start, end)`` by the instant of its first row, which for a
call is written at intake (its answered/referred/recorded row) and for a work order is
its `received` row where the register keeps one (else its first, `dispatched`).

Figures (a rate whose denominator is zero is None):

- ``calls``: tickets in the window, all kinds; ``by_kind``: the same per kind.
- ``consultations_answered_on_the_spot``: consultations never converted;
  ``answered_on_the_spot_rate`` = that ÷ consultations.
- ``converted``: consultations and referrals of the window converted into work orders.
- ``referral_rate`` = referrals ÷ calls.
- ``consultation_satisfaction_rate`` = consultations rated satisfied or basically
  satisfied ÷ consultations rated (``consultations_rated``). Apart from work-order
  satisfaction (callbacks), which it never enters.
- ``suggestions_replied``, ``suggestions_open`` (recorded, no reply yet),
  ``suggestions_escalated`` (climbed at least once for want of a reply).
- ``work_orders``: complaints plus converted calls: the only tickets work-order rates
  (closed-loop, on-time, satisfaction by callback…) should count; `work_order_ids` gives
  the numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from cityops.domain.stages import CallbackResult, CallKind, Stage

KIND_OF_STAGE = {
    Stage.ANSWERED.value: CallKind.CONSULTATION,
    Stage.REFERRED.value: CallKind.REFERRAL,
    Stage.RECORDED.value: CallKind.SUGGESTION,
}
SATISFIED = {
    f"rated_{CallbackResult.SATISFIED.value}",
    f"rated_{CallbackResult.BASICALLY_SATISFIED.value}",
}
RATED = SATISFIED | {f"rated_{CallbackResult.UNSATISFIED.value}"}


class RegisterRow(Protocol):
    """What the counts read of a register event row (activities/store.TicketEventRow)."""

    @property
    def ticket_id(self) -> str: ...
    @property
    def event(self) -> str: ...
    @property
    def stage(self) -> str: ...
    @property
    def at(self) -> datetime: ...


class CallCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    calls: int
    by_kind: dict[CallKind, int]
    consultations_answered_on_the_spot: int
    answered_on_the_spot_rate: float | None
    converted: int
    referral_rate: float | None
    consultations_rated: int
    consultation_satisfaction_rate: float | None
    suggestions_replied: int
    suggestions_open: int
    suggestions_escalated: int
    work_orders: int


class _Ticket:
    def __init__(self) -> None:
        self.first: datetime | None = None
        self.kind = CallKind.COMPLAINT
        self.kind_at: datetime | None = None
        self.events: set[str] = set()

    def add(self, row: RegisterRow) -> None:
        if self.first is None or row.at < self.first:
            self.first = row.at
        kind = KIND_OF_STAGE.get(row.stage)
        if kind is not None and (self.kind_at is None or row.at < self.kind_at):
            self.kind, self.kind_at = kind, row.at
        self.events.add(row.event)

    @property
    def converted(self) -> bool:
        return "converted" in self.events

    @property
    def work_order(self) -> bool:
        return self.kind is CallKind.COMPLAINT or self.converted


def _tickets(rows: Iterable[RegisterRow]) -> dict[str, _Ticket]:
    tickets: dict[str, _Ticket] = {}
    for row in rows:
        tickets.setdefault(row.ticket_id, _Ticket()).add(row)
    return tickets


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def call_kinds(rows: Iterable[RegisterRow]) -> dict[str, CallKind]:
    """Each ticket's kind at intake, by number."""
    return {ticket_id: t.kind for ticket_id, t in _tickets(rows).items()}


def work_order_ids(rows: Iterable[RegisterRow]) -> set[str]:
    """The tickets that are work orders: complaints, and calls converted into one."""
    return {ticket_id for ticket_id, t in _tickets(rows).items() if t.work_order}


def call_counts(rows: Iterable[RegisterRow], start: datetime, end: datetime) -> CallCounts:
    """The call figures of the tickets whose first row falls in [start, end)."""
    window = [t for t in _tickets(rows).values() if t.first is not None and start <= t.first < end]
    by_kind = {kind: sum(1 for t in window if t.kind is kind) for kind in CallKind}
    consultations = [t for t in window if t.kind is CallKind.CONSULTATION]
    suggestions = [t for t in window if t.kind is CallKind.SUGGESTION]
    on_the_spot = sum(1 for t in consultations if not t.converted)
    rated = [t for t in consultations if t.events & RATED]
    satisfied = sum(1 for t in rated if t.events & SATISFIED)
    replied = sum(1 for t in suggestions if "replied" in t.events)
    return CallCounts(
        calls=len(window),
        by_kind=by_kind,
        consultations_answered_on_the_spot=on_the_spot,
        answered_on_the_spot_rate=_rate(on_the_spot, len(consultations)),
        converted=sum(1 for t in window if t.kind is not CallKind.COMPLAINT and t.converted),
        referral_rate=_rate(by_kind[CallKind.REFERRAL], len(window)),
        consultations_rated=len(rated),
        consultation_satisfaction_rate=_rate(satisfied, len(rated)),
        suggestions_replied=replied,
        suggestions_open=len(suggestions) - replied,
        suggestions_escalated=sum(1 for t in suggestions if "escalated" in t.events),
        work_orders=sum(1 for t in window if t.work_order),
    )
