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
    transfer_share: float = 0.3  # a dispatcher urged about an unaccepted ticket transfers it
    late_contact: float = 0.1  # the assignee calls the citizen back only after hours
    pause_share: float = 0.04  # 挂起: the resolve clock is paused while the citizen is away
    bad_photo: float = 0.06  # the first after-photo fails the closure rules (place, time)
    consultation_rated: float = 0.7  # the caller answers the one-question rating
    rating_unsatisfied: float = 0.06
    suggestion_reply_late: float = 0.3  # the department replies only after days
    event_resent: float = 0.03  # a device's message is delivered twice (at-least-once)
    event_garbled: float = 0.01  # a device sends a message the intake cannot read


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

    def transfers(self, ticket_id: str, person_id: str) -> tuple[int, bool]:
        """A dispatcher urged about a ticket its unit has not accepted: minutes until they
        act, and whether they transfer it (转派) to the unit that should have it."""
        rng = self._rng("transfer", ticket_id, person_id)
        return rng.randint(2, 20), rng.random() < self.behaviour.transfer_share

    def contact_delay(self, ticket_id: str, nth: int) -> int:
        """Minutes from acceptance until the assignee reaches the citizen (first contact)."""
        rng = self._rng("contact", ticket_id, nth)
        if rng.random() < self.behaviour.late_contact:
            return rng.randint(240, 1800)
        return rng.randint(5, 90)

    def pause(self, ticket_id: str) -> tuple[int, int] | None:
        """挂起: minutes after acceptance the assignee pauses the resolve clock (the citizen
        is away, a part is on order), and for how long; None: no pause."""
        rng = self._rng("pause", ticket_id)
        if rng.random() >= self.behaviour.pause_share:
            return None
        return rng.randint(10, 60), rng.randint(60, 600)

    def bad_photo(self, ticket_id: str, nth: int) -> str | None:
        """How the responder's first after-photo fails the closure rules, or None: it is
        fine. 'far': taken at the office, 2 km away; 'old': taken before the dispatch."""
        rng = self._rng("photo", ticket_id, nth)
        if rng.random() >= self.behaviour.bad_photo:
            return None
        return rng.choice(("far", "old"))

    def rating(self, ticket_id: str) -> CallbackResult | None:
        """The caller's rating of a consultation at the end of the call; None: not rated."""
        rng = self._rng("rate", ticket_id)
        if rng.random() >= self.behaviour.consultation_rated:
            return None
        if rng.random() < self.behaviour.rating_unsatisfied:
            return CallbackResult.UNSATISFIED
        return (
            CallbackResult.SATISFIED if rng.random() < 0.85 else CallbackResult.BASICALLY_SATISFIED
        )

    def reply_delay(self, ticket_id: str, person_id: str) -> int:
        """Minutes until a department replies to a suggestion in its inbox."""
        rng = self._rng("reply", ticket_id, person_id)
        if rng.random() < self.behaviour.suggestion_reply_late:
            return rng.randint(24 * 60, 6 * 24 * 60)
        return rng.randint(30, 600)

    def device_message(self, event_id: str) -> str | None:
        """What the network does to a device's message: 'resent' (delivered again a
        minute later), 'garbled' (unreadable: the intake refuses it), or None."""
        roll = self._rng("message", event_id).random()
        if roll < self.behaviour.event_garbled:
            return "garbled"
        if roll < self.behaviour.event_garbled + self.behaviour.event_resent:
            return "resent"
        return None

    def pick(self, ticket_id: str, besides: str, among: int) -> int:
        """Which of `among` units a dispatcher hands a ticket on to."""
        return self._rng("pick", ticket_id, besides).randrange(among)
