"""The dispatch activities' new answers: who triages, the callback's day rule, incidents."""

from __future__ import annotations

import shutil
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from cityops.activities.dispatch import DispatchActivities, end_of_next_working_day, incident_key
from cityops.activities.testing import DISTRICT, LEADERS, STREET, FakeRouter
from cityops.domain.models import (
    AlarmEvent,
    IncidentLink,
    NextWorkingDayRequest,
    PlanRequest,
    RoutePlan,
    TicketIntake,
    TriageRequest,
    VerifyWait,
)
from cityops.domain.stages import ClosureCheck, LinkKind, Source
from cityops.domain.zones import UTC8
from cityops.rules.calendar import WorkingHours
from cityops.rules.load import RULES_DIR, RuleSet, load_rules
from cityops.rules.schema import Grouping

HOURS = WorkingHours()


@pytest.mark.parametrize(
    ("start", "due"),
    [
        ("2026-11-26T15:00:00+08:00", "2026-11-27T17:30:00+08:00"),  # Thursday → Friday
        ("2026-11-27T15:00:00+08:00", "2026-11-30T17:30:00+08:00"),  # Friday → Monday
        ("2026-11-28T10:00:00+08:00", "2026-11-30T17:30:00+08:00"),  # Saturday → Monday
        ("2026-11-26T07:00:00+08:00", "2026-11-27T17:30:00+08:00"),  # before work → next day
        ("2026-11-26T23:00:00+00:00", "2026-11-30T17:30:00+08:00"),  # Friday 07:00 Shanghai
    ],
)
def test_a_callback_is_due_by_the_end_of_the_next_working_day(start: str, due: str) -> None:
    assert end_of_next_working_day(datetime.fromisoformat(start), HOURS) == datetime.fromisoformat(
        due
    )


async def test_the_budget_to_that_end_is_working_time_under_a_day() -> None:
    activities = DispatchActivities(router=FakeRouter(), hours=HOURS)
    start = datetime.fromisoformat("2026-11-26T16:10:00.123+08:00")
    answer = await ActivityEnvironment().run(
        activities.next_working_day_budget, NextWorkingDayRequest(start=start)
    )
    assert answer.deadline.astimezone(UTC8).time() == time(17, 30)
    assert answer.budget == timedelta(hours=9, minutes=19, seconds=59, microseconds=877000)


# A pinned instant, so no plan depends on the hour or weekday the tests run at.
A_WEDNESDAY_MORNING = datetime.fromisoformat("2026-11-25T10:00:00+08:00")


async def test_triage_goes_to_the_district_dispatcher_with_the_leaders_above() -> None:
    activities = DispatchActivities(router=FakeRouter(), hours=HOURS)
    intake = TicketIntake(
        ticket_id="T", source=Source.HOTLINE, received_at=A_WEDNESDAY_MORNING, text="喂"
    )
    plan = await ActivityEnvironment().run(
        activities.plan_triage, TriageRequest(intake=intake, at=intake.received_at)
    )
    assert plan.route.assignee == DISTRICT and plan.route.leaders == LEADERS
    assert plan.within == timedelta(minutes=30) and plan.escalation.chain == "triage"


def test_alarm_tickets_of_a_grouped_scenario_share_an_incident_key() -> None:
    event = AlarmEvent.model_validate(
        {
            "event_id": "e", "device_id": "WL-1", "sensor_type": "water_level",
            "metric": "depth_cm", "status": "firing", "lat": 31.2, "lon": 121.6,
            "occurred_at": "2026-11-26T10:00:00+08:00", "attributes": {"site": "路口"},
        }
    )  # fmt: skip
    alarm = TicketIntake(
        ticket_id="A", source=Source.IOT, received_at=event.occurred_at, alarm=event
    )
    route = RoutePlan(street_code="T01", station_code="T01-02", assignee=STREET)
    by_street = Grouping(by="street", window=timedelta(hours=1))
    assert incident_key("EM01", by_street, alarm, route) == "EM01/street:T01"
    by_site = Grouping(by="site", window=timedelta(hours=1))
    assert incident_key("CA01", by_site, alarm, route) == "CA01/site:路口"
    assert incident_key("EM01", None, alarm, route) is None
    hotline = alarm.model_copy(update={"alarm": None})
    assert incident_key("EM01", by_street, hotline, route) is None
    linked = hotline.model_copy(
        update={"incident": IncidentLink(incident_id="IN7", kind=LinkKind.REPEAT_CALL)}
    )
    assert incident_key("PS03", None, linked, route) == "incident:IN7"


async def test_a_scenario_refines_its_verification_wait_in_its_yaml(tmp_path: Path) -> None:
    """`verify_within` in a scenario's settings reaches the dispatch plan the ticket
    follows: its photo review waits 30 minutes, not sla.yaml's 4 working hours."""
    rules_dir = tmp_path / "scenarios"
    shutil.copytree(RULES_DIR, rules_dir)
    path = rules_dir / "PS.yaml"
    text = path.read_text(encoding="utf-8")
    block = text.index("  - id: PS04")
    check = text.index("    closure_check: photo_review\n", block)
    text = text[:check] + "    settings:\n      verify_within: 30m\n" + text[check:]
    path.write_text(text, encoding="utf-8")
    refined, plain = (
        load_rules(rules_dir, corpus=None, model=None),
        load_rules(corpus=None, model=None),
    )

    async def photo_wait(rules: RuleSet) -> VerifyWait:
        activities = DispatchActivities(router=FakeRouter(), hours=HOURS, rules=rules)
        intake = TicketIntake(
            ticket_id="V", source=Source.HOTLINE, received_at=A_WEDNESDAY_MORNING,
            text="外墙瓷砖脱落", service_code="PS04",
        )  # fmt: skip
        env = ActivityEnvironment()
        classification = await env.run(activities.classify_ticket, intake)
        plan = await env.run(
            activities.plan_dispatch,
            PlanRequest(intake=intake, classification=classification, at=intake.received_at),
        )
        return plan.verify_waits[ClosureCheck.PHOTO_REVIEW]

    assert (await photo_wait(refined)).within == timedelta(minutes=30)
    assert (await photo_wait(plain)).within == timedelta(hours=4)
