"""The city's vital signs (城市生命体征): the indicator catalogue in rules/indicators/*.yaml.

Each indicator has an id, a Chinese and English name, a dimension (safe / clean /
orderly), a unit, how it is computed from the register and the alarm log (`compute`, a
discriminated union on `kind`), and green / yellow / red thresholds, optionally tighter for
one street. `load_indicators()` validates every file like the scenario rules do: an error
names the file, the indicator and the field. The computation lives in cityops/vitals.
"""

from __future__ import annotations

import csv
from datetime import timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from cityops.domain.stages import Dimension, Source
from cityops.rules.durations import parse_duration
from cityops.rules.load import CATALOGUE, RuleFileError, _read_yaml

INDICATORS_DIR = Path(__file__).parent / "indicators"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Better(StrEnum):
    LOWER = "lower"  # a count of problems: more is worse
    HIGHER = "higher"  # a rate of work done well: less is worse


class Thresholds(_Strict):
    """Where yellow and red begin. For `better: lower` a value at or above `red` is red;
    for `better: higher` a value at or below `red` is red."""

    yellow: float
    red: float

    def check(self, better: Better) -> None:
        if better is Better.LOWER and self.yellow > self.red:
            raise ValueError("yellow must not be above red when lower is better")
        if better is Better.HIGHER and self.yellow < self.red:
            raise ValueError("yellow must not be below red when higher is better")


class _Compute(_Strict):
    @field_validator("window", mode="after", check_fields=False)
    @classmethod
    def _window(cls, value: str) -> str:
        parse_duration(value)
        return value

    def scenario_ids(self) -> list[str]:
        scenario = getattr(self, "scenario", None)
        return [scenario] if scenario else []


class _TicketScope(_Compute):
    scenario: str | None = Field(default=None, min_length=4, max_length=8)
    dimension: Dimension | None = None


class OpenTickets(_TicketScope):
    """Work orders open now (triage included)."""

    kind: Literal["open_tickets"] = "open_tickets"


class OverdueTickets(_TicketScope):
    """Work orders being worked past their resolve deadline, clock running."""

    kind: Literal["overdue_tickets"] = "overdue_tickets"


class StalledTickets(_TicketScope):
    """Work orders open now whose wait is stalled: its chain pressed the top (the director)
    in vain and the district center's duty supervisor is told daily (督办)."""

    kind: Literal["stalled_tickets"] = "stalled_tickets"


class NewTickets(_TicketScope):
    """Work orders received in the last `window`."""

    kind: Literal["new_tickets"] = "new_tickets"
    window: str = "24h"
    source: Source | None = None


class RepeatPlaces(_TicketScope):
    """Places (the address as received) with at least `min_tickets` work orders of one
    scenario received in the last `window`: a problem that keeps coming back."""

    kind: Literal["repeat_places"] = "repeat_places"
    window: str = "7d"
    min_tickets: int = Field(default=2, ge=2, le=100)


class _AlarmScope(_Compute):
    sensor_type: str = Field(min_length=1, max_length=64)
    metric: str = Field(min_length=1, max_length=64)
    detection: str | None = Field(default=None, max_length=64)


class AlarmsFiring(_AlarmScope):
    """Devices whose latest event for the metric is firing (an alarm not yet resolved),
    among events of the last `window`."""

    kind: Literal["alarms_firing"] = "alarms_firing"
    window: str = "7d"


class AlarmsRefiring(_AlarmScope):
    """Devices that fired at least `min_firings` times in the last `window`."""

    kind: Literal["alarms_refiring"] = "alarms_refiring"
    window: str = "24h"
    min_firings: int = Field(default=3, ge=2, le=1000)


class AlarmPeak(_AlarmScope):
    """The worst value a firing event reported in the last `window` (the highest, or the
    lowest with `worst: min`, e.g. dissolved oxygen)."""

    kind: Literal["alarm_peak"] = "alarm_peak"
    window: str = "24h"
    worst: Literal["max", "min"] = "max"


class KpiValue(_Compute):
    """A KPI (docs/kpis.md) over the tickets received in the last `window`."""

    kind: Literal["kpi"] = "kpi"
    field: Literal[
        "closed_loop_rate",
        "accepted_on_time_rate",
        "resolved_on_time_rate",
        "satisfaction_rate",
        "proactive_discovery_rate",
        "reopen_rate",
        "median_minutes_to_accept",
        "median_minutes_to_resolve",
    ]
    window: str = "7d"
    dimension: Dimension | None = None


Compute = Annotated[
    OpenTickets
    | OverdueTickets
    | StalledTickets
    | NewTickets
    | RepeatPlaces
    | AlarmsFiring
    | AlarmsRefiring
    | AlarmPeak
    | KpiValue,
    Field(discriminator="kind"),
]


class Indicator(_Strict):
    id: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    name_zh: str = Field(min_length=1, max_length=60)
    name_en: str = Field(min_length=1, max_length=120)
    dimension: Dimension
    unit: str = Field(min_length=1, max_length=16)
    compute: Compute
    better: Better = Better.LOWER
    thresholds: Thresholds
    street_thresholds: Thresholds | None = Field(
        default=None, description="For one street; the district's thresholds when absent"
    )

    @field_validator("thresholds", "street_thresholds", mode="after")
    @classmethod
    def _thresholds_agree(cls, value: Thresholds | None, info: ValidationInfo) -> Thresholds | None:
        better = info.data.get("better", Better.LOWER)
        if value is not None:
            value.check(better)
        return value

    def window(self) -> timedelta | None:
        window = getattr(self.compute, "window", None)
        return parse_duration(window) if window is not None else None


class IndicatorFile(_Strict):
    family: str = Field(min_length=1, max_length=64)
    description: str = ""
    indicators: list[Indicator] = Field(min_length=1)


class IndicatorFileError(RuleFileError):
    """An indicator file is wrong: the message names the file, the indicator and the field."""

    def __init__(
        self, file: Path | str, problem: str, indicator: str | None = None, field: str | None = None
    ) -> None:
        super().__init__(file, problem, field=field)
        where = [str(file)] + ([f"indicator {indicator}"] if indicator else [])
        where += [f"field {field}"] if field else []
        self.args = (f"{': '.join(where)}: {problem}",)
        self.indicator = indicator


def _error(path: Path, data: Any, exc: ValidationError) -> RuleFileError:
    error = exc.errors()[0]
    loc = list(error["loc"])
    indicator = None
    if len(loc) >= 2 and loc[0] == "indicators" and isinstance(loc[1], int):
        try:
            indicator = str(data["indicators"][loc[1]].get("id", f"#{loc[1] + 1}"))
        except (KeyError, IndexError, TypeError, AttributeError):
            indicator = f"#{loc[1] + 1}"
        loc = loc[2:]
    field = ".".join(str(part) for part in loc) or None
    message = str(error["msg"]).removeprefix("Value error, ")
    return IndicatorFileError(path, message, indicator, field)


def _catalogue_ids() -> set[str]:
    with CATALOGUE.open(encoding="utf-8") as handle:
        return {row["id"] for row in csv.DictReader(handle)}


def load_indicators(directory: Path = INDICATORS_DIR) -> list[Indicator]:
    """Every indicator of every file, validated; ids unique across files."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise IndicatorFileError(directory, "no indicator files (*.yaml)")
    known_scenarios = _catalogue_ids()
    indicators: list[Indicator] = []
    seen: dict[str, str] = {}
    for path in files:
        data, _ = _read_yaml(path)
        try:
            parsed = IndicatorFile.model_validate(data)
        except ValidationError as exc:
            raise _error(path, data, exc) from exc
        for indicator in parsed.indicators:
            if indicator.id in seen:
                raise IndicatorFileError(
                    path, f"duplicate id (also in {seen[indicator.id]})", indicator.id, "id"
                )
            seen[indicator.id] = path.name
            for scenario in indicator.compute.scenario_ids():
                if scenario not in known_scenarios:
                    raise IndicatorFileError(
                        path, f"unknown scenario {scenario!r}", indicator.id, "compute.scenario"
                    )
            indicators.append(indicator)
    return indicators


@lru_cache(maxsize=1)
def default_indicators() -> tuple[Indicator, ...]:
    return tuple(load_indicators())
