"""Who answers for a wait, and who stands above them: the people a chain climbs, holder
first. Pure state, no Temporal. The top of every ladder is a named role (the district
center's director), told again a few times when the chain has nowhere higher to go."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cityops.domain.models import Assignment

PRESSES_AT_TOP = 3  # how often the top of a ladder is pressed before the chain just waits


def distinct(people: Iterable[Assignment]) -> list[Assignment]:
    """In order, each person once (a dispatcher may also be the duty leader)."""
    seen: set[str] = set()
    kept = []
    for person in people:
        if person.person_id not in seen:
            seen.add(person.person_id)
            kept.append(person)
    return kept


@dataclass
class Ladder:
    people: list[Assignment]
    position: int = 0
    presses_at_top: int = field(default=0)

    def __post_init__(self) -> None:
        self.people = distinct(self.people)
        assert self.people, "a ladder needs at least one person"

    @property
    def holder(self) -> Assignment:
        return self.people[self.position]

    def above(self) -> list[Assignment]:
        return self.people[self.position + 1 :]

    @property
    def at_top(self) -> bool:
        return self.position == len(self.people) - 1

    def climb(self) -> Assignment | None:
        """One step up: the new holder, or None at the top."""
        if self.at_top:
            return None
        self.position += 1
        return self.holder

    def press_top(self) -> bool:
        """At the top: whether the top should be pressed again (and counted)."""
        self.presses_at_top += 1
        return self.presses_at_top <= PRESSES_AT_TOP
