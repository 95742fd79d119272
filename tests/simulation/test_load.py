"""The simulated day's load and people, without Temporal: seeded, shaped, and the same
whatever order they are asked in."""

from __future__ import annotations

from datetime import date, timedelta

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.history.v1 import (
    HistoryEvent,
    TimerCanceledEventAttributes,
    TimerFiredEventAttributes,
    TimerStartedEventAttributes,
)

from cityops.rules.calendar import is_working_day
from cityops.rules.calendar_loader import project_working_hours
from cityops.rules.incidents import default_incident_rules
from cityops.rules.load import default_rules
from cityops.simulation.load import RAIN_END, RAIN_SCENARIOS, RAIN_START, plan_day
from cityops.simulation.people import People
from cityops.simulation.run import mapped_hours, pending_timers, run_day_for

DAY = date(2026, 12, 7)  # a Monday


def test_same_seed_same_day_different_seed_another() -> None:
    rules = default_rules()
    first = plan_day(DAY, 7, 0.2, rules)
    again = plan_day(DAY, 7, 0.2, rules)
    other = plan_day(DAY, 8, 0.2, rules)
    assert first == again
    assert [c.text for c in first.calls] != [c.text for c in other.calls]


def test_the_day_has_its_shape() -> None:
    load = plan_day(DAY, 7, 1.0, default_rules(), default_incident_rules().protected)
    assert 2000 <= len(load.calls) <= 3000  # several thousand at --scale 1.0
    night = sum(1 for c in load.calls if c.minute < 5 * 60)
    evening = sum(1 for c in load.calls if 18 * 60 <= c.minute < 23 * 60)
    assert evening > 3 * night
    in_rain = [c for c in load.calls if RAIN_START <= c.minute < RAIN_END]
    water = sum(1 for c in in_rain if c.label in RAIN_SCENARIOS)
    dry = [c for c in load.calls if 9 * 60 <= c.minute < 12 * 60]
    dry_water = sum(1 for c in dry if c.label in RAIN_SCENARIOS)
    assert water / len(in_rain) > 3 * dry_water / len(dry)
    assert len({c.street.code for c in load.calls}) == 36
    assert any(e.storm for e in load.episodes)
    assert any(e.false_alarm for e in load.episodes)
    assert any(e.clears_at is None for e in load.episodes)  # needs someone to fix it
    assert [c.number for c in load.calls] == list(range(1, len(load.calls) + 1))


def test_planned_works_never_cover_gas_or_fire() -> None:
    protected = default_incident_rules().protected
    load = plan_day(DAY, 7, 1.0, default_rules(), protected)
    assert len(load.works) == 20
    assert all(w.scenario_id not in protected and w.start < w.end for w in load.works)
    firing_inside = [
        w
        for w in load.works
        for e in load.episodes
        if e.device.device_id == w.device_id and w.start <= e.minute < w.end
    ]
    assert len(firing_inside) == len(load.works)  # each window meets its device firing


def test_people_decide_by_what_is_decided_not_by_when_asked() -> None:
    people = People(7)
    tickets = [f"T{n}" for n in range(300)]
    forward = [people.accept_delay(t, "P-1", 1) for t in tickets]
    backward = [people.accept_delay(t, "P-1", 1) for t in reversed(tickets)][::-1]
    assert forward == backward
    assert People(7).callback("T1", 0) == people.callback("T1", 0)
    never = sum(1 for d in forward if d is None) / len(forward)
    assert 0.02 < never < 0.12  # about Behaviour.never_accept
    prompt = sorted(d for d in forward if d is not None and d < 20)
    assert prompt[len(prompt) // 2] <= 6  # most accept within minutes
    assert [People(8).accept_delay(t, "P-1", 1) for t in tickets] != forward


def test_the_run_day_keeps_the_weekday_and_the_calendar() -> None:
    base = project_working_hours()
    for server_today in (date(2026, 12, 3), date(2027, 1, 29), date(2026, 9, 30)):
        run_day = run_day_for(DAY, server_today)
        assert run_day > server_today and run_day.weekday() == DAY.weekday()
        hours = mapped_hours(DAY, run_day, base)
        for offset in range(0, 40):
            assert is_working_day(run_day + timedelta(days=offset), hours) == is_working_day(
                DAY + timedelta(days=offset), base
            )
    # Around the National Day: a holiday week mapped onto an ordinary one.
    holiday = date(2026, 10, 1)
    hours = mapped_hours(holiday, date(2027, 3, 4), base)
    assert not is_working_day(date(2027, 3, 4), hours)


def _event(seconds: int, **attributes: object) -> HistoryEvent:
    return HistoryEvent(event_time=Timestamp(seconds=seconds), **attributes)  # type: ignore[arg-type]


def test_pending_timers_are_those_neither_fired_nor_cancelled() -> None:
    events = [
        _event(
            100,
            timer_started_event_attributes=TimerStartedEventAttributes(
                timer_id=str(n), start_to_fire_timeout=Duration(seconds=60 * n)
            ),
        )
        for n in (1, 2, 3)
    ]
    events.append(_event(160, timer_fired_event_attributes=TimerFiredEventAttributes(timer_id="1")))
    events.append(
        _event(170, timer_canceled_event_attributes=TimerCanceledEventAttributes(timer_id="2"))
    )
    [due] = pending_timers(events)
    assert due.timestamp() == 100 + 180
