"""What the figures are computed from: register rows as plain, immutable records.

`EventRecord` is one ``ticket_events`` row with its instants in UTC; `fold` turns one
ticket's records, up to an instant, into `TicketFacts`, the ticket as it stood then. Both
are pure, so the KPIs, the vital signs and a simulation can share them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from cityops.domain.register import TicketEvent
from cityops.domain.stages import CallbackResult, CallKind, Source, Stage

# Problems a sensor, a camera or a grid inspector found before anyone called.
PROACTIVE_SOURCES = frozenset({Source.IOT, Source.VIDEO, Source.GRID})
BEING_WORKED = frozenset({Stage.ACCEPTED, Stage.REOPENED})
# A call that is no work order shows its kind by the stage its CallWorkflow writes first.
CALL_KIND_OF_STAGE = {
    Stage.ANSWERED: CallKind.CONSULTATION,
    Stage.REFERRED: CallKind.REFERRAL,
    Stage.RECORDED: CallKind.SUGGESTION,
}
_CALLBACKS = {
    TicketEvent.CALLBACK_SATISFIED.value: CallbackResult.SATISFIED,
    TicketEvent.CALLBACK_BASICALLY_SATISFIED.value: CallbackResult.BASICALLY_SATISFIED,
    TicketEvent.CALLBACK_UNSATISFIED.value: CallbackResult.UNSATISFIED,
}


@dataclass(frozen=True)
class EventRecord:
    """One register event (a ``ticket_events`` row); instants are aware, in UTC."""

    ticket_id: str
    event: str
    stage: Stage
    at: datetime
    source: Source
    received_at: datetime
    seq: int | None = None
    from_stage: Stage | None = None
    actor: str | None = None
    scenario_id: str | None = None
    category_id: str | None = None
    dimension: str | None = None
    priority: str | None = None
    street_code: str | None = None
    station_code: str | None = None
    tier: str | None = None
    assignee_id: str | None = None
    accept_deadline: datetime | None = None
    resolve_deadline: datetime | None = None
    paused: bool = False
    address: str | None = None


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def floored(record: EventRecord, step: timedelta) -> EventRecord:
    """The record with its instants floored to a multiple of `step` since the epoch."""

    def floor(instant: datetime) -> datetime:
        return instant - (instant - EPOCH) % step

    return replace(
        record,
        at=floor(record.at),
        received_at=floor(record.received_at),
        accept_deadline=record.accept_deadline and floor(record.accept_deadline),
        resolve_deadline=record.resolve_deadline and floor(record.resolve_deadline),
    )


@dataclass
class TicketFacts:
    """A ticket as its register events tell it, up to an instant."""

    ticket_id: str
    source: Source
    received_at: datetime
    stage: Stage = Stage.INTAKE
    scenario_id: str | None = None
    category_id: str | None = None
    dimension: str | None = None
    priority: str | None = None
    street_code: str | None = None
    station_code: str | None = None
    assignee_id: str | None = None
    address: str | None = None
    dispatched_at: datetime | None = None
    first_accept_deadline: datetime | None = None
    accepted_at: datetime | None = None
    resolved_at: datetime | None = None  # the standing resolution (a reopen withdraws it)
    resolved_on_time: bool = False  # the standing resolution, against the deadline then
    resolutions: int = 0
    resolve_deadline: datetime | None = None
    paused: bool = False
    closed_at: datetime | None = None
    reopens: int = 0
    returns: int = 0
    extensions: int = 0
    escalations: int = 0
    callback: CallbackResult | None = None
    call_kind: CallKind | None = None  # a consultation, referral or suggestion
    converted: bool = False  # a call made a work order under the same number
    stalled: bool = False  # a wait's chain pressed its top in vain; supervised daily (督办)
    events: list[str] = field(default_factory=list)

    @property
    def is_final(self) -> bool:
        return self.stage.is_final

    @property
    def is_work_order(self) -> bool:
        """Dismissed triage tickets and calls (consultations, referrals, suggestions) are
        no work order, unless the call was converted into one."""
        if self.call_kind is not None:
            return self.converted
        return self.stage is not Stage.DISMISSED

    @property
    def non_work_order_kind(self) -> str | None:
        """Why it is no work order: ``dismissed`` or the call's kind."""
        if self.is_work_order:
            return None
        return self.call_kind.value if self.call_kind is not None else "dismissed"

    def is_overdue(self, at: datetime) -> bool:
        """Being worked, its clock running, and past the resolve deadline in force."""
        return (
            self.stage in BEING_WORKED
            and not self.paused
            and self.resolve_deadline is not None
            and self.resolve_deadline < at
        )


def _order(record: EventRecord) -> tuple[datetime, int]:
    return (record.at, record.seq if record.seq is not None else -1)


def fold(records: Iterable[EventRecord], as_of: datetime | None = None) -> TicketFacts | None:
    """One ticket's facts from its records at or before `as_of`; None if there are none."""
    facts: TicketFacts | None = None
    for record in sorted(records, key=_order):
        if as_of is not None and record.at > as_of:
            break
        if facts is None:
            facts = TicketFacts(record.ticket_id, record.source, record.received_at)
        _apply(facts, record)
    return facts


def _apply(facts: TicketFacts, record: EventRecord) -> None:
    facts.stage = record.stage
    if record.stage in CALL_KIND_OF_STAGE and facts.call_kind is None:
        facts.call_kind = CALL_KIND_OF_STAGE[record.stage]
    elif record.stage is Stage.CONVERTED:
        facts.converted = True
    facts.events.append(record.event)
    for name in ("scenario_id", "category_id", "dimension", "priority", "address"):
        value = getattr(record, name)
        if value is not None:
            setattr(facts, name, value)
    if record.street_code is not None or record.assignee_id is not None:
        # A return or transfer moves the ticket: take the place of its latest route.
        facts.street_code, facts.station_code = record.street_code, record.station_code
        facts.assignee_id = record.assignee_id
    facts.paused = record.paused
    if record.resolve_deadline is not None:
        facts.resolve_deadline = record.resolve_deadline
    event = record.event
    if event == TicketEvent.DISPATCHED and facts.dispatched_at is None:
        facts.dispatched_at = record.at
        facts.first_accept_deadline = record.accept_deadline
    elif event == TicketEvent.ACCEPTED and facts.accepted_at is None:
        facts.accepted_at = record.at
    elif event == TicketEvent.RESOLVED:
        facts.resolutions += 1
        facts.resolved_at = record.at
        deadline = record.resolve_deadline
        facts.resolved_on_time = deadline is not None and record.at <= deadline
    elif event == TicketEvent.REOPENED:
        facts.reopens += 1
        facts.resolved_at, facts.resolved_on_time = None, False
    elif event == TicketEvent.RETURNED:
        facts.returns += 1
    elif event == TicketEvent.EXTENSION_APPROVED:
        facts.extensions += 1
    elif event == TicketEvent.ESCALATED:
        facts.escalations += 1
    elif event in _CALLBACKS:
        facts.callback = _CALLBACKS[event]
    elif event == TicketEvent.STALLED:
        facts.stalled = True
    elif event == TicketEvent.STALL_ENDED:
        facts.stalled = False
    if record.stage.is_final and facts.closed_at is None:
        facts.closed_at = record.at


def fold_all(records: Iterable[EventRecord], as_of: datetime) -> list[TicketFacts]:
    """Every ticket's facts at `as_of`, in ticket number order."""
    by_ticket: dict[str, list[EventRecord]] = {}
    for record in records:
        by_ticket.setdefault(record.ticket_id, []).append(record)
    folded = (fold(by_ticket[ticket_id], as_of) for ticket_id in sorted(by_ticket))
    return [facts for facts in folded if facts is not None]
