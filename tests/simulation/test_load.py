"""The simulated day's load and people, without Temporal: seeded, shaped, and the same
whatever order they are asked in."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.history.v1 import (
    HistoryEvent,
    TimerCanceledEventAttributes,
    TimerFiredEventAttributes,
    TimerStartedEventAttributes,
)

from cityops.domain.models import Notice, Recipient
from cityops.domain.stages import CallKind, NoticeKind, Tier
from cityops.rules.calendar import is_working_day
from cityops.rules.calendar_loader import project_working_hours
from cityops.rules.incidents import default_incident_rules
from cityops.rules.load import default_rules
from cityops.service.calls import suggest_kind
from cityops.simulation.inbox import Delivered, Handed, facts_key, readings, unmatched
from cityops.simulation.load import RAIN_END, RAIN_SCENARIOS, RAIN_START, plan_day
from cityops.simulation.people import People
from cityops.simulation.run import mapped_hours, pending_timers, run_day_for
from cityops.workflows.notice_group import grouped

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


def test_the_agents_record_calls_by_kind_and_some_call_again() -> None:
    load = plan_day(DAY, 7, 1.0, default_rules())
    kinds = Counter(c.kind for c in load.calls)
    assert kinds[CallKind.COMPLAINT] > 10 * kinds[CallKind.CONSULTATION] > 0
    assert kinds[CallKind.REFERRAL] > 0 and kinds[CallKind.SUGGESTION] > 0
    # A call no scenario claims is a call record of the kind the call rules suggest, or a
    # complaint the dispatcher will triage; a real problem may first be a consultation.
    for call in load.calls:
        if call.label is None and call.kind is CallKind.CONSULTATION:
            assert suggest_kind(call.text).kind is CallKind.CONSULTATION
        if call.converts_after is not None:
            assert call.kind is CallKind.CONSULTATION and call.label is not None
        if call.kind is CallKind.REFERRAL:
            assert call.referral is not None and call.label is None
    by_number = {c.number: c for c in load.calls}
    repeats = [c for c in load.calls if c.repeat_of is not None]
    assert len(repeats) > 50 and any(c.resent for c in load.calls)
    for again in repeats:
        first = by_number[again.repeat_of or 0]
        assert first.minute < again.minute and first.label == again.label
        assert abs(first.lat - again.lat) < 0.0002 and again.text.endswith(first.text)


def test_people_and_devices_decide_the_new_things_by_their_names() -> None:
    people = People(7)
    tickets = [f"T{n}" for n in range(2000)]
    pauses = [people.pause(t) for t in tickets]
    assert 0.02 < sum(1 for p in pauses if p) / len(tickets) < 0.07
    photos = Counter(people.bad_photo(t, 0) for t in tickets)
    assert photos["far"] > 0 and photos["old"] > 0 and photos[None] > 0.9 * len(tickets)
    messages = Counter(people.device_message(f"e{t}") for t in tickets)
    assert 0 < messages["garbled"] < messages["resent"] < 0.06 * len(tickets)
    assert [People(7).rating(t) for t in tickets[:50]] == [people.rating(t) for t in tickets[:50]]


def _notice(kind: NoticeKind, key: str, person: str, facts: dict[str, str]) -> Notice:
    return Notice(
        kind=kind,
        ticket_id=facts["ticket"],
        idempotency_key=key,
        recipients=[Recipient(person_id=person, name=person, unit_code="T01", tier=Tier.STREET)],
        title="t",
        facts=facts,
        group_key="incident:X",
        group_window=timedelta(minutes=2),
    )


def test_a_follow_up_handed_to_a_group_is_found_alone_or_inside_a_grouped_message() -> None:
    at = datetime(2026, 12, 7, 8, tzinfo=UTC)
    one = _notice(NoticeKind.ESCALATED, "w/r/1", "P-1", {"ticket": "A"})
    two = _notice(NoticeKind.URGE, "w/r/2", "P-1", {"ticket": "B"})
    three = _notice(NoticeKind.URGE, "w/r/3", "P-1", {"ticket": "C"})
    handed = {
        (n.idempotency_key, "P-1"): Handed(
            n.idempotency_key, "P-1", n.ticket_id, n.kind, facts_key(n.facts), at,
            timedelta(minutes=2), "notices-P-1-incident:X",
        )
        for n in (one, two, three)
    }  # fmt: skip
    first_alone = Delivered(one, at)
    together = Delivered(grouped([two], "g/1/2"), at + timedelta(minutes=2))
    assert [h.ticket_id for h in unmatched(handed, [first_alone, together])] == ["C"]
    assert [h.ticket_id for h in unmatched(handed, [])] == ["A", "B", "C"]
    # An item about another person does not stand for this one's.
    other = _notice(NoticeKind.URGE, "w/r/3", "P-2", {"ticket": "C"})
    assert (
        len(unmatched(handed, [first_alone, together, Delivered(grouped([other], "g"), at)])) == 1
    )
    assert [n.ticket_id for n in readings(together)] == ["B"]
