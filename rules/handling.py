"""SLA defaults per priority (rules/sla.yaml) and escalation chains (rules/escalation.yaml).

Pure: reads YAML, validates with pydantic, answers questions. Errors name the file
and the field, e.g. ``escalation.yaml: chains.default[1].clock: Input should be 'accept'``.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cityops.domain.models import EscalationPlan, EscalationStep, SlaPolicy, VerifyWait
from cityops.domain.stages import Clock, ClosureCheck, Priority
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


class TriageSettings(BaseModel):
    """An unclassified ticket: who triages it is the district center's dispatcher on duty;
    this is how long they have, on which calendar, and the chain above them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    within: timedelta = timedelta(minutes=30)
    working_time: bool = False
    chain: str = Field(default="triage", min_length=1)

    @field_validator("within", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value)


class _Wait(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    within: timedelta | None = None
    working_time: bool = False
    by: Literal["end_of_next_working_day"] | None = None

    @field_validator("within", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)

    @model_validator(mode="after")
    def _one_way(self) -> _Wait:
        if (self.within is None) == (self.by is None):
            raise ValueError("give either `within` (a duration) or `by: end_of_next_working_day`")
        return self

    def wait(self) -> VerifyWait:
        return VerifyWait(
            within=self.within,
            working_time=self.working_time,
            by_end_of_next_working_day=self.by is not None,
        )


class NoticeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Follow-ups (escalation, urge, supervise) about one incident to one person within
    # this window go out as one message; the first goes at once.
    group_window: timedelta = timedelta(minutes=2)

    @field_validator("group_window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value)


class PauseSettings(BaseModel):
    """A paused resolve clock (挂起, waiting on the citizen) ends by a stated time: the
    assignee's `until`, else `within` from the pause; never more than `longest` after
    the pause began (a pause extended included). Wall clock: the end is a date."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    within: timedelta = Field(default=timedelta(days=2), gt=timedelta(0))
    longest: timedelta = Field(default=timedelta(days=14), gt=timedelta(0))

    @field_validator("within", "longest", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value)


class StallSettings(BaseModel):
    """A wait whose chain pressed its top in vain: how often the district center's duty
    supervisor is told of it (督办) until someone acts."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    supervise_every: timedelta = Field(default=timedelta(days=1), gt=timedelta(0))

    @field_validator("supervise_every", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value)


class _SlaFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    priorities: dict[Priority, _PrioritySla]
    closure: ClosureSettings = ClosureSettings()
    triage: TriageSettings = TriageSettings()
    verification: dict[ClosureCheck, _Wait] = Field(default_factory=dict)
    notices: NoticeSettings = NoticeSettings()
    stalled: StallSettings = StallSettings()
    pause: PauseSettings = PauseSettings()


class _ChainFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chains: dict[str, list[EscalationStep]]


class HandlingRules(BaseModel):
    model_config = ConfigDict(frozen=True)
    priorities: dict[Priority, SlaPolicy]
    chains: dict[str, EscalationPlan]
    closure: ClosureSettings = ClosureSettings()
    triage: TriageSettings = TriageSettings()
    verification: dict[ClosureCheck, VerifyWait] = Field(default_factory=dict)
    notices: NoticeSettings = NoticeSettings()
    stalled: StallSettings = StallSettings()
    pause: PauseSettings = PauseSettings()

    def verify_waits(self, refined: timedelta | None = None) -> dict[ClosureCheck, VerifyWait]:
        """How long each closure check waits for its evidence; a scenario's `verify_within`
        replaces the duration of the checks that have one (not the callback's day rule).
        A sensor's recovery waits `closure.recovery_patience` unless sla.yaml says."""
        waits = {
            ClosureCheck.SENSOR_RECOVERY: VerifyWait(within=self.closure.recovery_patience),
            **self.verification,
        }
        if refined is None:
            return waits
        return {
            check: wait.model_copy(update={"within": refined}) if wait.within else wait
            for check, wait in waits.items()
        }

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
    if sla.triage.chain not in chains.chains:
        raise HandlingRulesError(
            f"sla.yaml: triage.chain: no chain {sla.triage.chain!r} in escalation.yaml"
        )
    missing_waits = set(ClosureCheck) - {ClosureCheck.SENSOR_RECOVERY} - set(sla.verification)
    if missing_waits:
        raise HandlingRulesError(f"sla.yaml: verification: missing {sorted(missing_waits)}")
    for name, steps in chains.chains.items():
        # The triage chain watches the triage clock; every scenario's chain the accept clock.
        clock = Clock.TRIAGE if name == sla.triage.chain else Clock.ACCEPT
        if not any(step.clock is clock for step in steps):
            raise HandlingRulesError(
                f"escalation.yaml: chains.{name}: needs at least one step on the "
                f"{clock.value} clock"
            )
    return HandlingRules(
        priorities={p: SlaPolicy(**v.model_dump()) for p, v in sla.priorities.items()},
        chains={
            name: EscalationPlan(chain=name, steps=steps) for name, steps in chains.chains.items()
        },
        closure=sla.closure,
        triage=sla.triage,
        verification={check: wait.wait() for check, wait in sla.verification.items()},
        notices=sla.notices,
        stalled=sla.stalled,
    )


@lru_cache(maxsize=1)
def default_handling_rules() -> HandlingRules:
    return load_handling_rules()
