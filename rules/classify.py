"""classify(intake, rules) -> Classification: pure, no I/O, safe in a local activity.

Order of evidence, strongest first:
1. a service code chosen by the submitter (Open311) names the scenario outright;
2. an alarm event maps by sensor type, metric, video detection and time window;
3. free text is scored by the text rules; out-of-scope text goes to triage; text the
   rules score too weakly (or not at all) is compared with labelled texts
   (rules/similarity.py) and, when it is close and clear enough, takes the scenario
   of its nearest neighbours, with matched rule "similar:<nearest text id>"; otherwise
   it goes to triage.
"""

from __future__ import annotations

from cityops.domain.models import Classification, RuleMatch, TicketIntake
from cityops.rules.load import RuleSet
from cityops.rules.text import TextVerdict


def classify(intake: TicketIntake, rules: RuleSet) -> Classification:
    if intake.service_code is not None:
        return _by_service_code(intake.service_code, rules)
    if intake.alarm is not None:
        return _by_alarm(intake, rules)
    if intake.text:
        return _by_text(intake.text, rules)
    return Classification(
        scenario=None,
        confidence=0.0,
        rules_version=rules.version,
        reason="no service code, alarm or text to classify",
    )


def _by_service_code(code: str, rules: RuleSet) -> Classification:
    if code not in rules.scenario_ids:
        return Classification(
            scenario=None,
            confidence=0.0,
            rules_version=rules.version,
            reason=f"unknown service code {code!r}",
        )
    return Classification(
        scenario=rules.scenario(code),
        confidence=1.0,
        rules_version=rules.version,
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
        scenario=rules.scenario(verdict.scenario_id),
        confidence=1.0,
        rules_version=rules.version,
        reason=verdict.reason,
        matched=[RuleMatch(scenario_id=verdict.scenario_id, rule=verdict.rule, weight=1.0)],
    )


def _by_text(text: str, rules: RuleSet) -> Classification:
    verdict = rules.text.verdict(text)
    if rules.similar is not None and _too_weak(verdict):
        match = rules.similar.match(text)
        if match is not None and match.scenario_id is not None:
            return Classification(
                scenario=rules.scenario(match.scenario_id),
                confidence=round(match.similarity * match.share, 3),
                runner_up=verdict.runner_up,
                matched=[
                    RuleMatch(
                        scenario_id=match.scenario_id,
                        rule=f"similar:{match.example_id}",
                        weight=match.similarity,
                    ),
                    *verdict.matched,
                ],
                rules_version=rules.version,
                reason=f"{verdict.reason}; similar to labelled text {match.example_id} "
                f"(cosine {match.similarity:g}, {match.share:.0%} of the vote)",
            )
    scenario = rules.scenario(verdict.scenario_id) if verdict.scenario_id else None
    return Classification(
        scenario=scenario,
        confidence=verdict.confidence,
        runner_up=verdict.runner_up,
        matched=verdict.matched,
        rules_version=rules.version,
        reason=verdict.reason,
    )


def _too_weak(verdict: TextVerdict) -> bool:
    """No scenario because the evidence was weak or absent, not because it was out of scope.

    Below the threshold the confidence is above 0; with nothing matched it is 0 and
    nothing is listed. Out of scope has confidence 0 and lists the phrases that decided.
    """
    return verdict.scenario_id is None and (verdict.confidence > 0 or not verdict.matched)
