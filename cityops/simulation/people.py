"""Simulated people: how a responder, a dispatcher, the hotline's callback desk and a
camera answer a notice or a fixed ticket. Every decision is drawn from a random stream
named by the seed and what is decided, so the same day replays the same way whatever
order the engine delivers its notices in."""

from __future__ import annotations

import random
from dataclasses import dataclass

from cityops.domain.stages import CallbackResult, Priority


@dataclass(frozen=True)
class Behaviour:
    """The shares and delays of the simulated city (docs/simulation.md)."""

    never_accept: float = 0.06  # a responder who never reacts: the chain climbs
    late_accept: float = 0.15  # reacts, but well after the accept deadline
    return_share: float = 0.05  # 退单: sends a hotline ticket back as not theirs
    extension_share: float = 0.05  # asks for more time after accepting
    extension_approved: float = 0.8
    callback_unsatisfied: float = 0.08  # the callback fails: the ticket reopens
    callback_basically: float = 0.07
    review_rejected: float = 0.1
    recheck_still_there: float = 0.1
    sensor_refires: float = 0.1  # the device fires again after the fix


class People:
    def __init__(self, seed: int, behaviour: Behaviour | None = None) -> None:
        self._seed = seed
        self.behaviour = behaviour or Behaviour()

    def _rng(self, *key: object) -> random.Random:
        return random.Random("|".join(str(part) for part in (self._seed, *key)))

    def accept_delay(self, ticket_id: str, person_id: str, nth: int) -> int | None:
        """Minutes until the person accepts, or None: never."""
        rng = self._rng("accept", ticket_id, person_id, nth)
        roll = rng.random()
        if roll < self.behaviour.never_accept:
            return None
        if roll < self.behaviour.never_accept + self.behaviour.late_accept:
            return rng.randint(20, 180)
        return max(1, round(rng.lognormvariate(1.4, 0.6)))  # median about 4 minutes

    def returns(self, ticket_id: str, person_id: str) -> bool:
        return self._rng("return", ticket_id, person_id).random() < self.behaviour.return_share

    def work_minutes(self, ticket_id: str, priority: Priority | None, nth: int) -> int:
        """How long the fix takes once accepted."""
        rng = self._rng("work", ticket_id, nth)
        spans = {
            Priority.P1: (20, 150),
            Priority.P2: (60, 360),
            Priority.P3: (120, 1200),
            Priority.P4: (240, 2400),
        }
        low, high = spans.get(priority or Priority.P3, (120, 1200))
        return rng.randint(low, high)

    def asks_extension(self, ticket_id: str) -> bool:
        return self._rng("extend", ticket_id).random() < self.behaviour.extension_share

    def decides_extension(self, ticket_id: str) -> tuple[int, bool]:
        rng = self._rng("decide", ticket_id)
        return rng.randint(10, 40), rng.random() < self.behaviour.extension_approved

    def triage(self, ticket_id: str) -> int:
        return self._rng("triage", ticket_id).randint(10, 45)

    def callback(self, ticket_id: str, nth: int) -> tuple[int, CallbackResult]:
        rng = self._rng("callback", ticket_id, nth)
        roll = rng.random()
        if roll < self.behaviour.callback_unsatisfied:
            result = CallbackResult.UNSATISFIED
        elif roll < self.behaviour.callback_unsatisfied + self.behaviour.callback_basically:
            result = CallbackResult.BASICALLY_SATISFIED
        else:
            result = CallbackResult.SATISFIED
        return rng.randint(60, 480), result

    def review(self, ticket_id: str, nth: int) -> tuple[int, bool]:
        rng = self._rng("review", ticket_id, nth)
        return rng.randint(10, 60), rng.random() >= self.behaviour.review_rejected

    def recheck(self, ticket_id: str, nth: int) -> tuple[int, bool]:
        rng = self._rng("recheck", ticket_id, nth)
        return rng.randint(5, 30), rng.random() < self.behaviour.recheck_still_there

    def sensor_after_fix(self, device_id: str, nth: int) -> tuple[int, bool]:
        """Minutes until the device reports, and whether it fires again instead of clearing."""
        rng = self._rng("sensor", device_id, nth)
        return rng.randint(3, 15), rng.random() < self.behaviour.sensor_refires
