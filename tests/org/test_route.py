"""Pure routing: tiers, co-handling, unknown places, rules by time and source, roster
fallback, returns with the final ruling, and transfers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from cityops.domain.models import (
    Place,
    PlaceBasis,
    ReturnReason,
    ReturnReasonCode,
    RoutePlan,
    TicketIntake,
)
from cityops.domain.stages import Source, Tier
from cityops.org.directory import OrgDirectory, Shift, UnknownUnitError
from cityops.org.jurisdiction import Jurisdiction
from cityops.org.models import PersonRole
from cityops.org.route import (
    RoutingRulesError,
    load_routing_rules,
    plan_return,
    plan_route,
    plan_transfer,
    plan_triage,
)
from cityops.org.seed import demo_directory
from tests.org.conftest import catalogue_scenario

DAY = datetime.fromisoformat("2026-11-27T10:00+08:00")  # a Friday morning
NIGHT = datetime.fromisoformat("2026-11-27T23:30+08:00")
RULES = load_routing_rules()
ORG = demo_directory()
PLACES = Jurisdiction.from_directory(ORG)
ZHANGJIANG = PLACES.locate("浦东新区张江镇碧波路690号", 31.2051, 121.6003)


def _intake(source: Source = Source.HOTLINE, at: datetime = DAY) -> TicketIntake:
    return TicketIntake(ticket_id="PD-1", source=source, text="…", received_at=at)


def _route(
    scenario_id: str,
    place: Place = ZHANGJIANG,
    source: Source = Source.HOTLINE,
    at: datetime = DAY,
    directory: OrgDirectory = ORG,
) -> RoutePlan:
    scenario = catalogue_scenario(scenario_id)
    return plan_route(scenario, place, _intake(source, at), directory, RULES, at)


def test_village_tier_goes_to_the_station_on_duty_with_street_and_district_above() -> None:
    plan = _route("CA01")  # garbage overflow: village tier
    assert (plan.street_code, plan.station_code) == ("T01", ZHANGJIANG.station_code)
    assert plan.assignee.tier is Tier.VILLAGE
    assert plan.assignee.unit_code == ZHANGJIANG.station_code
    assert plan.assignee.person_id == f"P-{ZHANGJIANG.station_code}-1"  # day shift
    assert plan.assignee.department == "greenery_sanitation"
    assert [a.unit_code for a in plan.escalation_path] == ["T01", "DISTRICT"]
    assert [a.tier for a in plan.escalation_path] == [Tier.STREET, Tier.DISTRICT]
    assert plan.dispatcher == plan.escalation_path[0]
    assert plan.co_handlers == []
    assert plan.rule == "default"


def test_street_tier_goes_to_the_sub_center_with_the_district_above() -> None:
    plan = _route("TR03")  # potholes: street tier
    assert (plan.assignee.tier, plan.assignee.unit_code) == (Tier.STREET, "T01")
    assert plan.assignee.person_id == "P-T01-2"  # the 08:00-16:00 dispatcher
    assert [a.unit_code for a in plan.escalation_path] == ["DISTRICT"]
    assert plan.dispatcher is not None and plan.dispatcher.unit_code == "DISTRICT"


def test_district_tier_goes_to_the_lead_department_and_informs_the_street() -> None:
    plan = _route("PS01")  # gas leak
    assert (plan.assignee.tier, plan.assignee.unit_code) == (Tier.DISTRICT, "gas_utility")
    assert plan.assignee.department == "gas_utility"
    assert plan.assignee.person_id == "P-gas_utility-2"
    assert [a.unit_code for a in plan.escalation_path] == ["DISTRICT"]
    assert [a.unit_code for a in plan.co_handlers] == ["T01"]


def test_every_plan_names_the_top_of_the_chain_above_its_path() -> None:
    """The district center's duty leader on duty at dispatch, then its director: a chain
    climbs past the district dispatcher to named people, never to nobody."""
    for scenario in ("CA01", "TR03", "PS01"):
        plan = _route(scenario)
        roles = [ORG.person(a.person_id).role for a in plan.leaders]
        assert roles == [PersonRole.DUTY_LEADER, PersonRole.DIRECTOR]
        assert plan.leaders[0].person_id == "P-DISTRICT-6"  # the 08:00-16:00 duty leader
    triage = plan_triage(ZHANGJIANG, ORG, NIGHT)
    assert [a.person_id for a in triage.leaders] == ["P-DISTRICT-7", "P-DISTRICT-8"]


def test_unknown_place_goes_to_the_district_center_by_hand_and_keeps_the_ticket() -> None:
    nowhere = Place(basis=PlaceBasis.NONE, reason="no address and no coordinates")
    plan = _route("CA01", nowhere)
    assert plan.street_code is None
    assert (plan.assignee.tier, plan.assignee.unit_code) == (Tier.DISTRICT, "DISTRICT")
    assert plan.escalation_path == []
    assert "district center dispatches by hand" in plan.jurisdiction_reason
    # A district-tier scenario still reaches its department without a place.
    assert _route("PS01", nowhere).assignee.unit_code == "gas_utility"
    assert _route("PS01", nowhere).co_handlers == []


def test_village_tier_without_a_known_station_goes_to_the_street_to_assign_one() -> None:
    plan = _route("CA01", Place(street_code="T01", basis=PlaceBasis.ADDRESS))
    assert (plan.assignee.tier, plan.assignee.unit_code) == (Tier.STREET, "T01")
    assert "work station unknown" in plan.jurisdiction_reason


def test_night_machine_alarms_for_station_matters_go_to_the_street() -> None:
    by_day = _route("CA01", source=Source.IOT, at=DAY)
    by_night = _route("CA01", source=Source.IOT, at=NIGHT)
    hotline_night = _route("CA01", source=Source.HOTLINE, at=NIGHT)
    assert by_day.assignee.tier is Tier.VILLAGE
    assert (by_night.assignee.tier, by_night.rule) == (
        Tier.STREET,
        "night-machine-alarms-go-to-the-street",
    )
    assert hotline_night.assignee.tier is Tier.VILLAGE
    assert hotline_night.assignee.person_id == f"P-{ZHANGJIANG.station_code}-2"  # night shift


def test_p1_at_a_station_also_informs_the_street() -> None:
    plan = _route("SC01")  # elderly person alone: P1, village tier
    assert plan.assignee.tier is Tier.VILLAGE
    assert [a.unit_code for a in plan.co_handlers] == ["T01"]
    assert plan.rule == "p1-at-a-station-also-informs-the-street"


def test_a_roster_gap_at_the_station_falls_back_to_its_dispatcher() -> None:
    station = ZHANGJIANG.station_code
    assert station is not None
    gappy = OrgDirectory(
        ORG.units(),
        [m for u in ORG.units() for m in ORG.members(u.code)],
        [s for u in ORG.units() for s in ORG.shifts(u.code) if s.unit_code != station],
    )
    plan = _route("CA01", directory=gappy)
    assert plan.assignee.unit_code == station
    assert plan.assignee.person_id == f"P-{station}-3"  # the station's dispatcher


def test_a_unit_with_nobody_at_all_hands_the_ticket_to_the_tier_above() -> None:
    station = ZHANGJIANG.station_code
    empty_station = OrgDirectory(
        ORG.units(),
        [m for u in ORG.units() for m in ORG.members(u.code) if u.code != station],
        [Shift("T01", "P-T01-2", None, 0, 1440)],
    )
    plan = _route("CA01", directory=empty_station)
    assert (plan.assignee.unit_code, plan.assignee.person_id) == ("T01", "P-T01-2")
    assert plan.assignee.tier is Tier.STREET
    assert [a.unit_code for a in plan.escalation_path] == ["DISTRICT"]


def test_triage_keeps_the_place_for_the_district_dispatcher() -> None:
    plan = plan_triage(ZHANGJIANG, ORG, DAY)
    assert (plan.assignee.unit_code, plan.street_code, plan.rule) == ("DISTRICT", "T01", "triage")


# --------------------------------------------------------------------------- returns


def test_a_return_naming_the_right_unit_is_rerouted_there() -> None:
    first = _route("CA01")
    reason = ReturnReason(
        code=ReturnReasonCode.NOT_OUR_JURISDICTION, note="在唐镇", suggested_unit="T07-01"
    )
    again = plan_return(first, reason, 0, ORG, RULES, DAY)
    assert (again.street_code, again.station_code) == ("T07", "T07-01")
    assert again.assignee.unit_code == "T07-01"
    assert [a.unit_code for a in again.escalation_path] == ["T07", "DISTRICT"]
    assert again.rule == "return:rerouted-to-T07-01"
    assert "return 1 by" in again.jurisdiction_reason and "在唐镇" in again.jurisdiction_reason


def test_a_return_without_a_known_unit_goes_back_to_the_dispatching_tier() -> None:
    first = _route("CA01")
    for suggested in (None, "NO-SUCH-UNIT"):
        reason = ReturnReason(code=ReturnReasonCode.NOT_OUR_DUTY, suggested_unit=suggested)
        again = plan_return(first, reason, 0, ORG, RULES, DAY)
        assert again.assignee.unit_code == "T01"  # the street sub-center dispatched it
        assert again.assignee.person_id == "P-T01-2"
        assert again.rule == "return:back-to-dispatcher"
        assert again.street_code == "T01"


def test_the_second_return_goes_to_the_district_center_for_a_final_ruling() -> None:
    first = _route("CA01")
    reason = ReturnReason(code=ReturnReasonCode.NOT_OUR_DUTY, suggested_unit="T07-01")
    second = plan_return(plan_return(first, reason, 0, ORG, RULES, DAY), reason, 1, ORG, RULES, DAY)
    assert (second.assignee.tier, second.assignee.unit_code) == (Tier.DISTRICT, "DISTRICT")
    assert second.rule == "return:final-ruling"
    assert second.escalation_path == []
    assert "return 2" in second.jurisdiction_reason


def test_a_return_without_a_time_takes_the_units_dispatcher() -> None:
    first = _route("TR03")
    again = plan_return(first, ReturnReason(code=ReturnReasonCode.NOT_OUR_DUTY), 0, ORG, RULES)
    assert again.assignee.unit_code == "DISTRICT"
    assert ORG.person(again.assignee.person_id).role is PersonRole.DISPATCHER


# --------------------------------------------------------------------------- transfers


def test_transfer_hands_the_ticket_to_the_target_unit_with_the_reason() -> None:
    first = _route("PS01")
    moved = plan_transfer(first, "fire_rescue", "燃气起火，消防牵头", ORG, DAY)
    assert (moved.assignee.unit_code, moved.assignee.department) == ("fire_rescue", "fire_rescue")
    assert moved.rule == "transfer:fire_rescue"
    assert "燃气起火" in moved.jurisdiction_reason
    assert [a.unit_code for a in moved.co_handlers] == ["T01"]  # still the same place


def test_transfer_to_another_street_moves_the_place_and_drops_old_co_handlers() -> None:
    first = _route("SC01")
    moved = plan_transfer(first, "T07", "地址在唐镇", ORG, DAY)
    assert (moved.street_code, moved.station_code) == ("T07", None)
    assert moved.co_handlers == []


def test_transfer_to_an_unknown_unit_is_refused() -> None:
    with pytest.raises(UnknownUnitError, match="T99"):
        plan_transfer(_route("CA01"), "T99", "?", ORG, DAY)


# --------------------------------------------------------------------------- rules file


def test_routing_rules_name_the_field_that_is_wrong(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text("rules:\n  - name: x\n    route: {tier: hamlet}\n", encoding="utf-8")
    with pytest.raises(RoutingRulesError, match=r"routing.yaml: rules.0.route.tier"):
        load_routing_rules(path)
    path.write_text("rules:\n  - name: x\n  - name: x\n", encoding="utf-8")
    with pytest.raises(RoutingRulesError, match="duplicate names"):
        load_routing_rules(path)
