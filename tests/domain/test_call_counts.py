"""Call counts from register rows, on a hand-computed day of ten tickets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cityops.domain.call_counts import call_counts, call_kinds, work_order_ids
from cityops.domain.stages import CallKind

DAY = datetime(2026, 11, 28, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    ticket_id: str
    event: str
    stage: str
    at: datetime


def at(hour: float) -> datetime:
    return DAY + timedelta(hours=hour)


ROWS = [
    Row("W1", "dispatched", "awaiting_accept", at(8)),
    Row("W1", "closed", "closed", at(10)),
    Row("C1", "answered", "answered", at(9)),
    Row("C1", "rated_satisfied", "answered", at(9.02)),
    Row("C2", "answered", "answered", at(10)),
    Row("C2", "rated_unsatisfied", "answered", at(10.02)),
    Row("C3", "answered", "answered", at(11)),
    Row("C3", "converted", "converted", at(12)),
    Row("C3", "dispatched", "awaiting_accept", at(12)),
    Row("C3", "closed", "closed", at(30)),
    Row("C4", "answered", "answered", at(13)),
    Row("C4", "rated_basically_satisfied", "answered", at(13.1)),
    Row("R1", "referred", "referred", at(14)),
    Row("S1", "recorded", "recorded", at(15)),
    Row("S1", "escalated", "recorded", at(40)),
    Row("S1", "replied", "replied", at(41)),
    Row("S2", "recorded", "recorded", at(16)),
    Row("W2", "dispatched", "awaiting_accept", at(25)),  # the next day
    Row("C5", "answered", "answered", at(-0.02)),  # the day before, rated in the window
    Row("C5", "rated_satisfied", "answered", at(0.05)),
]


def test_a_day_of_calls_counts_by_kind_and_rates_by_hand() -> None:
    counts = call_counts(ROWS, DAY, DAY + timedelta(days=1))
    assert counts.calls == 8
    assert counts.by_kind == {
        CallKind.COMPLAINT: 1,
        CallKind.CONSULTATION: 4,
        CallKind.REFERRAL: 1,
        CallKind.SUGGESTION: 2,
    }
    assert counts.consultations_answered_on_the_spot == 3  # C1, C2, C4; C3 was converted
    assert counts.answered_on_the_spot_rate == 0.75
    assert counts.converted == 1
    assert counts.referral_rate == 0.125  # 1 of 8
    assert counts.consultations_rated == 3  # C5's rating belongs to the day before
    assert counts.consultation_satisfaction_rate == 0.6667  # C1 and C4 of 3
    assert (counts.suggestions_replied, counts.suggestions_open) == (1, 1)
    assert counts.suggestions_escalated == 1
    assert counts.work_orders == 2  # W1 and the converted C3


def test_an_empty_window_has_no_rates() -> None:
    counts = call_counts(ROWS, DAY + timedelta(days=5), DAY + timedelta(days=6))
    assert counts.calls == 0 and counts.by_kind[CallKind.CONSULTATION] == 0
    assert counts.referral_rate is None
    assert counts.answered_on_the_spot_rate is None
    assert counts.consultation_satisfaction_rate is None


def test_kinds_and_work_orders_by_number_whatever_the_order_of_rows() -> None:
    rows = list(reversed(ROWS))
    kinds = call_kinds(rows)
    assert kinds["C3"] is CallKind.CONSULTATION and kinds["W2"] is CallKind.COMPLAINT
    assert kinds["S1"] is CallKind.SUGGESTION and kinds["R1"] is CallKind.REFERRAL
    assert work_order_ids(rows) == {"W1", "W2", "C3"}
