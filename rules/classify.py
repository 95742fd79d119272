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
import numpy.typing as npt

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
from cityops.rules.text import TextReading, TextVerdict

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


def _read_many(pieces: list[str], rules: RuleSet) -> list[_Reading]:
    """Each piece of text read by the rules as one batch, then blended with the model."""
    reading = rules.text.read(pieces)
    readings: list[_Reading | None] = [None] * len(pieces)
    blended: list[int] = []  # the pieces the model reads: no force phrase decided them
    for row, sid in enumerate(reading.forced):
        if sid is not None:
            verdict = reading.verdict(row)
            why = f"forced by a {sid} rule ({verdict.reason})"
            readings[row] = _Reading(sid, 1.0, [(sid, 1.0)], verdict, None, why)
        elif rules.model is None:
            readings[row] = _rules_alone(reading.verdict(row), rules)
        else:
            blended.append(row)
    if blended:
        for row, blend in zip(blended, _blend(reading, blended, rules), strict=True):
            readings[row] = blend
    return [found for found in readings if found is not None]


def _rules_alone(verdict: TextVerdict, rules: RuleSet) -> _Reading:
    total = sum(verdict.scores.values()) + verdict.out_of_scope
    saturation = rules.engine.saturation
    evidence = (
        {sid: min(1.0, s / saturation) * s / total for sid, s in verdict.scores.items()}
        if total > 0
        else {}
    )
    if verdict.scenario_id is not None:
        evidence[verdict.scenario_id] = verdict.confidence
    ranked = sorted(evidence.items(), key=lambda item: (-item[1], item[0]))
    return _Reading(verdict.scenario_id, verdict.confidence, ranked, verdict, None, verdict.reason)


def _rule_evidence(
    reading: TextReading, rows: list[int], saturation: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Each scenario's rule confidence, a row per text: min(1, score / saturation) × its
    share of all positive scores and the out-of-scope weight; and triage's the same way
    from the out-of-scope weight. A row's values sum to at most 1; `matched` says which
    rows have any rule evidence at all.
    """
    scores = reading.scores[rows]
    positive = np.where(scores > 0, scores, 0.0)
    oos = reading.out_of_scope[rows]
    total = positive.sum(axis=1) + oos
    matched = total > 0
    share = np.where(matched, total, 1.0)
    evidence = np.minimum(1.0, positive / saturation) * positive / share[:, None]
    triage = np.where(matched & (oos > 0), np.minimum(1.0, oos / saturation) * oos / share, 0.0)
    return evidence, triage, matched


def _blend(reading: TextReading, rows: list[int], rules: RuleSet) -> list[_Reading]:
    """The rules' evidence and the model's probabilities, a row per text, as matrices.

    Per row: a vetoed scenario gets no model probability; a row with rule evidence
    is `(1 - rules_weight) × model + rules_weight × evidence` and must reach
    `threshold`, a row without is the model alone and must reach `alone_threshold`.
    The model reads each text without what a negation cue denies.
    """
    scorer = rules.model
    assert scorer is not None  # narrowed by the caller
    settings = rules.engine.model
    weight = settings.rules_weight
    classes, index = scorer.classes, scorer.index
    model = scorer.proba_many([reading.affirmed(row) for row in rows])  # a fresh array
    evidence = np.zeros_like(model)
    found, triage, matched = _rule_evidence(reading, rows, rules.engine.saturation)
    # The rules' own verdict is "out of scope" (its phrases weigh at least as much as the
    # best scenario): that decides, as a force phrase or a veto does.
    oos = reading.out_of_scope[rows]
    ruled_out = (oos > 0) & (oos >= reading.scores[rows].max(axis=1, initial=0.0))
    columns = np.array([index.get(sid, -1) for sid in rules.text.scenarios], dtype=np.int64)
    known = columns >= 0
    evidence[:, columns[known]] = found[:, known]
    vetoed = reading.vetoed[rows][:, known]  # a veto forbids the scenario to the model too
    model[:, columns[known]] = np.where(vetoed, 0.0, model[:, columns[known]])
    extra: dict[int, dict[str, float]] = {}  # rule evidence for labels the model never saw
    for column in np.flatnonzero(~known).tolist():
        for row in np.flatnonzero(found[:, column] > 0).tolist():
            extra.setdefault(row, {})[rules.text.scenarios[column]] = weight * found[row, column]
    if TRIAGE in index:
        evidence[:, index[TRIAGE]] = triage
    else:
        for row in np.flatnonzero(triage > 0).tolist():
            extra.setdefault(row, {})[TRIAGE] = weight * triage[row]
    best = model.argmax(axis=1)
    best_p = model[np.arange(len(rows)), best].tolist()
    blend = np.where(matched[:, None], model * (1.0 - weight) + weight * evidence, model)
    order = np.argsort(-blend, axis=1, kind="stable")[:, : TOP + 1]
    top_values = np.take_along_axis(blend, order, axis=1).tolist()
    readings = []
    for i, row in enumerate(rows):
        ranked = [
            (classes[column], value)
            for column, value in zip(order[i].tolist(), top_values[i], strict=True)
        ]
        if i in extra:
            ranked = sorted([*ranked, *extra[i].items()], key=lambda item: -item[1])
        model_top = (classes[best[i]], best_p[i])
        readings.append(
            _decide(
                ranked,
                reading.verdict(row),
                model_top,
                bool(matched[i]),
                settings.threshold if matched[i] else settings.alone_threshold,
                ruled_out=bool(ruled_out[i]),
            )
        )
    return readings


def _decide(
    ranked: list[tuple[str, float]],
    verdict: TextVerdict,
    model_top: tuple[str, float],
    matched_any: bool,
    threshold: float,
    *,
    ruled_out: bool = False,
) -> _Reading:
    """One row of the blend: its best class, or triage when that is unclear or when the
    rules found the call out of scope."""
    top, top_value = ranked[0]
    ranked = [(label, value) for label, value in ranked if label != TRIAGE and value > 0]
    confidence = round(min(top_value, 1.0), 3)
    about = (
        f"{verdict.reason}; model {model_top[0]} {model_top[1]:.2f}"
        if matched_any
        else f"no text rule matched; model {model_top[0]} {model_top[1]:.2f}"
    )
    if ruled_out:
        why = f"out of scope by the rules ({about})"
        return _Reading(None, 0.0, ranked, verdict, model_top, why)
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
