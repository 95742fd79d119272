from __future__ import annotations

from datetime import datetime

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from cityops.activities.route import RoutingActivities
from cityops.domain.models import (
    ReturnReason,
    ReturnReasonCode,
    ReturnRequest,
    RoutePlan,
    TicketIntake,
    TransferRequest,
)
from cityops.domain.stages import Source, Tier
from cityops.org.routing import OrgRouter
from tests.org.conftest import catalogue_scenario

AT = datetime.fromisoformat("2026-11-27T10:00+08:00")


ROUTER = OrgRouter.demo()


@pytest.fixture(scope="module")
def activities() -> RoutingActivities:
    return RoutingActivities(ROUTER)


def _first_route(address: str | None, lat: float | None, lon: float | None) -> RoutePlan:
    """The route plan_dispatch takes for a CA01 ticket, through the same router."""
    intake = TicketIntake(
        ticket_id="PD-1", source=Source.HOTLINE, text="垃圾满了", address=address,
        lat=lat, lon=lon, received_at=AT,
    )  # fmt: skip
    return ROUTER.route(catalogue_scenario("CA01"), intake, AT)


def test_first_route_locates_by_coordinates_and_routes_to_a_station() -> None:
    plan = _first_route(None, 31.2051, 121.6003)
    assert plan.street_code == "T01"
    assert plan.assignee.tier is Tier.VILLAGE
    assert plan.assignee.unit_code == plan.station_code


def test_return_and_transfer_activities_replan_the_ticket(activities: RoutingActivities) -> None:
    env = ActivityEnvironment()
    plan = _first_route("浦东新区唐镇唐陆路1号", None, None)
    assert plan.assignee.unit_code == "T07"  # station unknown: the sub-center assigns one
    returned = env.run(
        activities.return_ticket,
        ReturnRequest(
            current=plan,
            reason=ReturnReason(code=ReturnReasonCode.NOT_OUR_JURISDICTION, suggested_unit="T01"),
            returns_so_far=0,
            at=AT,
        ),
    )
    assert returned.assignee.unit_code == "T01"
    moved = env.run(
        activities.transfer_ticket,
        TransferRequest(current=returned, target_unit="urban_mgmt", reason="执法", at=AT),
    )
    assert moved.assignee.unit_code == "urban_mgmt"


def test_an_unknown_unit_fails_the_activity_for_good(activities: RoutingActivities) -> None:
    plan = _first_route(None, 31.2051, 121.6003)
    with pytest.raises(ApplicationError) as caught:
        ActivityEnvironment().run(
            activities.transfer_ticket,
            TransferRequest(current=plan, target_unit="T99", reason="?", at=AT),
        )
    assert caught.value.non_retryable
    assert caught.value.type == "UnknownUnitError"
