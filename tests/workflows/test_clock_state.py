"""SlaClock without Temporal: starts, the schedule of its first walk, pauses and resumes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cityops.domain.models import EscalateStep, EscalationPlan, RemindStep
from cityops.domain.stages import Clock
from cityops.workflows.clock import SlaClock
from cityops.workflows.escalation import ClockMark, chain_points

T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
PLAN = EscalationPlan(
    steps=[RemindStep(clock=Clock.ACCEPT, at=0.5), EscalateStep(clock=Clock.ACCEPT, at=1.0)]
)


def accept_clock() -> SlaClock:
    clock = SlaClock(Clock.ACCEPT, chain_points(PLAN, Clock.ACCEPT))
    clock.restart(T0, timedelta(minutes=10), working_time=False)
    return clock


def instants(clock: SlaClock, fractions: list[float]) -> list[datetime]:
    """What compute_deadlines answers on the wall clock."""
    assert clock.start is not None
    start = clock.start
    return [start + clock.budget * f for f in fractions]


def test_a_start_asks_for_the_deadline_and_every_point_of_the_first_walk() -> None:
    clock = accept_clock()
    fractions = clock.start_fractions()
    assert fractions[0] == 1.0 and sorted(fractions[1:]) == fractions[1:]
    request = clock.request(fractions)
    assert (request.start, request.budget, request.working_time) == (T0, clock.budget, False)
    clock.started(instants(clock, fractions))
    assert clock.deadline == T0 + timedelta(minutes=10)
    schedule = clock.known_schedule()
    assert schedule is not None
    labels = [(p.label, when - T0) for p, when in schedule]
    assert labels[0] == ("remind at 50%", timedelta(minutes=5))
    assert ("yellow at 80%", timedelta(minutes=8)) in labels


def test_taking_a_point_leaves_only_later_points_ahead() -> None:
    clock = accept_clock()
    clock.started(instants(clock, clock.start_fractions()))
    first = clock.ahead()[0]
    clock.take(first)
    schedule = clock.known_schedule()
    assert schedule is not None and all(p.fraction > first.fraction for p, _ in schedule)
    assert all(p.fraction > first.fraction for p in clock.ahead())


def test_marks_come_before_steps_at_the_same_fraction() -> None:
    at_deadline = [p for p in accept_clock().points if p.fraction == 1.0]
    assert at_deadline[0].action is ClockMark.RED
    assert not isinstance(at_deadline[1].action, ClockMark)


def test_a_pause_moves_the_run_on_so_the_schedule_is_computed_anew() -> None:
    clock = accept_clock()
    clock.started(instants(clock, clock.start_fractions()))
    run = clock.run
    clock.pause(T0 + timedelta(minutes=2))
    assert clock.paused and clock.run == run + 1 and clock.known_schedule() is None
    pause = clock.resume(T0 + timedelta(minutes=7))
    assert not clock.paused and pause.end - pause.start == timedelta(minutes=5)
    assert clock.request([1.0]).pauses == [pause]
    clock.moved(T0 + timedelta(minutes=15))
    assert clock.deadline == T0 + timedelta(minutes=15) and clock.run == run + 2


def test_a_restart_forgets_pauses_and_points_taken() -> None:
    clock = accept_clock()
    clock.started(instants(clock, clock.start_fractions()))
    clock.take(clock.ahead()[0])
    clock.pause(T0)
    clock.resume(T0 + timedelta(minutes=1))
    clock.restart(T0 + timedelta(minutes=20), timedelta(minutes=5), working_time=True)
    assert clock.pauses == [] and clock.reached < 0 and clock.known_schedule() is None
    assert len(clock.ahead()) == len(clock.points)
