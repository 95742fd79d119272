"""The simulation's invariants fail on what they are about: a message or call whose fate
does not fit what the device or caller did, an open ticket without a clock, a grouped
follow-up that never arrived, a bad photo let through. Fabricated days, no Temporal."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from cityops.domain.models import HistoryEntry, TicketStatus
from cityops.domain.stages import ClosureCheck, NoticeKind, Source, Stage
from cityops.simulation import invariants as inv
from cityops.simulation.inbox import Handed, Inbox
from cityops.simulation.run import EventFate, Ledger, Simulation

AT = datetime(2026, 12, 7, 9, tzinfo=UTC)


def _status(ticket_id: str, stage: Stage, **deadlines: Any) -> TicketStatus:
    return TicketStatus(
        ticket_id=ticket_id,
        stage=stage,
        source=Source.HOTLINE,
        text=None,
        address=None,
        **deadlines,
    )


def _day(ledger: Ledger, **more: Any) -> Simulation:
    return cast(Simulation, SimpleNamespace(ledger=ledger, **more))


def _fate(sent_as: str, outcome: str, ticket: str | None = None, **more: Any) -> EventFate:
    values: dict[str, Any] = {
        "event_id": f"e-{sent_as}-{outcome}",
        "device_id": "D",
        "minute": 600,
        "status": "firing",
        "sent_as": sent_as,
        "in_window": False,
        "outcome": outcome,
        "ticket_id": ticket,
        "reason": None,
        "dead_letter_id": None,
    } | more
    return EventFate(**values)


def test_a_message_must_come_to_what_the_device_did() -> None:
    statuses = {"T1": _status("T1", Stage.CLOSED)}
    good = [
        _fate("event", "new_ticket", "T1"),
        _fate("resent", "duplicate"),
        _fate("garbled", "rejected", dead_letter_id=4),
        _fate("event", "in_window", in_window=True),
        _fate("event", "silenced", reason="construction noise by day"),
    ]
    register = inv.Register(
        dead_letters={4}, alarm_events=Counter({"new_ticket": 1, "in_window": 1, "silenced": 1})
    )
    ledger = Ledger(
        events=len(good), event_fates=good, event_outcomes=Counter(f.outcome for f in good)
    )
    assert inv.events_accounted(_day(ledger), statuses, register) == []
    wrong = [
        _fate("resent", "joined", "T1"),  # a copy must be a duplicate
        _fate("garbled", "rejected", dead_letter_id=9),  # a refusal nobody kept
        _fate("event", "new_ticket", "T404"),  # a ticket that is not there
        _fate("event", "new_ticket", "T1", in_window=True),  # planned works let it through
        _fate("event", "silenced"),  # silenced without a reason
    ]
    ledger = Ledger(
        events=len(wrong), event_fates=wrong, event_outcomes=Counter(f.outcome for f in wrong)
    )
    [accounted, *rest] = inv.events_accounted(_day(ledger), statuses, register)
    assert accounted.startswith("5 alarm messages not accounted for")
    assert rest  # and the register's counts disagree with the intake's answers


def test_an_open_ticket_needs_its_stages_deadline_and_a_timer() -> None:
    later = AT + timedelta(hours=1)
    statuses = {
        "A": _status("A", Stage.TRIAGE, triage_deadline=later),
        "B": _status("B", Stage.ESCALATED, accept_deadline=later),  # no timer left
        "C": _status("C", Stage.VERIFYING, resolve_deadline=later),  # no verify deadline
        "D": _status("D", Stage.RESOLVED, resolve_deadline=later),  # stuck between stages
        "E": _status("E", Stage.CLOSED),
        # 挂起: F waits on its pause's end; G's pause has none (a pause without an end)
        "F": _status(
            "F", Stage.ACCEPTED, resolve_deadline=later, paused=True, pause_deadline=later
        ),
        "G": _status("G", Stage.ACCEPTED, resolve_deadline=later, paused=True),
    }
    day = _day(
        Ledger(),
        tracks=dict.fromkeys(statuses),
        timers_at_end={"A": 1, "B": 0, "C": 2, "D": 1, "F": 1, "G": 1},
        check_of=lambda track, status: ClosureCheck.CALLBACK,
    )
    [failure] = inv.open_tickets_wait_on_a_clock(day, statuses)
    assert failure.startswith("4 open tickets") and all(f"{t} (" in failure for t in "BCDG")


def test_a_grouped_follow_up_lost_before_the_last_window_fails() -> None:
    inbox = Inbox()
    # Handed at 09:00 (its window long over), at 23:30 (its window ends after midnight),
    # and at 00:10 the next day (tomorrow's: not counted).
    handed = (AT, AT + timedelta(hours=14, minutes=30), AT + timedelta(hours=15, minutes=10))
    for key, at in zip(("w/r/1", "w/r/2", "w/r/3"), handed, strict=True):
        inbox.handed[(key, "P-1")] = Handed(
            key, "P-1", "T1", NoticeKind.URGE, "{}", at, timedelta(hours=1), "notices-P-1-x"
        )
    sent = {"T1": SimpleNamespace(sent=0, grouped=2)}
    day = _day(
        Ledger(),
        inbox=inbox,
        sent=sent,
        at=lambda minute: AT - timedelta(hours=9) + timedelta(minutes=minute),
        end=24 * 60,
    )
    [failure] = inv.no_notice_lost(day)
    assert "1 of 2 grouped follow-ups never reached" in failure  # the second may still come
    assert day.held_in_groups == 1


def test_a_bad_photo_let_through_fails() -> None:
    ledger = Ledger(photos=Counter(bad_far=2, bad_old=1, refused=3))
    assert inv.bad_photos_refused(_day(ledger)) == []
    ledger.photos.update(bad_far=1, accepted_bad=1)
    assert inv.bad_photos_refused(_day(ledger))


def test_a_ticket_read_after_midnight_is_taken_as_it_stood_at_midnight() -> None:
    def entry(minutes: int, stage: Stage, event: str) -> HistoryEntry:
        return HistoryEntry(at=AT + timedelta(minutes=minutes), stage=stage, event=event)

    before = [
        entry(0, Stage.AWAITING_ACCEPT, "dispatched"),
        entry(5, Stage.ESCALATED, "escalated"),
        entry(9, Stage.ACCEPTED, "accepted"),
        entry(20, Stage.ACCEPTED, "clock_paused"),
    ]
    read = _status("T1", Stage.CLOSED, escalations=2, paused=False)  # after midnight
    status = inv.at_midnight(read, before)
    assert (status.stage, status.escalations, status.paused) == (Stage.ACCEPTED, 1, True)
    assert inv.at_midnight(read, []) is read  # nothing moved after midnight
