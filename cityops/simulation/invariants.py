"""The simulated day's invariants: each returns what is wrong, in words, or nothing.

They check the engine against what the simulation did and against the register it wrote:

- every call and every alarm message is accounted for, with the fate the engine gave it
  matching what the caller or device did (`calls_accounted`, `events_accounted`);
- every ticket ends the day in a known stage, and an open one waits on a clock: the
  deadline of its stage, and a timer of its run still to fire (`open_tickets_wait_on_a_clock`);
- no notice is lost: every notice a ticket's run sent was read, every follow-up handed to
  a notice group reached its person or waits in the group's last window (`no_notice_lost`);
- the register agrees with the engine: stages, its rows for what the engine counts or
  took (escalations, returns, transfers, pauses, first contacts…), calls by kind, alarm
  events by outcome and dead letters (`register_agrees`);
- every after-photo the closure rules should refuse was refused (`bad_photos_refused`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from cityops.db.audit import AlarmEventRow, AlarmOutcome, IncidentTicketRow
from cityops.db.deadletters import DeadLetterRow
from cityops.domain.call_counts import CallCounts, call_counts
from cityops.domain.models import HistoryEntry, TicketStatus
from cityops.domain.stages import CallKind, ClosureCheck, LinkKind, Stage
from cityops.register.tables import TicketEventRow, TicketRow, utc
from cityops.simulation.inbox import unmatched
from cityops.simulation.load import Call
from cityops.simulation.run import Simulation

CALL_STAGES = {Stage.ANSWERED, Stage.REFERRED, Stage.RECORDED, Stage.REPLIED}
# What an alarm message may come to, by what the device did.
TICKETED = {AlarmOutcome.NEW_TICKET.value, AlarmOutcome.TRIAGE.value, AlarmOutcome.JOINED.value}


@dataclass(frozen=True)
class _EventRow:
    """A register event row with its instant in UTC (SQLite keeps it naive)."""

    ticket_id: str
    event: str
    stage: str
    at: datetime


@dataclass
class Register:
    """What the day's register holds, read once."""

    stages: dict[str, str] = field(default_factory=dict)
    rows: list[_EventRow] = field(default_factory=list)
    alarm_events: Counter[str] = field(default_factory=Counter)
    dead_letters: set[int] = field(default_factory=set)
    roles: dict[str, str] = field(default_factory=dict)  # incident role by ticket

    @classmethod
    def read(cls, engine: Engine) -> Register:
        register = cls()
        with Session(engine) as session:
            register.stages = dict(session.exec(select(TicketRow.ticket_id, TicketRow.stage)).all())
            for ticket_id, event, stage, at in session.exec(
                select(
                    TicketEventRow.ticket_id,
                    TicketEventRow.event,
                    TicketEventRow.stage,
                    TicketEventRow.at,
                )
            ).all():
                register.rows.append(_EventRow(ticket_id, event, stage, utc(at)))
            register.alarm_events = Counter(
                dict(
                    session.exec(
                        select(AlarmEventRow.outcome, func.count()).group_by(AlarmEventRow.outcome)
                    ).all()
                )
            )
            register.dead_letters = {
                letter for letter in session.exec(select(DeadLetterRow.letter_id)).all() if letter
            }
            register.roles = {
                ticket: role or ""
                for ticket, role in session.exec(
                    select(IncidentTicketRow.ticket_id, IncidentTicketRow.role)
                ).all()
            }
        return register

    def calls(self, start: datetime, end: datetime) -> CallCounts:
        return call_counts(self.rows, start, end)


# What ends a pause: the assignee resumes, or its stated end passes (patch pause-deadline).
PAUSE_ENDS = ("clock_resumed", "pause_expired")


def at_midnight(status: TicketStatus, entries: list[HistoryEntry]) -> TicketStatus:
    """How a ticket read just after midnight stood at midnight, from its history up to
    then (`entries`): the server's clock runs at real pace while the day is read, so a
    timer due just after midnight may have fired (an escalation, a close)."""
    if not entries:
        return status
    events = Counter(entry.event for entry in entries)
    pauses = [e.event for e in entries if e.event in ("clock_paused", *PAUSE_ENDS)]
    paused = bool(pauses) and pauses[-1] == "clock_paused"
    # A pause that ended just after midnight (resumed, or it ran out) had an end at
    # midnight; the status read after it shows the resolve deadline it moved.
    pause_deadline = (status.pause_deadline or status.resolve_deadline) if paused else None
    contacts = [e.at for e in entries if e.event == "citizen_contacted"]
    # Overdue from the red mark of the resolve clock until an approved extension moves it.
    marks = [e.event for e in entries if e.event in ("overdue", "extension_approved")]
    return status.model_copy(
        update={
            "stage": entries[-1].stage,
            "escalations": events["escalated"] + events["escalated_after_reopens"],
            "returns": events["returned"],
            "reopens": events["reopened"],
            "extensions": events["extension_approved"],
            "contacted_at": contacts[0] if contacts else None,
            "paused": paused,
            "pause_deadline": pause_deadline,
            "overdue": bool(marks) and marks[-1] == "overdue",
            "bound_unit": status.bound_unit if events["district_ruling"] else None,
        }
    )


def is_work_order(status: TicketStatus) -> bool:
    return status.stage not in CALL_STAGES and status.stage is not Stage.DISMISSED


def _some(items: list[str], limit: int = 5) -> str:
    return ", ".join(items[:limit]) + (
        f" (and {len(items) - limit} more)" if len(items) > limit else ""
    )


def calls_accounted(
    simulation: Simulation, calls: list[Call], statuses: dict[str, TicketStatus], register: Register
) -> list[str]:
    """Every call is a ticket, a join to an open ticket of its incident, or a call record,
    and a number sent twice is the same ticket (a duplicate); the engine and the register
    say the same."""
    wrong: list[str] = []
    for call in calls:
        fates = simulation.ledger.call_fates.get(call.number, [])
        if not fates:
            wrong.append(f"call {call.number}: no ticket, join, duplicate or call record")
            continue
        first = fates[0]
        status = statuses.get(first.ticket_id)
        if not first.created or status is None:
            wrong.append(f"call {call.number}: {first.ticket_id} not started or not read")
            continue
        if first.fate == "join":
            role = register.roles.get(first.ticket_id)
            if first.primary_ticket_id not in statuses or role != (
                first.link.value if first.link else ""
            ):
                wrong.append(
                    f"call {call.number}: joined {first.primary_ticket_id} as "
                    f"{first.link}, the register says {role!r}"
                )
        elif first.fate == "call_record":
            kind = status.call.kind if status.call else None
            converted = simulation.call_stages.get(first.ticket_id)
            if converted is not None:
                if converted is not Stage.CONVERTED or not is_work_order(status):
                    wrong.append(
                        f"call {call.number}: converted, the call run is {converted.value} "
                        f"and the work order {status.stage.value}"
                    )
            elif kind is not call.kind or status.stage not in CALL_STAGES:
                wrong.append(
                    f"call {call.number}: recorded as {call.kind.value}, the engine has "
                    f"{kind} in {status.stage.value}"
                )
        elif status.call is not None:
            wrong.append(f"call {call.number}: a complaint, the engine has a call record")
        resent = fates[1:]
        if call.resent and [(f.fate, f.ticket_id, f.created) for f in resent] != [
            ("duplicate", first.ticket_id, False)
        ]:
            wrong.append(f"call {call.number}: sent twice, the second was {resent}")
        if not call.resent and resent:
            wrong.append(f"call {call.number}: sent once, recorded {len(fates)} times")
    return [f"{len(wrong)} calls not accounted for: " + _some(wrong)] if wrong else []


def events_accounted(
    simulation: Simulation, statuses: dict[str, TicketStatus], register: Register
) -> list[str]:
    """Every alarm message has the fate what the device did calls for: a message sent
    again is a duplicate, an unreadable one a recorded refusal (a dead letter), a firing
    inside a planned work a silence; any other opens or joins a ticket of the day, or is
    silenced with a reason (a rule says no alarm, nothing open to close)."""
    wrong: list[str] = []
    ledger = simulation.ledger
    for fate in ledger.event_fates:
        outcome = fate.outcome
        if fate.sent_as == "resent":
            ok = outcome == AlarmOutcome.DUPLICATE.value
        elif fate.sent_as == "garbled":
            ok = (
                outcome == AlarmOutcome.REJECTED.value
                and fate.dead_letter_id in register.dead_letters
            )
        elif fate.in_window:
            ok = outcome == AlarmOutcome.IN_WINDOW.value
        elif outcome in TICKETED:
            ok = fate.ticket_id in statuses
        else:
            ok = outcome == AlarmOutcome.SILENCED.value and bool(fate.reason)
        if not ok:
            wrong.append(
                f"{fate.event_id} ({fate.sent_as}, {fate.status}) → {outcome} "
                f"{fate.ticket_id or ''}".strip()
            )
    failures = [f"{len(wrong)} alarm messages not accounted for: " + _some(wrong)] if wrong else []
    if len(ledger.event_fates) != ledger.events:
        failures.append(
            f"alarm messages: {ledger.events} sent, {len(ledger.event_fates)} with a fate"
        )
    recorded = Counter({k: v for k, v in ledger.event_outcomes.items() if k not in _UNRECORDED})
    if register.alarm_events != recorded:
        failures.append(
            f"alarm events: the register counts {dict(sorted(register.alarm_events.items()))}, "
            f"the intake answered {dict(sorted(recorded.items()))}"
        )
    rejected = ledger.event_outcomes.get(AlarmOutcome.REJECTED.value, 0)
    if len(register.dead_letters) != rejected:
        failures.append(f"{rejected} messages refused, {len(register.dead_letters)} dead letters")
    return failures


# Outcomes the alarm log does not keep: a duplicate is not recorded again, a refusal is a
# dead letter.
_UNRECORDED = {AlarmOutcome.DUPLICATE.value, AlarmOutcome.REJECTED.value}


def stage_deadline(status: TicketStatus, check: ClosureCheck | None) -> tuple[str, Any]:
    """The clock an open ticket's stage waits on, and its deadline (None: missing)."""
    stage = status.stage
    if stage is Stage.TRIAGE:
        return "triage", status.triage_deadline
    if stage in (Stage.AWAITING_ACCEPT, Stage.ESCALATED):
        return "accept", status.accept_deadline
    if stage in (Stage.ACCEPTED, Stage.REOPENED) and status.paused:
        return "pause", status.pause_deadline
    if stage in (Stage.ACCEPTED, Stage.REOPENED):
        return "resolve", status.resolve_deadline
    if stage is Stage.VERIFYING:
        return "verify", status.verify_deadline
    if stage is Stage.RECORDED:
        return "reply", status.resolve_deadline
    return stage.value, None


def open_tickets_wait_on_a_clock(
    simulation: Simulation, statuses: dict[str, TicketStatus]
) -> list[str]:
    """Every open ticket has its stage's deadline and a timer of its run still to fire:
    nothing waits for someone with nobody to be told when it does not come. A ticket
    whose resolve clock is paused (挂起) waits on the pause's end; a sensor check on its
    verify deadline (the device's wait, or the hold once it reports normal)."""
    wrong = []
    for ticket_id, status in sorted(statuses.items()):
        if status.stage.is_final:
            continue
        primary = status.incident.primary_ticket_id if status.incident else None
        if status.incident and status.incident.waiting_on_primary:
            # A repeat call waits on the open ticket that carries the work, on its clock.
            carried = statuses.get(primary or "")
            if carried is None or carried.stage.is_final:
                state = carried.stage.value if carried else "not a ticket of the day"
                wrong.append(f"{ticket_id} (waits on {primary}, which is {state})")
            continue
        track = simulation.tracks[ticket_id]
        clock, deadline = stage_deadline(status, simulation.check_of(track, status))
        timers = simulation.timers_at_end.get(ticket_id, 0)
        if deadline is None or timers == 0:
            missing = "no deadline" if deadline is None else "no timer"
            wrong.append(f"{ticket_id} ({status.stage.value}: {clock}, {missing})")
    return [f"{len(wrong)} open tickets wait with no clock: " + _some(wrong)] if wrong else []


def no_notice_lost(simulation: Simulation) -> list[str]:
    """Every notice a ticket's run sent during the day was read; every follow-up it handed
    to a notice group reached its person, or waits in the group's window at midnight;
    every notice names someone."""
    ledger, inbox = simulation.ledger, simulation.inbox
    failures = []
    unread = sorted(
        t for t, count in simulation.sent.items() if ledger.notices_read[t] != count.sent
    )
    if unread:
        failures.append(
            f"{len(unread)} tickets whose notices were not all read: "
            + _some(
                [
                    f"{t} (sent {simulation.sent[t].sent}, read {ledger.notices_read[t]})"
                    for t in unread
                ]
            )
        )
    end = simulation.at(simulation.end)
    handed = {pair: h for pair, h in inbox.handed.items() if h.at < end}  # the day's
    keys = Counter(h.ticket_id for h in {h.key: h for h in handed.values()}.values())
    grouped = {t: c.grouped for t, c in simulation.sent.items() if c.grouped}
    if grouped != dict(keys):
        failures.append(
            f"follow-ups handed to notice groups: the runs scheduled {sum(grouped.values())}, "
            f"the groups were handed {sum(keys.values())}"
        )
    # Sent before midnight: a group whose window ends while the day's end is read sends
    # sooner or later by how fast it is read, and counts as waiting either way.
    missing = unmatched(handed, [d for d in inbox.delivered if d.sent_at < end])
    lost = [h for h in missing if h.at + h.window <= end]
    simulation.held_in_groups = len(missing) - len(lost)
    if lost:
        failures.append(
            f"{len(lost)} of {len(handed)} grouped follow-ups never reached their "
            "person: " + _some([f"{h.kind.value} {h.ticket_id} to {h.person}" for h in lost])
        )
    if any(not notice.recipients for notice in inbox.notices):
        failures.append("notices without recipients")
    return failures


def register_agrees(
    simulation: Simulation, statuses: dict[str, TicketStatus], register: Register
) -> list[str]:
    """The register has a row for every ticket the engine dispatched or recorded, a
    finished ticket's row shows its final stage, and it holds one event row for each of
    row for each of the work orders' escalations, returns, transfers, reopens, pauses,
    first contacts and the like the engine counts or took (REGISTER_EVENTS)."""
    failures = []
    kept = {t for t, s in statuses.items() if s.assignee_id is not None or s.stage.is_final}
    missing = sorted(kept - set(register.stages))
    if missing:
        failures.append(f"{len(missing)} tickets missing from the register: {_some(missing)}")
    disagree = sorted(
        t
        for t, s in statuses.items()
        if s.stage.is_final
        and t not in simulation.moved  # the register's row is as of now, not of midnight
        and t in register.stages
        and register.stages[t] != s.stage.value
    )
    if disagree:
        failures.append(
            f"{len(disagree)} finished tickets whose register row shows another stage: "
            + _some([f"{t} ({register.stages[t]} vs {statuses[t].stage.value})" for t in disagree])
        )
    orders = {t for t, s in statuses.items() if s.stage not in CALL_STAGES}
    end = simulation.at(simulation.end)
    rows = Counter(row.event for row in register.rows if row.ticket_id in orders and row.at < end)
    engine = engine_counts(simulation, statuses)
    register_side = {
        name: sum(rows[event] for event in events) for name, events in REGISTER_EVENTS.items()
    }
    differ = {
        name: (engine[name], register_side[name])
        for name in REGISTER_EVENTS
        if engine[name] != register_side[name]
    }
    if differ:
        failures.append(
            "the engine's counts and the register's rows differ (engine, register): "
            + ", ".join(f"{k} {v}" for k, v in sorted(differ.items()))
        )
    return failures


# Each count of the engine's, and the register rows that must match it one for one.
REGISTER_EVENTS = {
    "escalations": ("escalated", "escalated_after_reopens"),
    "returns": ("returned",),
    "transfers": ("transferred",),
    "district_rulings": ("district_ruling",),
    "reopens": ("reopened",),
    "extensions_requested": ("extension_requested",),
    "extensions": ("extension_approved",),
    "pauses": ("clock_paused",),
    "resumes": ("clock_resumed",),
    "first_contacts": ("citizen_contacted",),
    "triaged": ("triaged",),
    "dismissed": ("dismissed",),
}


def engine_counts(simulation: Simulation, statuses: dict[str, TicketStatus]) -> Counter[str]:
    """The work orders' figures as the engine gives them: the counters and facts of each
    ticket's status, and the updates it took from the simulated people."""
    orders = [s for s in statuses.values() if s.stage not in CALL_STAGES]
    updates = simulation.ledger.updates
    return Counter(
        {
            "escalations": sum(s.escalations for s in orders),
            "returns": sum(s.returns for s in orders),
            "transfers": updates["transfer"],
            "district_rulings": sum(1 for s in orders if s.bound_unit is not None),
            "reopens": sum(s.reopens for s in orders),
            "extensions_requested": updates["request_extension"],
            "extensions": sum(s.extensions for s in orders),
            "pauses": updates["pause_clock"],
            "resumes": updates["resume_clock"],
            "first_contacts": sum(1 for s in orders if s.contacted_at is not None),
            "triaged": updates["classify"],
            "dismissed": sum(1 for s in orders if s.stage is Stage.DISMISSED),
        }
    )


def calls_in_register(calls: list[Call], counts: CallCounts) -> list[str]:
    """The register's call records by kind are what the agents recorded (its complaints
    are every work order, alarms included)."""
    recorded = Counter(call.kind for call in calls)
    records = [kind for kind in CallKind if kind is not CallKind.COMPLAINT]
    by_kind = {kind: counts.by_kind.get(kind, 0) for kind in records}
    wanted = {kind: recorded.get(kind, 0) for kind in records}
    if by_kind != wanted:
        return [
            "calls by kind: the register counts "
            + ", ".join(f"{k.value} {v}" for k, v in by_kind.items())
            + "; the agents recorded "
            + ", ".join(f"{k.value} {v}" for k, v in wanted.items())
        ]
    return []


def bad_photos_refused(simulation: Simulation) -> list[str]:
    photos = simulation.ledger.photos
    bad = photos["bad_far"] + photos["bad_old"]
    if photos["accepted_bad"] or photos["refused"] != bad:
        return [
            f"after-photos that fail the closure rules: {bad} taken, {photos['refused']} refused, "
            f"{photos['accepted_bad']} accepted"
        ]
    return []


def joins(calls: list[Call], simulation: Simulation) -> dict[str, int]:
    """How the repeat calls of the day were linked."""
    links: Counter[str] = Counter()
    for call in calls:
        if call.repeat_of is None:
            continue
        fate = simulation.ledger.call_fates.get(call.number, [None])[0]
        links[(fate.link or LinkKind.NEW).value if fate else "none"] += 1
    return dict(sorted(links.items()))
