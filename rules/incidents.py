"""The incident rules (rules/incidents.yaml): per-scenario repeat-call radius, age and
step-up, and the scenarios no window silences without a supervisor. Pure: reads its YAML
once; errors name the file and field."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cityops.domain.incidents import RepeatRule
from cityops.rules.durations import parse_duration

INCIDENTS_FILE = Path(__file__).resolve().parent / "incidents.yaml"


class IncidentRulesError(ValueError):
    """incidents.yaml is missing or invalid; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _RepeatOverride(_Strict):
    radius_m: float | None = Field(default=None, gt=0, le=5000)
    max_age: Any = None
    step_up_after: int | None = Field(default=None, ge=1, le=100)

    @field_validator("max_age", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)


class _RepeatCalls(_Strict):
    default: RepeatRule
    scenarios: dict[str, _RepeatOverride] = Field(default_factory=dict)

    @field_validator("default", mode="before")
    @classmethod
    def _default_duration(cls, value: Any) -> Any:
        if isinstance(value, dict) and "max_age" in value:
            return {**value, "max_age": parse_duration(value["max_age"])}
        return value


class _Silences(_Strict):
    protected_scenarios: list[str] = Field(default_factory=list)


class IncidentRules(_Strict):
    repeat_calls: _RepeatCalls
    silences: _Silences

    def repeat_rule(self, scenario_id: str) -> RepeatRule:
        override = self.repeat_calls.scenarios.get(scenario_id)
        base = self.repeat_calls.default
        if override is None:
            return base
        return base.model_copy(update=override.model_dump(exclude_none=True))

    @property
    def protected(self) -> frozenset[str]:
        return frozenset(self.silences.protected_scenarios)


def load_incident_rules(path: Path = INCIDENTS_FILE) -> IncidentRules:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IncidentRulesError(f"{path.name}: file not found") from exc
    except yaml.YAMLError as exc:
        raise IncidentRulesError(f"{path.name}: not valid YAML: {exc}") from exc
    try:
        return IncidentRules.model_validate(raw)
    except (ValidationError, ValueError) as exc:
        errors = exc.errors() if isinstance(exc, ValidationError) else []
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in errors
        )
        raise IncidentRulesError(f"{path.name}: {problems or exc}") from exc


@lru_cache(maxsize=1)
def default_incident_rules() -> IncidentRules:
    return load_incident_rules()
