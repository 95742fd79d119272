"""Proving a fix before a ticket closes: which check applies, the evidence gathered for it,
and what the evidence says. Pure state, no Temporal."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from cityops.domain.models import (
    CallbackInput,
    RecheckInput,
    ResolveInput,
    ReviewInput,
    TicketIntake,
)
from cityops.domain.stages import CallbackResult, ClosureCheck, ReviewDecision


def effective_check(check: ClosureCheck, intake: TicketIntake) -> ClosureCheck:
    """A check needs its evidence source: no device → the citizen, no camera → a photo."""
    alarm = intake.alarm
    if check is ClosureCheck.SENSOR_RECOVERY and (alarm is None or alarm.sensor_type == "video_ai"):
        return ClosureCheck.CALLBACK if intake.caller_phone else ClosureCheck.PHOTO_REVIEW
    if check is ClosureCheck.VIDEO_RECHECK and (alarm is None or alarm.sensor_type != "video_ai"):
        return ClosureCheck.PHOTO_REVIEW
    return check


def place_of(intake: TicketIntake) -> tuple[float, float] | None:
    if intake.lat is not None and intake.lon is not None:
        return (intake.lat, intake.lon)
    if intake.alarm is not None:
        return (intake.alarm.lat, intake.alarm.lon)
    return None


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance; plenty for 'was the photo taken at the place'."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


@dataclass
class Verification:
    """The evidence of one attempt at a fix; a reopen clears it for the next attempt."""

    resolution: ResolveInput | None = None
    callback: CallbackInput | None = None
    review: ReviewInput | None = None
    recheck: RecheckInput | None = None
    recovered_at: datetime | None = None  # the sensor reported normal
    refired_at: datetime | None = None  # ... and fired again after that
    reopens: int = 0

    def reopen(self) -> None:
        self.reopens += 1
        self.resolution = self.callback = self.review = self.recheck = None
        self.recovered_at = self.refired_at = None

    def sensor_normal(self, at: datetime) -> None:
        self.recovered_at = at
        self.refired_at = None

    def sensor_fired(self, at: datetime) -> None:
        if self.recovered_at is not None:
            self.refired_at = at
            self.recovered_at = None

    @property
    def callback_passed(self) -> bool:
        assert self.callback is not None
        return self.callback.result is not CallbackResult.UNSATISFIED

    @property
    def review_passed(self) -> bool:
        assert self.review is not None
        return self.review.decision is ReviewDecision.APPROVED

    @property
    def recheck_passed(self) -> bool:
        assert self.recheck is not None
        return not self.recheck.still_detected
