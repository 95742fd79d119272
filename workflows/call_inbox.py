"""A suggestion's inbox: who owes the reply, by when, and who is next up. Pure state,
tested without Temporal (tests/workflows/test_call_inbox.py); CallWorkflow holds one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cityops.domain.models import Assignment, RoutePlan
from cityops.domain.stages import StepKind


@dataclass(frozen=True)
class ReplyPoint:
    """One step of the reply chain at its instant."""

    at: datetime
    fraction: float
    kind: StepKind


@dataclass
class ReplyInbox:
    owner: Assignment
    way_up: list[Assignment]  # the tiers above the first owner, nearest first
    deadline: datetime
    points: list[ReplyPoint]
    earlier_owners: list[Assignment] = field(default_factory=list)
    reached: float = 0.0  # fraction of the budget whose step was last taken
    overdue: bool = False
    escalations: int = 0

    @classmethod
    def open(
        cls,
        route: RoutePlan,
        points: list[tuple[float, StepKind]],
        instants: list[datetime],
    ) -> ReplyInbox:
        """`instants` are the points' instants, in the same order; 1.0 is the deadline."""
        steps = [
            ReplyPoint(at, fraction, kind)
            for (fraction, kind), at in zip(points, instants, strict=True)
        ]
        deadline = next(step.at for step in steps if step.fraction == 1.0)
        path = [a for a in route.escalation_path if a.person_id != route.assignee.person_id]
        return cls(owner=route.assignee, way_up=path, deadline=deadline, points=steps)

    def ahead(self) -> list[ReplyPoint]:
        return [point for point in self.points if point.fraction > self.reached]

    def take(self, point: ReplyPoint) -> None:
        self.reached = point.fraction
        if point.fraction >= 1.0:
            self.overdue = True

    @property
    def sla_colour(self) -> str:
        if self.overdue:
            return "red"
        return "yellow" if self.reached >= 0.8 else "green"

    def escalate(self) -> Assignment | None:
        """Hand the reply to the next tier up; None at the top (the owner stays)."""
        if not self.way_up:
            return None
        self.earlier_owners.append(self.owner)
        self.owner = self.way_up.pop(0)
        self.escalations += 1
        return self.owner

    def supervisors(self) -> list[Assignment]:
        """Who supervises (督办) the reply: the next tier up, or the owner at the top."""
        return [self.way_up[0]] if self.way_up else [self.owner]

    def may_reply(self) -> list[str]:
        """The owner, anyone who owned it before, and the tiers above."""
        people = [self.owner, *self.earlier_owners, *self.way_up]
        return list(dict.fromkeys(a.person_id for a in people))
