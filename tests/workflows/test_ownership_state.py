"""Ownership without Temporal: the people above an assignee, escalation and re-routing."""

from __future__ import annotations

from cityops.activities.testing import (
    DIRECTOR,
    DISTRICT,
    DUTY_LEADER,
    DUTY_SUPERVISOR,
    LEADERS,
    STATION,
    STREET,
)
from cityops.domain.models import RoutePlan
from cityops.workflows.ownership import Ownership, describe

VILLAGE_ROUTE = RoutePlan(
    street_code="T01",
    station_code="T01-01",
    assignee=STATION,
    escalation_path=[STREET, DISTRICT],
    dispatcher=STREET,
)


def owned() -> Ownership:
    owner = Ownership()
    owner.take_route(VILLAGE_ROUTE)
    return owner


def test_the_tier_above_a_station_is_its_street_then_the_district() -> None:
    owner = owned()
    assert owner.tier_above() == STREET and owner.supervisors() == [STREET]
    owner.escalate_to(STREET)
    assert owner.tier_above() == DISTRICT and owner.escalations == 1
    owner.escalate_to(DISTRICT)
    assert owner.tier_above() is None and owner.supervisors() == [DISTRICT]


def test_people_escalated_away_from_may_still_accept() -> None:
    owner = owned()
    owner.escalate_to(STREET)
    assert owner.allowed_acceptors() == [STREET.person_id, STATION.person_id]


def test_urge_goes_to_the_assignee_and_the_dispatcher() -> None:
    owner = owned()
    assert owner.urge_targets() == [STATION, STREET]
    assert owner.supervisor_ids() == [STREET.person_id, DISTRICT.person_id]
    assert owner.reviewer() == STREET and owner.district() == DISTRICT


def test_a_reroute_keeps_an_accepted_ticket_accepted_by_the_new_assignee() -> None:
    owner = owned()
    owner.escalate_to(STREET)
    owner.accepted_by = STREET.person_id
    moved = VILLAGE_ROUTE.model_copy(update={"assignee": DISTRICT, "escalation_path": []})
    owner.reroute(moved)
    assert owner.assignee == DISTRICT and owner.previous == []
    assert owner.accepted_by == DISTRICT.person_id


def test_describe_names_unit_person_and_id() -> None:
    assert describe(STATION) == "碧波居委工作站 网格员甲 (P-T01-01-1)"


def test_the_top_of_the_accept_chain_is_pressed_three_times() -> None:
    owner = owned()
    assert [owner.press_top() for _ in range(4)] == [True, True, True, False]


def test_the_district_supervisor_asked_to_decide_may_and_the_asker_may_not() -> None:
    """A district center dispatcher holding the ticket asks for more time: the duty
    supervisor it was sent to decides; nobody approves their own request."""
    owner = Ownership()
    owner.take_route(
        RoutePlan(street_code="T01", station_code=None, assignee=DISTRICT, dispatcher=DISTRICT)
    )
    assert owner.extension_deciders(DISTRICT.person_id) == [DISTRICT.person_id]  # before
    owner.extension_decider = DUTY_SUPERVISOR
    assert owner.extension_deciders(DISTRICT.person_id) == [DUTY_SUPERVISOR.person_id]


def test_an_extension_goes_to_someone_other_than_the_asker_who_may_decide_it() -> None:
    """No supervisor at the center: the organisation names its duty leader, who holds the
    ticket and asks; the director above them is asked instead, and may decide. The
    director asking is answered by the duty leader; the supervisor named, when not the
    asker, is asked as before."""
    owner = Ownership(whole_ladder=True)
    department = DISTRICT.model_copy(update={"person_id": "P-DEPT"})
    owner.take_route(
        RoutePlan(
            street_code="T01",
            station_code=None,
            assignee=department,
            escalation_path=[DISTRICT],
            dispatcher=DISTRICT,
            leaders=LEADERS,
        )
    )
    assert owner.decider_other_than("P-DEPT", DUTY_LEADER) == DUTY_LEADER
    owner.escalate_to(DISTRICT)
    owner.escalate_to(DUTY_LEADER)
    asker = DUTY_LEADER.person_id
    decider = owner.decider_other_than(asker, DUTY_LEADER)
    assert decider == DIRECTOR
    owner.extension_decider = decider
    assert DIRECTOR.person_id in owner.extension_deciders(asker)
    assert asker not in owner.extension_deciders(asker)
    owner.escalate_to(DIRECTOR)  # at the top, with only the director named above the center
    assert owner.decider_other_than(DIRECTOR.person_id, DIRECTOR) == DUTY_LEADER
    alone = Ownership(whole_ladder=True)  # an organisation of one: nobody else to ask
    alone.take_route(RoutePlan(street_code="T01", station_code=None, assignee=DISTRICT))
    assert alone.decider_other_than(DISTRICT.person_id, DISTRICT) == DISTRICT


def test_someone_it_passed_through_who_accepts_holds_it_again() -> None:
    owner = owned()
    owner.escalate_to(STREET)
    owner.escalate_to(DISTRICT)
    owner.accept(STATION.person_id, takes_it=True)
    assert owner.assignee == STATION and owner.accepted_by == STATION.person_id
    older = owned()
    older.escalate_to(STREET)
    older.accept(STATION.person_id, takes_it=False)  # tickets from before: the holder stays
    assert older.assignee == STREET and older.accepted_by == STATION.person_id
