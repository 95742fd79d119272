"""OrgRouter: the organisation snapshot, its jurisdiction areas and the routing rules,
loaded once per process and shared by every ticket the worker routes.

Building the areas takes a moment; routing a ticket afterwards is dictionary and
spatial-index reads (well under a millisecond), so a warm worker routes fast.
"""

from __future__ import annotations

from datetime import datetime

from cityops.domain.models import (
    Assignment,
    ContactChannel,
    Place,
    ReturnReason,
    RoutePlan,
    ScenarioRef,
    TicketIntake,
)
from cityops.org.directory import OrgDirectory
from cityops.org.jurisdiction import Jurisdiction
from cityops.org.route import (
    RoutingRules,
    default_routing_rules,
    district_supervisor,
    plan_inbox,
    plan_return,
    plan_route,
    plan_transfer,
    plan_triage,
)


class OrgRouter:
    def __init__(
        self,
        directory: OrgDirectory,
        rules: RoutingRules | None = None,
        jurisdiction: Jurisdiction | None = None,
    ) -> None:
        self.directory = directory
        self.rules = rules or default_routing_rules()
        self.jurisdiction = jurisdiction or Jurisdiction.from_directory(directory)

    @classmethod
    def from_database(cls, url: str | None = None) -> OrgRouter:
        """The organisation in the database; the demo organisation if it has none yet."""
        from cityops.db.engine import get_engine
        from cityops.org.store import load_or_demo

        return cls(load_or_demo(get_engine(url)))

    @classmethod
    def demo(cls) -> OrgRouter:
        from cityops.org.seed import demo_directory

        return cls(demo_directory())

    def locate(self, intake: TicketIntake) -> Place:
        return self.jurisdiction.locate(intake.address, intake.lat, intake.lon)

    def route(
        self, scenario: ScenarioRef, intake: TicketIntake, at: datetime | None = None
    ) -> RoutePlan:
        """Locate and route; rosters are read at `at`, by default when the ticket came in."""
        when = at or intake.received_at
        return plan_route(scenario, self.locate(intake), intake, self.directory, self.rules, when)

    def inbox(self, unit_code: str | None, intake: TicketIntake, at: datetime) -> RoutePlan:
        """Where a suggestion waits for its reply (see plan_inbox)."""
        return plan_inbox(unit_code, self.locate(intake), self.directory, at)

    def triage(self, intake: TicketIntake, at: datetime) -> RoutePlan:
        """Who triages an unclassified ticket: the district center's dispatcher on duty,
        the place located so far kept for them."""
        return plan_triage(self.locate(intake), self.directory, at)

    def district_supervisor(self, at: datetime) -> Assignment:
        return district_supervisor(self.directory, at)

    def return_ticket(
        self, current: RoutePlan, reason: ReturnReason, returns_so_far: int, at: datetime
    ) -> RoutePlan:
        return plan_return(current, reason, returns_so_far, self.directory, self.rules, at)

    def transfer(
        self, current: RoutePlan, target_unit: str, reason: str, at: datetime
    ) -> RoutePlan:
        return plan_transfer(current, target_unit, reason, self.directory, at)

    def channels_for(self, person_id: str) -> list[ContactChannel]:
        return self.directory.channels_for(person_id)
