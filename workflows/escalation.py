"""Turn an escalation plan into the ordered points a clock passes. Pure, sandbox-safe.

Besides the plan's own steps, every clock has two marks of its own: yellow at 80%
and red at 100% of its budget, so the SLA colour and the overdue flag never depend
on how a chain happens to be written.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cityops.domain.models import EscalationPlan, EscalationStep
from cityops.domain.stages import Clock

YELLOW_AT = 0.8
RED_AT = 1.0


class ClockMark(StrEnum):
    YELLOW = "yellow"
    RED = "red"


@dataclass(frozen=True)
class ChainPoint:
    """One moment on a clock: a step of the plan, or a colour mark."""

    fraction: float
    action: EscalationStep | ClockMark

    @property
    def label(self) -> str:
        name = self.action.value if isinstance(self.action, ClockMark) else self.action.kind.value
        return f"{name} at {self.fraction:.0%}"


def chain_points(plan: EscalationPlan, clock: Clock) -> list[ChainPoint]:
    """All points of `clock` in firing order; marks come before steps at the same fraction,
    so a ticket is already red when its supervise step runs."""
    points = [ChainPoint(YELLOW_AT, ClockMark.YELLOW), ChainPoint(RED_AT, ClockMark.RED)]
    for step in plan.for_clock(clock):
        points.extend(ChainPoint(fraction, step) for fraction in step.fire_points())
    return sorted(points, key=lambda p: (p.fraction, not isinstance(p.action, ClockMark)))
