"""A suggestion's inbox without Temporal: its points, colour, escalation and who may reply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cityops.activities.testing import DISTRICT, STATION, STREET
from cityops.domain.models import RoutePlan
from cityops.domain.stages import StepKind
from cityops.rules.calls import default_call_rules
from cityops.workflows.call_inbox import ReplyInbox

START = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
ROUTE = RoutePlan(
    street_code="T01", station_code="T01-01", assignee=STATION, escalation_path=[STREET, DISTRICT]
)


def inbox(route: RoutePlan = ROUTE) -> ReplyInbox:
    points = default_call_rules().policy.reply_points()
    instants = [START + timedelta(days=fraction * 5) for fraction, _ in points]
    return ReplyInbox.open(route, points, instants)


def test_the_deadline_is_the_point_at_the_whole_budget() -> None:
    box = inbox()
    assert box.deadline == START + timedelta(days=5)
    assert [p.kind for p in box.ahead()][:2] == [StepKind.REMIND, StepKind.ESCALATE]
    assert box.sla_colour == "green" and not box.overdue


def test_taking_points_turns_it_yellow_then_red_and_overdue() -> None:
    box = inbox()
    remind, escalate, *_ = box.ahead()
    box.take(remind)
    assert box.sla_colour == "yellow" and not box.overdue
    assert box.ahead()[0] == escalate
    box.take(escalate)
    assert box.sla_colour == "red" and box.overdue


def test_escalation_climbs_the_way_up_and_stops_at_the_top() -> None:
    box = inbox()
    assert box.supervisors() == [STREET]
    assert box.escalate() == STREET and box.owner == STREET
    assert box.escalate() == DISTRICT and box.escalations == 2
    assert box.escalate() is None and box.owner == DISTRICT
    assert box.supervisors() == [DISTRICT]  # at the top the owner is supervised
    assert box.may_reply() == [DISTRICT.person_id, STATION.person_id, STREET.person_id]


def test_the_owner_is_never_their_own_way_up() -> None:
    route = ROUTE.model_copy(update={"assignee": DISTRICT, "escalation_path": [DISTRICT]})
    box = inbox(route)
    assert box.way_up == [] and box.escalate() is None
