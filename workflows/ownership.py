"""Who holds a ticket and who stands above them: the route snapshot, the assignee, the
people it was escalated away from, acceptance, returns. Pure state, no Temporal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cityops.domain.models import Assignment, RoutePlan
from cityops.domain.stages import Tier

_RANK = {Tier.VILLAGE: 0, Tier.STREET: 1, Tier.DISTRICT: 2}


def tier_rank(tier: Tier) -> int:
    return _RANK[tier]


def describe(assignment: Assignment) -> str:
    return f"{assignment.unit_name} {assignment.person_name} ({assignment.person_id})"


@dataclass
class Ownership:
    route: RoutePlan | None = None  # the dispatch plan's route, replaced by returns and transfers
    assignee: Assignment | None = None
    previous: list[str] = field(default_factory=list)  # escalated away from; may still accept
    dispatched_at: datetime | None = None
    accepted_by: str | None = None
    escalations: int = 0
    returns: int = 0

    @property
    def dispatched(self) -> bool:
        return self.assignee is not None

    def take_route(self, route: RoutePlan) -> None:
        self.route = route
        self.assignee = route.assignee

    def _held(self) -> tuple[RoutePlan, Assignment]:
        assert self.route is not None and self.assignee is not None, "not dispatched yet"
        return self.route, self.assignee

    # ------------------------------------------------------------------ the people above

    def tier_above(self) -> Assignment | None:
        """The nearest person on the route's escalation path in a higher tier."""
        route, assignee = self._held()
        for candidate in route.escalation_path:
            if tier_rank(candidate.tier) > tier_rank(assignee.tier):
                return candidate
        return None

    def supervisors(self) -> list[Assignment]:
        """Who hears about a late or failed step: the tier above, or the assignee at the top."""
        _, assignee = self._held()
        above = self.tier_above()
        return [above] if above is not None else [assignee]

    def supervisor_ids(self) -> list[str]:
        """Who may review, decide extensions or transfer: the dispatcher and the tiers above."""
        route, _ = self._held()
        people = [route.dispatcher, *route.escalation_path]
        return list(dict.fromkeys(a.person_id for a in people if a is not None))

    def urge_targets(self) -> list[Assignment]:
        """催办 goes to the assignee and through the ticket's dispatcher (or the tier above
        when the assignee is the dispatcher)."""
        route, assignee = self._held()
        dispatcher = route.dispatcher
        if dispatcher is None or dispatcher.person_id == assignee.person_id:
            return list(dict.fromkeys([assignee, *self.supervisors()]))
        return [assignee, dispatcher]

    def reviewer(self) -> Assignment:
        """Who reviews the after-photo: the dispatcher, else the nearest tier above."""
        route, _ = self._held()
        return route.dispatcher or route.escalation_path[0]

    def district(self) -> Assignment:
        """The top of the route: who takes over after repeated failed checks."""
        route, _ = self._held()
        return route.escalation_path[-1]

    # ------------------------------------------------------------------ changes

    def allowed_acceptors(self) -> list[str]:
        _, assignee = self._held()
        return [assignee.person_id, *self.previous]

    def escalate_to(self, target: Assignment) -> None:
        _, assignee = self._held()
        self.previous.append(assignee.person_id)
        self.assignee = target
        self.escalations += 1

    def reroute(self, route: RoutePlan) -> None:
        """A return or transfer: the new route's assignee holds it. An accepted ticket stays
        accepted (the dispatcher reassigned it); otherwise the new assignee must accept."""
        self.take_route(route)
        self.previous = []
        if self.accepted_by is not None:
            self.accepted_by = route.assignee.person_id
