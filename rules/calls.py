"""Calls that are not work orders: the policy in rules/calls.yaml, and what kind the rules
suggest for a call's words. Pure: reads its YAML once; errors name the file and field,
e.g. ``calls.yaml: reply_chain.0.kind: Input should be 'remind', …``."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cityops.domain.calls import CallPolicy, KindSuggestion, ReplyStep
from cityops.domain.models import Classification
from cityops.domain.stages import CallKind
from cityops.rules.durations import parse_duration
from cityops.rules.text import OUT_OF_SCOPE

CALLS_FILE = Path(__file__).resolve().parent / "calls.yaml"


class CallRulesError(ValueError):
    """calls.yaml is missing or invalid; the message names the file and the field."""


class CallRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    open_for: timedelta
    reply_within: timedelta
    working_time: bool
    reply_chain: list[ReplyStep] = Field(min_length=1)
    suggestion_words: list[str] = Field(default_factory=list)

    @field_validator("open_for", "reply_within", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        duration = parse_duration(value)
        if duration.total_seconds() <= 0:
            raise ValueError("must be longer than zero")
        return duration

    @property
    def policy(self) -> CallPolicy:
        return CallPolicy(
            open_for=self.open_for,
            reply_within=self.reply_within,
            working_time=self.working_time,
            reply_chain=self.reply_chain,
        )

    def suggest(self, classification: Classification, text: str | None) -> KindSuggestion:
        """complaint when a scenario claims the words; suggestion when they praise or
        propose; consultation when they are out of scope (a question, a procedure)."""
        if classification.scenario is not None:
            scenario = classification.scenario
            return KindSuggestion(
                kind=CallKind.COMPLAINT,
                reason=f"the rules read it as {scenario.id} {scenario.name_zh}",
                scenario_id=scenario.id,
            )
        words = [word for word in self.suggestion_words if text and word in text]
        if words:
            return KindSuggestion(
                kind=CallKind.SUGGESTION, reason=f"praise or proposal: {', '.join(words)}"
            )
        out_of_scope = [m.rule for m in classification.matched if m.scenario_id == OUT_OF_SCOPE]
        if out_of_scope:
            phrases = ", ".join(rule.split(":", 1)[1] for rule in out_of_scope[:5])
            return KindSuggestion(kind=CallKind.CONSULTATION, reason=f"out of scope: {phrases}")
        return KindSuggestion(
            kind=CallKind.COMPLAINT, reason=f"no scenario sure ({classification.reason})"
        )


def load_call_rules(path: Path = CALLS_FILE) -> CallRules:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CallRulesError(f"{path.name}: file not found") from exc
    except yaml.YAMLError as exc:
        raise CallRulesError(f"{path.name}: not valid YAML: {exc}") from exc
    try:
        return CallRules.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise CallRulesError(f"{path.name}: {problems}") from exc


@lru_cache(maxsize=1)
def default_call_rules() -> CallRules:
    return load_call_rules()
