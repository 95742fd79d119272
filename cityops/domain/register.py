"""The lasting register's message: one event of a ticket's life, as the workflow writes it.

Every history entry of a ticket (who, what, when, from which stage to which) becomes one
`RegisterEvent`, written to the application database by the `record_event` activity. The
event carries a snapshot of the ticket's facts at that moment (scenario, place, tier,
deadlines), so the register can be read without Temporal and KPIs are a pure function of
its rows. `event_key` is stable: the ticket number and the entry's place in the history,
so a retried write never adds a row.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field

from cityops.domain.models import Message
from cityops.domain.stages import Dimension, Priority, Source, Stage, Tier

# The activity's registered name; the workflow starts it by this name.
RECORD_EVENT = "record_event"
RECORD_EVENTS = "record_events"  # a batch: the entries one workflow task added


class TicketEvent(StrEnum):
    """The history events the KPIs read (the workflow writes others too: reminders,
    notices that failed, alarm repeats; the register keeps them all)."""

    RECEIVED = "received"
    NEEDS_TRIAGE = "needs_triage"
    CLASSIFIED = "classified"
    TRIAGED = "triaged"
    DISMISSED = "dismissed"
    DISPATCHED = "dispatched"
    ESCALATED = "escalated"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    TRANSFERRED = "transferred"
    EXTENSION_APPROVED = "extension_approved"
    RESOLVED = "resolved"
    VERIFYING = "verifying"
    REOPENED = "reopened"
    CALLBACK_SATISFIED = "callback_satisfied"
    CALLBACK_BASICALLY_SATISFIED = "callback_basically_satisfied"
    CALLBACK_UNSATISFIED = "callback_unsatisfied"
    CLOSED = "closed"
    CLOSED_UNFIXED = "closed_unfixed"
    STALLED = "stalled"  # a wait's chain pressed its top in vain: supervised daily
    STALL_ENDED = "stall_ended"  # ... until someone acted


def event_key(ticket_id: str, seq: int) -> str:
    """The event's idempotency key: the ticket and the entry's index in its history."""
    return f"{ticket_id}#{seq}"


class RegisterEvent(Message):
    """One entry of a ticket's history with the ticket's facts at that moment."""

    ticket_id: str = Field(min_length=1, max_length=64)
    workflow_id: str = Field(min_length=1, max_length=200)
    event_key: str = Field(min_length=1, max_length=100)
    seq: int = Field(ge=0, description="Index of the entry in the ticket's history")
    at: AwareDatetime
    event: str = Field(min_length=1, max_length=64, description="What happened (TicketEvent)")
    actor: str | None = Field(default=None, max_length=64, description="Who; None: the system")
    acted_by: str | None = Field(
        default=None, max_length=100, description="Who did it on the actor's behalf"
    )
    detail: str = Field(default="", max_length=500)
    from_stage: Stage | None = Field(default=None, description="Stage before; None at intake")
    to_stage: Stage
    source: Source
    received_at: AwareDatetime
    scenario_id: str | None = Field(default=None, max_length=8)
    category_id: str | None = Field(default=None, max_length=8)
    dimension: Dimension | None = None
    priority: Priority | None = None
    street_code: str | None = Field(default=None, max_length=8)
    station_code: str | None = Field(default=None, max_length=32)
    tier: Tier | None = None
    assignee_id: str | None = Field(default=None, max_length=64)
    accept_deadline: AwareDatetime | None = None
    resolve_deadline: AwareDatetime | None = None
    paused: bool = False
    overdue: bool = False
    # The complaint's place and words, carried once (on the first event) to keep history small.
    address: str | None = Field(default=None, max_length=500)
    text: str | None = Field(default=None, max_length=4000)
    # Only on a ticket's first event: sealed into caller_contacts by the writer, never
    # stored in the register itself (payloads to Temporal are encrypted by the codec).
    caller_phone: str | None = Field(default=None, max_length=32)
    caller_name: str | None = Field(default=None, max_length=64)
