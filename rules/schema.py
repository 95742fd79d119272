"""The shape of the rule files, validated with pydantic when they load.

Two kinds of file live under rules/scenarios/:
- `<CATEGORY>.yaml`: one category and its scenarios (catalogue facts, settings,
  text rules, alarm rules, examples);
- `_engine.yaml`: engine-wide knobs (threshold, negation cues, shared vocabularies,
  out-of-scope patterns).

Every model forbids unknown keys, so a typo in a key is an error, not a silent no-op.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from cityops.domain.stages import ClosureCheck, Dimension, Priority, RecoveryPolicy, Source, Tier
from cityops.rules.zones import TimeZoneName

ScenarioId = Annotated[str, Field(pattern=r"^[A-Z]{2}\d{2}$")]
Weight = Annotated[float, Field(ge=-20.0, le=20.0)]
# A phrase, or "@name" to pull in a shared vocabulary from _engine.yaml.
Term = Annotated[str, Field(min_length=1, max_length=40)]

_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_duration(value: object) -> object:
    """Accept "30m", "1h", "2d", "90s" besides what pydantic knows (ISO 8601, seconds)."""
    if isinstance(value, str) and (match := _DURATION.match(value.strip())):
        return timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]])
    return value


Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]


def _time_text(value: object) -> object:
    # Unquoted 22:00 is the integer 1320 in YAML 1.1: insist on a quoted "HH:MM".
    if not isinstance(value, str):
        raise ValueError('write times as quoted "HH:MM" strings')
    return value


LocalTime = Annotated[time, BeforeValidator(_time_text)]


class RuleModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- settings


class Grouping(RuleModel):
    """Alarm-storm grouping across devices: one ticket per key and window."""

    by: Literal["device", "site", "street", "station"]
    window: Duration


class ScenarioSettings(RuleModel):
    """Per-scenario handling knobs the ticket workflow reads; None means the priority default."""

    accept_within: Duration | None = None
    first_contact_within: Duration | None = None
    resolve_within: Duration | None = None
    escalation_chain: str = Field(default="default", min_length=1, max_length=40)
    recovery_hold: Duration = timedelta(minutes=10)
    # sensor_recovery: what a device reporting normal before anyone fixed anything means
    # (close after the hold, stop the chase and tell the assignee, or nothing automatic).
    on_recovery: RecoveryPolicy = RecoveryPolicy.NEVER_AUTO_CLOSE
    # How long the closure check waits for its evidence (photo review, video re-check);
    # None: rules/sla.yaml `verification`. The callback keeps its day rule.
    verify_within: Duration | None = None
    grouping: Grouping | None = None

    @field_validator(
        "accept_within", "first_contact_within", "resolve_within", "recovery_hold", "verify_within"
    )
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be a positive duration")
        return value


# --------------------------------------------------------------------------- text rules


class Combo(RuleModel):
    """Fires when every group has at least one (non-negated) hit: co-occurring concepts."""

    name: str = Field(min_length=1, max_length=40)
    all: list[list[Term]] = Field(min_length=2, max_length=4)
    weight: Weight
    within: int | None = Field(
        default=None, ge=1, le=200, description="Max characters between the groups' hits"
    )


class PatternRule(RuleModel):
    """A regular expression, run only when one of its gate phrases is in the text (speed)."""

    name: str = Field(min_length=1, max_length=40)
    regex: str = Field(min_length=1, max_length=300)
    gate: list[Term] = Field(min_length=1)
    weight: Weight

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regex {value!r}: {exc}") from exc
        return value


class TextRules(RuleModel):
    """How a scenario is recognised in free text (hotline, grid, opinion)."""

    keywords: dict[Term, Weight] = Field(default_factory=dict)
    combos: list[Combo] = Field(default_factory=list)
    patterns: list[PatternRule] = Field(default_factory=list)
    veto: list[Term] = Field(
        default_factory=list, description="Any of these (non-negated) rules the scenario out"
    )
    force: list[Term] = Field(
        default_factory=list,
        description="Any of these (non-negated) names the scenario outright: the learned "
        "scorer cannot outvote it (two scenarios forced at once cancel out)",
    )

    @field_validator("keywords")
    @classmethod
    def _no_zero_weight(cls, value: dict[str, float]) -> dict[str, float]:
        zero = [phrase for phrase, weight in value.items() if weight == 0]
        if zero:
            raise ValueError(f"keywords with weight 0 do nothing: {zero}")
        return value


# --------------------------------------------------------------------------- alarm rules


class LocalWindow(RuleModel):
    """A local time-of-day window; start > end wraps past midnight (22:00-06:00)."""

    start: LocalTime
    end: LocalTime
    tz: TimeZoneName = "Asia/Shanghai"
    outside_reason: str = Field(min_length=1, description="Why an event outside is no alarm")

    def contains(self, local: time) -> bool:
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class AlarmRule(RuleModel):
    """One kind of alarm event that maps to the scenario."""

    sensor_type: str = Field(min_length=1, max_length=64)
    metrics: list[str] = Field(default_factory=list, description="Empty: any metric")
    detection: str | None = Field(default=None, description="video_ai attributes.detection")
    local_window: LocalWindow | None = None

    @model_validator(mode="after")
    def _video_needs_detection(self) -> AlarmRule:
        if self.sensor_type == "video_ai" and not self.detection:
            raise ValueError("a video_ai rule needs a detection")
        return self

    @property
    def label(self) -> str:
        what = self.detection or "/".join(self.metrics) or "*"
        return f"alarm:{self.sensor_type}/{what}"


# --------------------------------------------------------------------------- scenarios


class Example(RuleModel):
    text: str = Field(min_length=2)
    expect: ScenarioId | None = Field(
        default=None, description="Counter-examples: what it should be instead (None: triage)"
    )


class ScenarioRule(RuleModel):
    id: ScenarioId
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    dimension: Dimension
    sources: list[Source] = Field(min_length=1)
    priority: Priority
    lead_department: str = Field(min_length=1)
    handling_tier: Tier
    closure_check: ClosureCheck
    settings: ScenarioSettings = Field(default_factory=ScenarioSettings)
    text: TextRules = Field(default_factory=TextRules)
    alarms: list[AlarmRule] = Field(default_factory=list)
    examples: list[str] = Field(default_factory=list)
    counter_examples: list[Example] = Field(default_factory=list)

    @model_validator(mode="after")
    def _recognisable(self) -> ScenarioRule:
        text_sources = {Source.HOTLINE, Source.GRID, Source.OPINION}
        if text_sources & set(self.sources) and not self.text.keywords:
            raise ValueError("a scenario reported in text needs text.keywords")
        if Source.IOT in self.sources and not any(
            rule.sensor_type != "video_ai" for rule in self.alarms
        ):
            raise ValueError("a scenario with source iot needs an alarm rule")
        return self


class CategoryFile(RuleModel):
    category_id: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    category_zh: str = Field(min_length=1)
    category_en: str = Field(min_length=1)
    scenarios: list[ScenarioRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids_in_category(self) -> CategoryFile:
        for scenario in self.scenarios:
            if not scenario.id.startswith(self.category_id):
                raise ValueError(
                    f"scenario {scenario.id} does not belong to category {self.category_id}"
                )
        return self


# --------------------------------------------------------------------------- engine


class ModelBlend(RuleModel):
    """How the learned scorer's probabilities weigh against the rules' scores."""

    rules_weight: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Share of the rules in the blend; the model has the rest",
    )
    threshold: float = Field(
        default=0.4, ge=0.0, le=1.0, description="Below this blended probability: triage"
    )
    alone_threshold: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="When no rule matched at all, the model alone must be this sure",
    )


class CallCues(RuleModel):
    """How a caller says which of two problems is the main one ("主要是…；另外…").

    A `main`/`secondary` cue starts its part, which runs to the next cue or sentence
    end; a `main_after`/`secondary_after` marker closes the part before it, back to the
    previous cue or sentence end ("…，这个是主要的", "…先不说").
    """

    main: list[Term] = Field(default_factory=list)
    secondary: list[Term] = Field(default_factory=list)
    main_after: list[Term] = Field(default_factory=list)
    secondary_after: list[Term] = Field(default_factory=list)


class EngineConfig(RuleModel):
    """Engine-wide knobs from _engine.yaml."""

    threshold: float = Field(ge=0.0, le=1.0, description="Below this confidence: triage")
    saturation: float = Field(gt=0, description="A score this high counts as fully sure")
    negation_cues: list[Term] = Field(min_length=1)
    negation_window: int = Field(ge=1, le=20, description="Max chars from cue to phrase")
    tight_negation_cues: list[Term] = Field(
        default_factory=list, description="Negate only a phrase right after them: 没困人"
    )
    vocab: dict[Annotated[str, Field(pattern=r"^[a-z_]+$")], list[Term]] = Field(
        default_factory=dict
    )
    out_of_scope: dict[Term, Weight] = Field(
        min_length=1, description="Consultations, praise, private matters: weights for triage"
    )
    model: ModelBlend = Field(default_factory=lambda: ModelBlend())
    cues: CallCues = Field(default_factory=lambda: CallCues())
