"""SLA defaults per priority (rules/sla.yaml) and escalation chains (rules/escalation.yaml).

Pure: reads YAML, validates with pydantic, answers questions. Errors name the file
and the field, e.g. ``escalation.yaml: chains.default[1].clock: Input should be 'accept'``.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cityops.domain.models import EscalationPlan, EscalationStep, SlaPolicy
from cityops.domain.stages import Clock, Priority
from cityops.rules.durations import parse_duration

RULES_DIR = Path(__file__).resolve().parent


class HandlingRulesError(ValueError):
    """A handling rule file is missing or invalid; the message names file and field."""


class _PrioritySla(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accept_within: timedelta
    resolve_within: timedelta
    first_contact_within: timedelta | None = None
    working_time: bool

    @field_validator("accept_within", "resolve_within", "first_contact_within", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)


class ClosureSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    photo_radius_m: float = Field(default=200.0, gt=0, le=10_000)
    recovery_patience: timedelta = timedelta(hours=1)

    @field_validator("recovery_patience", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value)


class _SlaFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    priorities: dict[Priority, _PrioritySla]
    closure: ClosureSettings = ClosureSettings()


class _ChainFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chains: dict[str, list[EscalationStep]]


class HandlingRules(BaseModel):
    model_config = ConfigDict(frozen=True)
    priorities: dict[Priority, SlaPolicy]
    chains: dict[str, EscalationPlan]
    closure: ClosureSettings = ClosureSettings()

    def sla_for(
        self,
        priority: Priority,
        accept_within: timedelta | None = None,
        resolve_within: timedelta | None = None,
        first_contact_within: timedelta | None = None,
    ) -> SlaPolicy:
        """The priority's SLA, refined by a scenario's own limits where it sets them."""
        base = self.priorities[priority]
        return base.model_copy(
            update={
                "accept_within": accept_within or base.accept_within,
                "resolve_within": resolve_within or base.resolve_within,
                "first_contact_within": first_contact_within or base.first_contact_within,
            }
        )

    def chain(self, name: str) -> EscalationPlan:
        if name not in self.chains:
            known = ", ".join(sorted(self.chains))
            raise HandlingRulesError(f"unknown escalation chain {name!r} (known: {known})")
        return self.chains[name]


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise HandlingRulesError(f"{path.name}: file not found") from exc
    except yaml.YAMLError as exc:
        raise HandlingRulesError(f"{path.name}: not valid YAML: {exc}") from exc


def _describe(path: Path, exc: ValidationError) -> HandlingRulesError:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )
    return HandlingRulesError(f"{path.name}: {problems}")


def load_handling_rules(rules_dir: Path = RULES_DIR) -> HandlingRules:
    sla_path, chain_path = rules_dir / "sla.yaml", rules_dir / "escalation.yaml"
    try:
        sla = _SlaFile.model_validate(_read(sla_path))
    except ValidationError as exc:
        raise _describe(sla_path, exc) from exc
    try:
        chains = _ChainFile.model_validate(_read(chain_path))
    except ValidationError as exc:
        raise _describe(chain_path, exc) from exc
    missing = set(Priority) - set(sla.priorities)
    if missing:
        raise HandlingRulesError(f"sla.yaml: priorities: missing {sorted(missing)}")
    if "default" not in chains.chains:
        raise HandlingRulesError("escalation.yaml: chains: a 'default' chain is required")
    for name, steps in chains.chains.items():
        if not any(step.clock is Clock.ACCEPT for step in steps):
            raise HandlingRulesError(
                f"escalation.yaml: chains.{name}: needs at least one step on the accept clock"
            )
    return HandlingRules(
        priorities={p: SlaPolicy(**v.model_dump()) for p, v in sla.priorities.items()},
        chains={
            name: EscalationPlan(chain=name, steps=steps) for name, steps in chains.chains.items()
        },
    )


@lru_cache(maxsize=1)
def default_handling_rules() -> HandlingRules:
    return load_handling_rules()
