"""Maintenance windows and planned works (silences): what they cover, and whether one
silences an alarm event. Pure; the register is `cityops/db/silences.py`.

A silence names one or more of: a device, a device-id prefix, an area (a circle or a
polygon) and scenarios. An event is silenced when it falls inside the window
[starts_at, ends_at) and matches every one of them that is given. Protected
scenarios (gas, fire: `rules/incidents.yaml`) are never silenced by a window that lacks
a supervisor's explicit override, even if the window covers their device.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from cityops.domain.geo import distance_m, in_polygon
from cityops.domain.limits import (
    DEVICE_ID,
    SCENARIO,
    SCENARIO_ID,
    DeviceId,
    Instant,
    PersonId,
    Reason,
)
from cityops.domain.models import AlarmEvent, Message

LatLon = tuple[Annotated[float, Field(ge=-90, le=90)], Annotated[float, Field(ge=-180, le=180)]]


class Circle(Message):
    shape: Literal["circle"] = "circle"
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(gt=0, le=20_000)

    def contains(self, lat: float, lon: float) -> bool:
        return distance_m((self.lat, self.lon), (lat, lon)) <= self.radius_m


class Polygon(Message):
    shape: Literal["polygon"] = "polygon"
    points: list[LatLon] = Field(min_length=3, max_length=500, description="(lat, lon) vertices")

    def contains(self, lat: float, lon: float) -> bool:
        return in_polygon((lat, lon), self.points)


Area = Annotated[Circle | Polygon, Field(discriminator="shape")]


class SilenceSpec(Message):
    """What a person asks to silence, and why."""

    device_id: DeviceId | None = None
    device_prefix: Annotated[str, StringConstraints(min_length=2), DEVICE_ID] | None = None
    area: Area | None = None
    scenario_ids: list[Annotated[str, StringConstraints(pattern=SCENARIO), SCENARIO_ID]] = Field(
        default_factory=list, max_length=57
    )
    starts_at: Instant
    ends_at: Instant
    reason: Reason
    created_by: PersonId
    override_by: PersonId | None = Field(
        default=None,
        description="The supervisor who allows this window to silence protected scenarios",
    )
    acted_by: str | None = Field(
        default=None,
        max_length=100,
        description="Who made the window on created_by's behalf (the operator at the CLI); "
        "None: created_by made it",
    )

    @model_validator(mode="after")
    def _scoped(self) -> SilenceSpec:
        if not (self.device_id or self.device_prefix or self.area or self.scenario_ids):
            raise ValueError("name a device, a device prefix, an area or a scenario")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def covers(self, event: AlarmEvent, scenario_id: str | None) -> bool:
        """Whether the scope (not the window) covers the event."""
        if self.device_id is not None and event.device_id != self.device_id:
            return False
        if self.device_prefix is not None and not event.device_id.startswith(self.device_prefix):
            return False
        if self.area is not None and not self.area.contains(event.lat, event.lon):
            return False
        return not self.scenario_ids or scenario_id in self.scenario_ids


class SilenceState(StrEnum):
    PENDING = "pending"  # not started yet
    ACTIVE = "active"
    EXPIRED = "expired"  # its end passed
    ENDED = "ended"  # ended early by hand


class Silence(SilenceSpec):
    silence_id: str
    created_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    ended_by: str | None = None
    ended_acted_by: str | None = Field(
        default=None, description="Who ended it on ended_by's behalf (the operator at the CLI)"
    )
    events_silenced: int = 0
    street_code: str | None = Field(
        default=None,
        description="The street whose key made it (listed to that street's keys and the "
        "district's); None: made for the whole district",
    )

    def state(self, at: datetime) -> SilenceState:
        if self.ended_at is not None and self.ended_at <= at:
            return SilenceState.ENDED
        if at < self.starts_at:
            return SilenceState.PENDING
        return SilenceState.ACTIVE if at < self.ends_at else SilenceState.EXPIRED


def protected_refusal(spec: SilenceSpec, protected: frozenset[str]) -> str | None:
    """Why a window naming protected scenarios cannot be created as asked, or None."""
    named = sorted(protected.intersection(spec.scenario_ids))
    if named and spec.override_by is None:
        return (
            f"{', '.join(named)} are P1 safety scenarios: a window silences them only "
            "with a supervisor's explicit override (override_by)"
        )
    return None


def silencing(
    silences: list[Silence],
    event: AlarmEvent,
    scenario_id: str | None,
    at: datetime,
    protected: frozenset[str],
) -> Silence | None:
    """The active silence that swallows this event, or None. `at` is when the event
    happened. Without an override, a protected scenario's event is never swallowed."""
    for silence in silences:
        if silence.state(at) is not SilenceState.ACTIVE or not silence.covers(event, scenario_id):
            continue
        if scenario_id in protected and silence.override_by is None:
            continue
        return silence
    return None
