"""classify(intake, rules) -> Classification: pure, no I/O, safe in a local activity.

Intake may already know a person must look first (coordinates outside Pudong): its
`triage_reason` sends the ticket to triage whatever the rules read, and what they read
is kept in the reason as a hint for the dispatcher.

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

`classify` is `classify_many` of one intake, so a batch and a ticket get the same
answer by construction. A batch reads every piece of text once: the rules scan each
piece, the model scores all of them in one sparse product, and the blend, the vetoes,
the thresholds and the top candidates are computed for the whole batch as matrices;
only the final messages are built per text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from cityops.domain.models import (
    Candidate,
    Classification,
    RuleMatch,
    ScenarioRef,
    SecondaryIssue,
    TicketIntake,
    trusted,
)
from cityops.rules.cues import CallParts
from cityops.rules.load import RuleSet
from cityops.rules.model import TRIAGE
from cityops.rules.text import TextVerdict, normalise

TOP = 3  # candidates listed for the hotline agent


def classify(intake: TicketIntake, rules: RuleSet) -> Classification:
    return classify_many([intake], rules)[0]


def classify_many(intakes: Sequence[TicketIntake], rules: RuleSet) -> list[Classification]:
    """classify() for each intake; every piece of text of the batch is read at once."""
    parts_of: list[CallParts | None] = []
    pieces: dict[str, None] = {}  # every distinct piece of text to read, in order
    for intake in intakes:
        parts = (
            rules.cues.split(intake.text) if intake.text and _reads_text(intake, rules) else None
        )
        parts_of.append(parts)
        if parts is not None:
            pieces.update(dict.fromkeys(_texts_of(parts)))
    read = dict(zip(pieces, _read_many(list(pieces), rules), strict=True))
    return [
        _classify(intake, rules, parts, read)
        for intake, parts in zip(intakes, parts_of, strict=True)
    ]


def _reads_text(intake: TicketIntake, rules: RuleSet) -> bool:
    """Whether the intake's text is read: for a known service code, or when it decides."""
    if not intake.text:
        return False
    if intake.service_code is not None:
        return intake.service_code in rules.scenario_ids
    return intake.alarm is None


def _texts_of(parts: CallParts) -> list[str]:
    return [t for t in (parts.main, parts.whole, parts.secondary) if t]


def _classify(
    intake: TicketIntake,
    rules: RuleSet,
    parts: CallParts | None,
    read: Mapping[str, _Reading],
) -> Classification:
    if intake.triage_reason:
        return _held_for_triage(intake, rules, parts, read)
    if intake.service_code is not None:
        return _by_service_code(intake.service_code, rules, parts, read)
    if intake.alarm is not None:
        return _by_alarm(intake, rules)
    if parts is not None:
        return _by_text(parts, rules, read)
    return _classification(
        rules, None, 0.0, reason="no service code, alarm or text to classify", matched=[]
    )


def _held_for_triage(
    intake: TicketIntake,
    rules: RuleSet,
    parts: CallParts | None,
    read: Mapping[str, _Reading],
) -> Classification:
    """Intake knows a person must look first (a point outside Pudong): triage with its
    reason, and what the rules read kept as a hint for the dispatcher."""
    reading = _classify(intake.model_copy(update={"triage_reason": None}), rules, parts, read)
    scenario = reading.scenario
    hint = f"; the rules read {scenario.id} {scenario.name_zh}" if scenario else ""
    return _classification(
        rules,
        None,
        0.0,
        reason=f"{intake.triage_reason}{hint}",
        matched=reading.matched,
        runner_up=scenario.id if scenario else None,
        candidates=reading.candidates,
    )


def _classification(
    rules: RuleSet,
    scenario: ScenarioRef | None,
    confidence: float,
    *,
    reason: str,
    matched: list[RuleMatch],
    runner_up: str | None = None,
    candidates: list[Candidate] | None = None,
    suggested: str | None = None,
    secondary: SecondaryIssue | None = None,
) -> Classification:
    """Every field given, from values the engine computed and checked: not re-validated."""
    return trusted(
        Classification,
        scenario=scenario,
        confidence=confidence,
        runner_up=runner_up,
        matched=matched,
        rules_version=rules.version,
        reason=reason,
        candidates=candidates if candidates is not None else [],
        suggested=suggested,
        secondary=secondary,
    )


def _by_service_code(
    code: str, rules: RuleSet, parts: CallParts | None, read: Mapping[str, _Reading]
) -> Classification:
    if code not in rules.scenario_ids:
        return _classification(
            rules, None, 0.0, reason=f"unknown service code {code!r}", matched=[]
        )
    reading = _by_text(parts, rules, read) if parts is not None else None
    suggested = None
    reason = "service code chosen by the submitter"
    if reading is not None:
        own = reading.scenario.id if reading.scenario else None
        if own != code:
            suggested = own
            reason += f" (the engine read {own or 'triage'} from the text)"
    return _classification(
        rules,
        rules.scenario(code),
        1.0,
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
        return _classification(rules, None, 0.0, reason=verdict.reason, matched=[])
    return _classification(
        rules,
        rules.scenario(verdict.scenario_id),
        1.0,
        reason=verdict.reason,
        matched=[RuleMatch(scenario_id=verdict.scenario_id, rule=verdict.rule, weight=1.0)],
    )


# --------------------------------------------------------------------------- text


class _Reading(NamedTuple):
    """One piece of text read by the rules and the model together (a NamedTuple: one is
    built per piece, and a frozen dataclass costs several times more to build)."""

    scenario_id: str | None
    confidence: float
    ranked: list[tuple[str, float]]  # scenarios (no triage), best first, blended probability
    verdict: TextVerdict
    model_top: tuple[str, float] | None  # the model's own best class and probability
    reason: str

    @property
    def clear(self) -> bool:
        return self.scenario_id is not None


def _by_text(parts: CallParts, rules: RuleSet, read: Mapping[str, _Reading]) -> Classification:
    reading = None
    if parts.main:
        reading = read[parts.main]
        if not reading.clear:
            reading = None  # the main part alone is too thin: read it with its setting
    if reading is None:
        reading = read[parts.whole]
    secondary = None
    if parts.secondary:
        other = read[parts.secondary]
        if other.scenario_id is not None and other.scenario_id != reading.scenario_id:
            secondary = trusted(
                SecondaryIssue,
                scenario=rules.scenario(other.scenario_id),
                confidence=other.confidence,
                text=parts.secondary,
            )
    verdict = reading.verdict
    matched = list(verdict.matched)
    if reading.model_top is not None and reading.model_top[0] != TRIAGE:
        label, probability = reading.model_top
        matched.append(
            trusted(RuleMatch, scenario_id=label, rule="model", weight=round(probability, 3))
        )
    reason = reading.reason
    if parts.cue is not None and parts.secondary:
        reason += f"; main problem by the caller's cue {parts.cue!r}"
    if secondary is not None:
        reason += f"; also names {secondary.scenario.id} (secondary)"
    scenario = rules.scenario(reading.scenario_id) if reading.scenario_id else None
    runner_up = next((sid for sid, _ in reading.ranked if sid != reading.scenario_id), None)
    return _classification(
        rules,
        scenario,
        reading.confidence,
        runner_up=runner_up,
        matched=matched,
        reason=reason,
        candidates=_candidates(reading, rules),
        secondary=secondary,
    )


def _candidates(reading: _Reading, rules: RuleSet) -> list[Candidate]:
    # Built from values checked here (known ids, 0 < p <= 1): no validation needed.
    return [
        trusted(
            Candidate,
            scenario_id=sid,
            name_zh=rules.scenario(sid).name_zh,
            probability=round(min(p, 1.0), 3),
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


def _read_many(pieces: list[str], rules: RuleSet) -> list[_Reading]:
    """Each piece of text read by the rules, then blended with the model as one batch."""
    # Folded once here: verdict, affirmed and the model fold again, a no-op by then.
    pieces = [normalise(piece) for piece in pieces]
    verdicts = [rules.text.verdict(piece) for piece in pieces]
    readings: list[_Reading | None] = [None] * len(pieces)
    blended: list[int] = []  # the pieces the model reads: no force phrase decided them
    for i, verdict in enumerate(verdicts):
        if verdict.forced is not None:
            sid = verdict.forced
            why = f"forced by a {sid} rule ({verdict.reason})"
            readings[i] = _Reading(sid, 1.0, [(sid, 1.0)], verdict, None, why)
        elif rules.model is None:
            readings[i] = _rules_alone(verdict, rules)
        else:
            blended.append(i)
    if blended:
        texts = [rules.text.affirmed(pieces[i]) for i in blended]
        chosen = [verdicts[i] for i in blended]
        for i, reading in zip(blended, _blend(texts, chosen, rules), strict=True):
            readings[i] = reading
    return [reading for reading in readings if reading is not None]


def _rules_alone(verdict: TextVerdict, rules: RuleSet) -> _Reading:
    evidence = _rule_evidence(verdict, rules.engine.saturation)
    evidence.pop(TRIAGE, None)
    if verdict.scenario_id is not None:
        evidence[verdict.scenario_id] = verdict.confidence
    ranked = sorted(evidence.items(), key=lambda item: (-item[1], item[0]))
    return _Reading(verdict.scenario_id, verdict.confidence, ranked, verdict, None, verdict.reason)


def _blend(texts: list[str], verdicts: list[TextVerdict], rules: RuleSet) -> list[_Reading]:
    """The rules' evidence and the model's probabilities, a row per text, as matrices.

    Per row: a vetoed scenario gets no model probability; a row with rule evidence
    is `(1 - rules_weight) × model + rules_weight × evidence` and must reach
    `threshold`, a row without is the model alone and must reach `alone_threshold`.
    """
    scorer = rules.model
    assert scorer is not None  # narrowed by the caller
    settings = rules.engine.model
    weight = settings.rules_weight
    classes, index = scorer.classes, scorer.index
    model = scorer.proba_many(texts)  # a fresh array: vetoes may write into it
    evidence = np.zeros_like(model)
    matched_any = np.zeros(len(texts), dtype=bool)
    extra: dict[int, dict[str, float]] = {}  # rule evidence for scenarios the model never saw
    for row, verdict in enumerate(verdicts):
        for sid in verdict.vetoed:  # a veto forbids the scenario to the model too
            column = index.get(sid)
            if column is not None:
                model[row, column] = 0.0
        found = _rule_evidence(verdict, rules.engine.saturation)
        if found:
            matched_any[row] = True
            for label, value in found.items():
                column = index.get(label)
                if column is None:
                    extra.setdefault(row, {})[label] = weight * value
                else:
                    evidence[row, column] = value
    best = model.argmax(axis=1)
    best_p = model[np.arange(len(texts)), best].tolist()
    blend = np.where(matched_any[:, None], model * (1.0 - weight) + weight * evidence, model)
    order = np.argsort(-blend, axis=1, kind="stable")[:, : TOP + 1]
    top_values = np.take_along_axis(blend, order, axis=1).tolist()
    readings = []
    for row, verdict in enumerate(verdicts):
        ranked = [
            (classes[column], value)
            for column, value in zip(order[row].tolist(), top_values[row], strict=True)
        ]
        if row in extra:
            ranked = sorted([*ranked, *extra[row].items()], key=lambda item: -item[1])
        model_top = (classes[best[row]], best_p[row])
        readings.append(
            _decide(
                ranked,
                verdict,
                model_top,
                bool(matched_any[row]),
                settings.threshold if matched_any[row] else settings.alone_threshold,
            )
        )
    return readings


def _decide(
    ranked: list[tuple[str, float]],
    verdict: TextVerdict,
    model_top: tuple[str, float],
    matched_any: bool,
    threshold: float,
) -> _Reading:
    """One row of the blend: its best class, or triage when that is unclear."""
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
