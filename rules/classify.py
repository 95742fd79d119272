"""classify(intake, rules) -> Classification: pure, no I/O, safe in a local activity.

Order of evidence, strongest first:
1. a service code chosen by the submitter (the hotline agent, Open311) names the
   scenario outright; when the intake also has text, the engine's own reading is
   recorded beside it (`suggested`, `candidates`), but the agent's choice wins;
2. an alarm event maps by sensor type, metric, video detection and time window;
3. free text: the caller's cue picks the main problem of a call naming two
   (rules/cues.py), then the text rules and the learned scorer (rules/model.py) are
   blended. The rules are the authority: a `force` phrase decides outright, a `veto`
   removes a scenario from the model's candidates too, negated phrases are cut from
   what the model reads, and out-of-scope phrases count as evidence for triage. The
   model fills in what the rules miss (typos, symptoms without the scenario's name).
   Unclear evidence (the blend below its threshold, or triage winning) goes to triage.
   The other problem of a two-problem call is recorded as `secondary`.

`classify_many` gives the same answers for a batch, with one matrix product for the
model instead of one per text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cityops.domain.models import Candidate, Classification, RuleMatch, SecondaryIssue, TicketIntake
from cityops.rules.cues import CallParts
from cityops.rules.load import RuleSet
from cityops.rules.model import TRIAGE
from cityops.rules.text import TextVerdict

Proba = npt.NDArray[np.float64] | None
ProbaOf = Callable[[str], Proba]
TOP = 3  # candidates listed for the hotline agent


def classify(intake: TicketIntake, rules: RuleSet) -> Classification:
    return _classify(intake, rules, _single(rules))


def classify_many(intakes: Sequence[TicketIntake], rules: RuleSet) -> list[Classification]:
    """classify() for each intake; the model scores every text of the batch at once."""
    scorer = rules.model
    if scorer is None:
        return [classify(intake, rules) for intake in intakes]
    wanted: list[str] = []
    for intake in intakes:
        if intake.alarm is None and intake.text:
            wanted += _texts_of(rules.cues.split(intake.text))
    unique = list(dict.fromkeys(wanted))
    rows = scorer.proba_many([rules.text.affirmed(text) for text in unique])
    table = dict(zip(unique, rows, strict=True))
    single = _single(rules)

    def lookup(text: str) -> Proba:
        found = table.get(text)
        return found if found is not None else single(text)

    return [_classify(intake, rules, lookup) for intake in intakes]


def _single(rules: RuleSet) -> ProbaOf:
    scorer = rules.model
    if scorer is None:
        return lambda _text: None
    return lambda text: scorer.proba(rules.text.affirmed(text))


def _texts_of(parts: CallParts) -> list[str]:
    return [t for t in (parts.main, parts.whole, parts.secondary) if t]


def _classify(intake: TicketIntake, rules: RuleSet, proba_of: ProbaOf) -> Classification:
    if intake.service_code is not None:
        return _by_service_code(intake, rules, proba_of)
    if intake.alarm is not None:
        return _by_alarm(intake, rules)
    if intake.text:
        return _by_text(intake.text, rules, proba_of)
    return Classification(
        scenario=None,
        confidence=0.0,
        rules_version=rules.version,
        reason="no service code, alarm or text to classify",
    )


def _by_service_code(intake: TicketIntake, rules: RuleSet, proba_of: ProbaOf) -> Classification:
    code = intake.service_code
    assert code is not None  # narrowed by the caller
    if code not in rules.scenario_ids:
        return Classification(
            scenario=None,
            confidence=0.0,
            rules_version=rules.version,
            reason=f"unknown service code {code!r}",
        )
    reading = _by_text(intake.text, rules, proba_of) if intake.text else None
    suggested = None
    reason = "service code chosen by the submitter"
    if reading is not None:
        own = reading.scenario.id if reading.scenario else None
        if own != code:
            suggested = own
            reason += f" (the engine read {own or 'triage'} from the text)"
    return Classification(
        scenario=rules.scenario(code),
        confidence=1.0,
        rules_version=rules.version,
        matched=[RuleMatch(scenario_id=code, rule="service_code", weight=1.0)],
        reason=reason,
        candidates=reading.candidates if reading else [],
        suggested=suggested,
        secondary=_other(reading.secondary, code) if reading else None,
    )


def _other(secondary: SecondaryIssue | None, main: str) -> SecondaryIssue | None:
    return secondary if secondary is not None and secondary.scenario.id != main else None


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


# --------------------------------------------------------------------------- text


@dataclass(frozen=True)
class _Reading:
    """One piece of text read by the rules and the model together."""

    scenario_id: str | None
    confidence: float
    ranked: list[tuple[str, float]]  # scenarios (no triage), best first, blended probability
    verdict: TextVerdict
    model_top: tuple[str, float] | None  # the model's own best class and probability
    reason: str

    @property
    def clear(self) -> bool:
        return self.scenario_id is not None


def _by_text(text: str, rules: RuleSet, proba_of: ProbaOf) -> Classification:
    parts = rules.cues.split(text)
    reading = None
    if parts.main:
        reading = _read(parts.main, rules, proba_of)
        if not reading.clear:
            reading = None  # the main part alone is too thin: read it with its setting
    if reading is None:
        reading = _read(parts.whole, rules, proba_of)
    secondary = None
    if parts.secondary:
        other = _read(parts.secondary, rules, proba_of)
        if other.scenario_id is not None and other.scenario_id != reading.scenario_id:
            secondary = SecondaryIssue(
                scenario=rules.scenario(other.scenario_id),
                confidence=other.confidence,
                text=parts.secondary,
            )
    verdict = reading.verdict
    matched = list(verdict.matched)
    if reading.model_top is not None and reading.model_top[0] != TRIAGE:
        label, probability = reading.model_top
        matched.append(RuleMatch(scenario_id=label, rule="model", weight=round(probability, 3)))
    reason = reading.reason
    if parts.cue is not None and parts.secondary:
        reason += f"; main problem by the caller's cue {parts.cue!r}"
    if secondary is not None:
        reason += f"; also names {secondary.scenario.id} (secondary)"
    scenario = rules.scenario(reading.scenario_id) if reading.scenario_id else None
    runner_up = next((sid for sid, _ in reading.ranked if sid != reading.scenario_id), None)
    return Classification(
        scenario=scenario,
        confidence=reading.confidence,
        runner_up=runner_up,
        matched=matched,
        rules_version=rules.version,
        reason=reason,
        candidates=_candidates(reading, rules),
        secondary=secondary,
    )


def _candidates(reading: _Reading, rules: RuleSet) -> list[Candidate]:
    # Built from values checked here (known ids, 0 < p <= 1): no validation needed.
    return [
        Candidate.model_construct(
            scenario_id=sid, name_zh=rules.scenario(sid).name_zh, probability=round(min(p, 1.0), 3)
        )
        for sid, p in reading.ranked[:TOP]
    ]


def _rule_evidence(verdict: TextVerdict, saturation: float) -> dict[str, float]:
    """Each scenario's rule confidence: min(1, score / saturation) × its share of all.

    The same formula as the rules' own confidence for their top scenario; triage gets
    the out-of-scope weight the same way. The values sum to at most 1.
    """
    total = sum(verdict.scores.values()) + verdict.out_of_scope
    if total <= 0:
        return {}
    evidence = {
        sid: min(1.0, score / saturation) * score / total for sid, score in verdict.scores.items()
    }
    if verdict.out_of_scope > 0:
        oos = verdict.out_of_scope
        evidence[TRIAGE] = min(1.0, oos / saturation) * oos / total
    return evidence


def _read(text: str, rules: RuleSet, proba_of: ProbaOf) -> _Reading:
    verdict = rules.text.verdict(text)
    if verdict.forced is not None:
        sid = verdict.forced
        return _Reading(
            sid, 1.0, [(sid, 1.0)], verdict, None, f"forced by a {sid} rule ({verdict.reason})"
        )
    proba = proba_of(text)
    scorer = rules.model
    if proba is None or scorer is None:  # rules alone
        evidence = _rule_evidence(verdict, rules.engine.saturation)
        evidence.pop(TRIAGE, None)
        if verdict.scenario_id is not None:
            evidence[verdict.scenario_id] = verdict.confidence
        ranked = sorted(evidence.items(), key=lambda item: (-item[1], item[0]))
        return _Reading(
            verdict.scenario_id, verdict.confidence, ranked, verdict, None, verdict.reason
        )
    settings = rules.engine.model
    classes, index = scorer.classes, scorer.index
    evidence = _rule_evidence(verdict, rules.engine.saturation)
    matched_any = bool(evidence)
    model = proba.copy()
    for sid in verdict.vetoed:  # a veto forbids the scenario to the model too
        if sid in index:
            model[index[sid]] = 0.0
    best = int(model.argmax())
    model_top = (classes[best], float(model[best]))
    extra: dict[str, float] = {}  # rule evidence for scenarios the model never saw
    if matched_any:
        weight = settings.rules_weight
        blend = model * (1.0 - weight)
        for label, value in evidence.items():
            column = index.get(label)
            if column is None:
                extra[label] = weight * value
            else:
                blend[column] += weight * value
        threshold = settings.threshold
    else:
        blend = model
        threshold = settings.alone_threshold
    order = np.argsort(-blend, kind="stable")[: TOP + 1]
    ranked = [(classes[i], float(blend[i])) for i in order]
    if extra:
        ranked = sorted([*ranked, *extra.items()], key=lambda item: -item[1])
    top, top_value = ranked[0]
    ranked = [(label, value) for label, value in ranked if label != TRIAGE and value > 0]
    confidence = round(min(top_value, 1.0), 3)
    about = (
        f"{verdict.reason}; model {model_top[0]} {model_top[1]:.2f}"
        if matched_any
        else f"no text rule matched; model {model_top[0]} {model_top[1]:.2f}"
    )
    if top == TRIAGE:
        return _Reading(None, 0.0, ranked, verdict, model_top, f"out of scope ({about})")
    if confidence < threshold:
        return _Reading(
            None,
            confidence,
            ranked,
            verdict,
            model_top,
            f"unclear: {top} {confidence:g} below {threshold:g} ({about})",
        )
    return _Reading(top, confidence, ranked, verdict, model_top, f"{top} {confidence:g} ({about})")
