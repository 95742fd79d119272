"""TicketHistory and AlarmStream without Temporal."""

from __future__ import annotations

from datetime import UTC, datetime

from cityops.domain.models import AlarmEvent
from cityops.domain.stages import Stage
from cityops.workflows.alarm_stream import AlarmStream, Seen
from cityops.workflows.history import (
    ANSWER_DETAIL_CHARS,
    ANSWER_LAST,
    DETAIL_CHARS,
    SHOWN_FIRST,
    SHOWN_LAST,
    TRIMMED_EVENT,
    TicketHistory,
    fitted,
)

T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def event(event_id: str, status: str = "firing") -> AlarmEvent:
    return AlarmEvent(
        event_id=event_id, device_id="D1", sensor_type="gas_detector", metric="lel",
        status=status, lat=31.2, lon=121.6, occurred_at=T0,
    )  # fmt: skip


def test_history_keeps_who_did_what() -> None:
    history = TicketHistory()
    history.note(T0, Stage.INTAKE, "received", detail="hotline")
    history.note(T0, Stage.ACCEPTED, "accepted", by="P-1")
    assert history.events() == ["received", "accepted"]
    assert history.entries[1].by == "P-1"


def test_history_keeps_who_acted_on_whose_behalf() -> None:
    history = TicketHistory()
    history.note(T0, Stage.ACCEPTED, "accepted", by="P-1", acted_by="operator:alice")
    history.note(T0, Stage.ACCEPTED, "clock_paused", by="P-1", acted_by="P-1")
    history.note(T0, Stage.ACCEPTED, "urged", by="chain")
    delegated, own, system = history.entries
    assert (delegated.by, delegated.acted_by) == ("P-1", "operator:alice")
    assert delegated.who == "operator:alice on behalf of P-1"
    assert own.acted_by is None and own.who == "P-1"  # acting for oneself is no delegation
    assert system.who == "chain"


def test_each_event_counts_once_and_a_firing_after_close_is_kept_for_the_next_ticket() -> None:
    stream = AlarmStream()
    assert stream.take(event("e1"), ticket_closed=False) is Seen.FIRING
    assert stream.take(event("e1"), ticket_closed=False) is Seen.DUPLICATE
    assert stream.take(event("e2", "resolved"), ticket_closed=False) is Seen.RESOLVED
    assert stream.take(event("e3", "resolved"), ticket_closed=True) is Seen.AFTER_CLOSE
    assert stream.next_firing is None
    assert stream.take(event("e4"), ticket_closed=True) is Seen.AFTER_CLOSE
    assert stream.take(event("e5"), ticket_closed=True) is Seen.AFTER_CLOSE
    assert stream.next_firing is not None and stream.next_firing.event_id == "e4"
    assert stream.count == 5


def test_a_bounded_history_cuts_long_details_with_a_marker() -> None:
    assert fitted("短") == "短"
    cut = fitted("催" * 5000)
    assert len(cut) == DETAIL_CHARS and cut.endswith("…[cut: 5000 characters in all]")
    bounded, unbounded = TicketHistory(bounded=True), TicketHistory()
    for history in (bounded, unbounded):
        history.note(T0, Stage.ACCEPTED, "urged", by="P-1", detail="催" * 5000)
    assert bounded.entries[0].detail == cut
    assert unbounded.entries[0].detail == "催" * 5000  # tickets from before keep theirs


def test_a_bounded_status_shows_the_first_and_last_rows_and_says_how_many_are_left_out() -> None:
    bounded, unbounded = TicketHistory(bounded=True), TicketHistory()
    for history in (bounded, unbounded):
        for index in range(150):
            history.note(T0, Stage.ACCEPTED, f"e{index}", detail=f"{index} " + "催" * 1000)
    shown = bounded.shown()
    assert [e.event for e in shown[:SHOWN_FIRST]] == [f"e{i}" for i in range(SHOWN_FIRST)]
    assert shown[SHOWN_FIRST].event == TRIMMED_EVENT
    assert shown[SHOWN_FIRST].count == 150 - SHOWN_FIRST - SHOWN_LAST
    assert [e.event for e in shown[SHOWN_FIRST + 1 :]] == [f"e{i}" for i in range(70, 150)]
    answer = bounded.shown(answer=True)
    assert answer[0].event == TRIMMED_EVENT and answer[0].count == 150 - ANSWER_LAST
    assert [e.event for e in answer[1:]] == [f"e{i}" for i in range(130, 150)]
    assert all(len(e.detail) <= ANSWER_DETAIL_CHARS for e in answer)
    assert bounded.entries[-1].detail.endswith("催")  # the row itself keeps its detail
    assert len(unbounded.shown()) == len(unbounded.shown(answer=True)) == 150
