"""Who holds a ticket and who stands above them: the route snapshot, the assignee, the
people it was escalated away from, acceptance, returns. Pure state, no Temporal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cityops.domain.models import Assignment, RoutePlan
from cityops.domain.stages import Tier
from cityops.workflows.ladder import PRESSES_AT_TOP, distinct

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
    # Tickets dispatched since "no dead ends" climb the whole ladder, at every tier: the
    # escalation path, then the district center's duty leader and director. Older tickets
    # keep the tier rule (nobody above the district).
    whole_ladder: bool = False
    ruling_pending: bool = False  # the district holds it after the last allowed return
    bound_unit: str | None = None  # the unit a district ruling named: it cannot return it
    presses_at_top: int = 0
    # Who was asked to decide the pending extension when nobody above the assignee may:
    # the district center's duty supervisor, for a district-tier assignee.
    extension_decider: Assignment | None = None

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

    def ladder(self) -> list[Assignment]:
        """Everyone who may hold the ticket on its way up, the route's assignee first."""
        route, _ = self._held()
        return distinct([route.assignee, *route.escalation_path, *route.leaders])

    def above(self) -> list[Assignment]:
        """The people above the assignee, nearest first."""
        route, assignee = self._held()
        if not self.whole_ladder:
            return [
                c for c in route.escalation_path if tier_rank(c.tier) > tier_rank(assignee.tier)
            ]
        ladder = self.ladder()
        ids = [a.person_id for a in ladder]
        position = ids.index(assignee.person_id) if assignee.person_id in ids else 0
        return ladder[position + 1 :]

    def tier_above(self) -> Assignment | None:
        """The nearest person above: on the escalation path in a higher tier, or (whole
        ladder) the next on the ladder up to the director."""
        above = self.above()
        return above[0] if above else None

    def supervisors(self) -> list[Assignment]:
        """Who hears about a late or failed step: the tier above, or the assignee at the top."""
        _, assignee = self._held()
        above = self.tier_above()
        return [above] if above is not None else [assignee]

    def supervisor_ids(self) -> list[str]:
        """Who may review, decide extensions or transfer: the dispatcher and the tiers above
        (with the whole ladder, the duty leader and the director too)."""
        route, _ = self._held()
        people = [route.dispatcher, *route.escalation_path]
        if self.whole_ladder:
            people += route.leaders
        return list(dict.fromkeys(a.person_id for a in people if a is not None))

    def extension_deciders(self, requester: str) -> list[str]:
        """Who may decide the pending extension: the dispatchers and tiers above, and the
        district's duty supervisor when it was asked; never the one who asked (a district
        dispatcher holding the ticket does not approve its own request)."""
        ids = self.supervisor_ids()
        if self.extension_decider is not None:
            ids = [*ids, self.extension_decider.person_id]
            ids = [i for i in dict.fromkeys(ids) if i != requester]
        return ids

    def decider_other_than(self, asker: str, supervisor: Assignment) -> Assignment:
        """Who decides a district-tier assignee's extension: the district's duty
        supervisor, unless that is the asker (an organisation with no supervisor at the
        center names its duty leader instead, who may hold the ticket): then the next one
        up (the director); at the top, the nearest below who may decide (the other
        leader, the district, the dispatcher). The asker only when nobody else is named."""
        if supervisor.person_id != asker:
            return supervisor
        route, _ = self._held()
        below = [*reversed(route.leaders), *reversed(route.escalation_path), route.dispatcher]
        for person in distinct([*self.above(), *(p for p in below if p is not None)]):
            if person.person_id != asker:
                return person
        return supervisor

    def press_top(self) -> bool:
        """The accept chain is at the top: whether to press it again (and count it)."""
        self.presses_at_top += 1
        return self.presses_at_top <= PRESSES_AT_TOP

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
        """The district on the route: who takes over after repeated failed checks and
        rules on returns (the assignee itself when it is the district center)."""
        route, assignee = self._held()
        return route.escalation_path[-1] if route.escalation_path else assignee

    def bound(self, unit_code: str) -> bool:
        """Whether a unit is held by the district's ruling (the unit or one under it)."""
        bound = self.bound_unit
        return bound is not None and (unit_code == bound or unit_code.startswith(f"{bound}-"))

    # ------------------------------------------------------------------ changes

    def allowed_acceptors(self) -> list[str]:
        _, assignee = self._held()
        return [assignee.person_id, *self.previous]

    def accept(self, person_id: str, *, takes_it: bool) -> None:
        """`person_id` accepted. With `takes_it`, someone the ticket passed through on its
        way up who accepts holds it again: they contact, pause, extend and are told (the
        person it escalated to is relieved). Older tickets keep the escalated holder."""
        self.accepted_by = person_id
        if not takes_it:
            return
        held = {a.person_id: a for a in self.ladder()}
        if person_id in held:
            self.assignee = held[person_id]

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
