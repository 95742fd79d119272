"""classify(intake, rules) -> Classification: pure, no I/O, safe in a local activity.

Order of evidence, strongest first:
1. a service code chosen by the submitter (Open311) names the scenario outright;
2. an alarm event maps by sensor type, metric, video detection and time window;
3. free text is scored by the text rules; weak or out-of-scope text goes to triage.
"""

from __future__ import annotations

from domain.models import Classification, RuleMatch, TicketIntake
from rules.load import RuleSet


def classify(intake: TicketIntake, rules: RuleSet) -> Classification:
    if intake.service_code is not None:
        return _by_service_code(intake.service_code, rules)
    if intake.alarm is not None:
        return _by_alarm(intake, rules)
    if intake.text:
        return _by_text(intake.text, rules)
    return Classification(
        scenario=None, confidence=0.0, rules_version=rules.version,
        reason="no service code, alarm or text to classify",
    )


def _by_service_code(code: str, rules: RuleSet) -> Classification:
    if code not in rules.scenario_ids:
        return Classification(
            scenario=None, confidence=0.0, rules_version=rules.version,
            reason=f"unknown service code {code!r}",
        )
    return Classification(
        scenario=rules.scenario(code), confidence=1.0, rules_version=rules.version,
        matched=[RuleMatch(scenario_id=code, rule="service_code", weight=1.0)],
        reason="service code chosen by the submitter",
    )


def _by_alarm(intake: TicketIntake, rules: RuleSet) -> Classification:
    assert intake.alarm is not None  # narrowed by the caller
    verdict = rules.alarms.verdict(intake.alarm)
    if verdict.scenario_id is None or verdict.rule is None:
        return Classification(
            scenario=None, confidence=0.0, rules_version=rules.version, reason=verdict.reason
        )
    return Classification(
        scenario=rules.scenario(verdict.scenario_id), confidence=1.0,
        rules_version=rules.version, reason=verdict.reason,
        matched=[RuleMatch(scenario_id=verdict.scenario_id, rule=verdict.rule, weight=1.0)],
    )


def _by_text(text: str, rules: RuleSet) -> Classification:
    verdict = rules.text.verdict(text)
    scenario = rules.scenario(verdict.scenario_id) if verdict.scenario_id else None
    return Classification(
        scenario=scenario, confidence=verdict.confidence, runner_up=verdict.runner_up,
        matched=verdict.matched, rules_version=rules.version, reason=verdict.reason,
    )
