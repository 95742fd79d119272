"""A wait whose chain pressed its top in vain. Pure state, no Temporal.

Each chain climbs to the top of its ladder (the district center's director) and presses
it `PRESSES_AT_TOP` times, each time with a fresh budget. When that budget runs out once
more, the wait is *stalled*: it keeps its owner (whoever the wait is on), and the district
center's duty supervisor is told at once and again every `supervise_every` (督办, a day by
default), with the owner, until someone acts. The stall ends when the wait does (accepted,
triaged, the evidence came, a ruling) or its clock restarts (a sensor that fires again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cityops.domain.models import Assignment
from cityops.domain.stages import Clock


@dataclass
class Stall:
    clock: Clock | None = None  # the wait that stalled; None: nothing is stalled
    since: datetime | None = None
    supervisor: Assignment | None = None  # who was told last (the duty supervisor then)
    supervisions: int = 0  # 督办 sent during this stall

    @property
    def active(self) -> bool:
        return self.clock is not None

    def on(self, clock: Clock) -> bool:
        return self.clock is clock

    def begin(self, clock: Clock, at: datetime) -> None:
        self.clock, self.since = clock, at
        self.supervisor, self.supervisions = None, 0

    def supervised(self, person: Assignment) -> None:
        self.supervisor = person
        self.supervisions += 1

    def end(self) -> None:
        self.clock = self.since = self.supervisor = None
        self.supervisions = 0
