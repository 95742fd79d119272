"""One SLA clock of a ticket: budget and calendar, deadline, pauses, and how far its
escalation chain has walked. Pure state, no Temporal: the workflow asks a clock which
instants to compute, feeds back what the `compute_deadlines` local activity answered, and
walks the points the clock says are still ahead (in the spirit of the Temporal samples'
`UpdatableTimer`, with the chain's points on it).

Every restart, pause and resume starts a new *run* of the clock (`run` counts them): a
walk started on an older run stops at its next wake-up and the workflow walks again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cityops.domain.models import DeadlinesRequest, Pause
from cityops.domain.stages import Clock
from cityops.workflows.escalation import ChainPoint

Schedule = list[tuple[ChainPoint, datetime]]


@dataclass
class SlaClock:
    clock: Clock
    points: list[ChainPoint] = field(default_factory=list)  # the chain's points, firing order
    budget: timedelta = timedelta(0)
    working_time: bool = False
    start: datetime | None = None
    deadline: datetime | None = None
    run: int = 0
    pauses: list[Pause] = field(default_factory=list)
    paused_since: datetime | None = None
    pause_until: datetime | None = None  # when the pause ends (None: a pause without an end)
    pause_reminded: bool = False  # the assignee heard the pause's end is near
    reached: float = -1.0  # the fraction of the last point taken on this run
    _schedule: tuple[int, Schedule] | None = None  # the instants computed at the run's start

    # ------------------------------------------------------------------ starting

    def restart(self, at: datetime, budget: timedelta, working_time: bool) -> None:
        """A new run from `at`: no pauses, no point taken; the instants come next."""
        self.run += 1
        self.start = at
        self.budget = budget
        self.working_time = working_time
        self.pauses = []
        self.reached = -1.0

    def start_fractions(self) -> list[float]:
        """What to compute at a start: the deadline, then every point of the first walk."""
        return [1.0, *(p.fraction for p in self.points)]

    def started(self, instants: list[datetime]) -> None:
        """The instants of `start_fractions()`, in that order."""
        self.deadline = instants[0]
        self._schedule = (self.run, list(zip(self.points, instants[1:], strict=True)))

    def request(self, fractions: list[float]) -> DeadlinesRequest:
        assert self.start is not None, f"{self.clock.value} clock never started"
        return DeadlinesRequest(
            start=self.start,
            budget=self.budget,
            fractions=fractions,
            working_time=self.working_time,
            pauses=self.pauses,
        )

    # ------------------------------------------------------------------ walking

    @property
    def started_at_all(self) -> bool:
        return self.deadline is not None

    def ahead(self) -> list[ChainPoint]:
        return [p for p in self.points if p.fraction > self.reached]

    def known_schedule(self) -> Schedule | None:
        """The points still ahead with the instants computed at this run's start, or None
        when the run moved since (a pause or resume): then they are computed anew."""
        if self._schedule is None or self._schedule[0] != self.run:
            return None
        return [(point, when) for point, when in self._schedule[1] if point.fraction > self.reached]

    def take(self, point: ChainPoint) -> None:
        self.reached = point.fraction

    # ------------------------------------------------------------------ pausing

    @property
    def paused(self) -> bool:
        return self.paused_since is not None

    def pause(self, at: datetime, until: datetime | None = None) -> None:
        self.paused_since = at
        self.pause_until = until
        self.pause_reminded = False
        self.run += 1  # interrupts the walk

    def extend_pause(self, until: datetime) -> None:
        """A later end for the pause: reminded again before it."""
        assert self.paused_since is not None
        self.pause_until = until
        self.pause_reminded = False
        self.run += 1  # the walk waits for the new end

    def pause_reminder_at(self) -> datetime | None:
        """When the assignee hears the pause's end is near: at 80 % of the pause."""
        if self.paused_since is None or self.pause_until is None:
            return None
        return self.paused_since + (self.pause_until - self.paused_since) * 0.8

    def resume(self, at: datetime) -> Pause:
        """Ends the pause; the deadline is computed again with it (`request([1.0])`)."""
        assert self.paused_since is not None
        pause = Pause(start=self.paused_since, end=at)
        self.pauses.append(pause)
        self.paused_since = None
        self.pause_until = None
        return pause

    def moved(self, deadline: datetime) -> None:
        """The deadline after a resume; the walk restarts from the point reached."""
        self.deadline = deadline
        self.run += 1
