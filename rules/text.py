"""Scoring free text against every scenario's text rules, a whole batch at a time.

All phrases (keywords, combo terms, pattern gates, vetoes, out-of-scope phrases and
negation cues) go into one Aho-Corasick automaton compiled once at load
(`ahocorasick_rs`, the Rust `aho-corasick` crate as a DFA). A batch of texts is joined
and scanned in one call that returns every hit as (phrase, start, end); from there on
the work is numpy over arrays of hits, not Python per hit: what a phrase does
(keyword weights per scenario, combo groups, vetoes, out-of-scope weight, pattern
gates, negation) is a table indexed by the phrase's number. Only the few hits that
need a closer look (shortly after a negation cue, gated patterns, combos of three or
more groups that need positions) go through Python. `verdict(text)` is a batch of one.

Why the extra steps after the scan:
- a hit that sits inside a longer keyword hit does not count again ("燃气" inside
  "燃气味"): the longer, more specific phrase decides;
- a hit shortly after a negation cue in the same clause does not count
  ("不是噪音的问题，是油烟" scores fumes, not noise);
- out-of-scope phrases (consultations, praise, private family matters) compete with
  the best scenario, so a question that merely mentions a topic goes to triage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import NamedTuple

import ahocorasick_rs
import numpy as np
import numpy.typing as npt

from cityops.domain.models import RuleMatch
from cityops.rules.schema import Combo, EngineConfig, TextRules

OUT_OF_SCOPE = "out_of_scope"  # RuleMatch.scenario_id for out-of-scope phrases

# Characters that end a clause: negation does not reach past them.
_CLAUSE_BREAKS = frozenset('，。；！？,.;!?：:、\n（）()“”"')
# Between a cue and its phrase these words start the affirmed part ("不是A而是B").
_CONTRAST = frozenset("是而")
_STOPS = _CLAUSE_BREAKS | _CONTRAST
_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20
# Joins a batch's texts for the one scan: no phrase contains it (checked at load), so
# no hit spans two texts.
_SEPARATOR = "\x00"

_NEEDS_FOLDING = re.compile("[A-Z\uff01-\uff5e\u3000]")
_FULLWIDTH_RUN = re.compile("[\uff01-\uff5e\u3000]+")
_COMMON_FULLWIDTH = tuple((wide, chr(_FULLWIDTH[ord(wide)])) for wide in "，？！：；（）")

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


def _half_width(run: re.Match[str]) -> str:
    return run.group().translate(_FULLWIDTH)


def normalise(text: str) -> str:
    """Fold full-width ASCII to half-width and lowercase, so "ＫＴＶ" matches "ktv"."""
    if _NEEDS_FOLDING.search(text) is None:  # nothing to fold
        return text
    # Most texts fold only a few kinds of full-width punctuation: str.replace each of
    # those (C speed) and translate what is left run by run; the same as translating
    # every character, in a third of the time.
    for wide, narrow in _COMMON_FULLWIDTH:
        text = text.replace(wide, narrow)
    if _FULLWIDTH_RUN.search(text) is not None:
        text = _FULLWIDTH_RUN.sub(_half_width, text)
    return text.lower()


@dataclass
class _PhraseUses:
    """Everything one phrase means to the engine."""

    keywords: list[RuleMatch] = field(default_factory=list)  # built once, shared by results
    vetoes: list[str] = field(default_factory=list)
    combo_groups: list[tuple[str, int, int]] = field(default_factory=list)  # sid, combo, group
    gates: list[tuple[str, int]] = field(default_factory=list)  # sid, pattern index
    out_of_scope: RuleMatch | None = None
    cue_window: int | None = None  # a negation cue: how far it reaches
    force: str | None = None  # a phrase that names its scenario outright


class TextVerdict(NamedTuple):
    """The text engine's answer for one text before it becomes a Classification.

    A NamedTuple, not a frozen dataclass: as immutable, and built in a sixth of the time.
    """

    scenario_id: str | None
    confidence: float
    runner_up: str | None
    matched: list[RuleMatch]
    reason: str
    # Every scenario's score after vetoes (positive only), and the out-of-scope weight:
    # the rules' evidence, which classify() weighs against the learned scorer's.
    scores: Mapping[str, float]
    out_of_scope: float
    vetoed: frozenset[str]
    forced: str | None  # a `force` phrase named this scenario outright


@dataclass(frozen=True)
class _CompiledPattern:
    regex: re.Pattern[str]
    match: RuleMatch


class _Table:
    """What each phrase maps to, as CSR arrays: phrase i owns entries indptr[i]:indptr[i+1]."""

    def __init__(self, rows: Sequence[Sequence[tuple[int, float]]]) -> None:
        sizes = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
        self.indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(sizes, out=self.indptr[1:])
        flat = [item for row in rows for item in row]
        self.indices = np.array([item[0] for item in flat], dtype=np.int64)
        self.data = np.array([item[1] for item in flat], dtype=np.float64)
        self.used = sizes > 0  # which phrases have any entry

    def expand(self, phrases: Ints) -> tuple[Ints, Ints, Floats]:
        """Every entry of every phrase given: (position in `phrases`, index, value),
        in the order of `phrases` and, per phrase, in table order."""
        starts = self.indptr[phrases]
        counts = self.indptr[phrases + 1] - starts
        owner = np.repeat(np.arange(len(phrases), dtype=np.int64), counts)
        first = np.cumsum(counts) - counts
        where = starts[owner] + np.arange(len(owner), dtype=np.int64) - first[owner]
        return owner, self.indices[where], self.data[where]


def _bounds(rows: Ints, count: int) -> list[int]:
    """Where each row's run starts in an array sorted by row (count + 1 bounds)."""
    bounds: list[int] = np.searchsorted(rows, np.arange(count + 1)).tolist()
    return bounds


class TextReading:
    """The text rules' reading of a batch of texts: arrays for the batch, plus what it
    takes to explain any one text (`verdict(row)`) or cut its negated parts
    (`affirmed(row)`). Scenario columns follow `TextMatcher.scenarios`.
    """

    def __init__(
        self,
        matcher: TextMatcher,
        texts: list[str],
        scores: Floats,
        out_of_scope: Floats,
        vetoed: Bools,
        forced: list[str | None],
        credits: tuple[list[list[int]], list[list[int]], list[list[int]], list[list[int]]],
        cuts: dict[int, list[tuple[int, int]]],
    ) -> None:
        self._matcher = matcher
        self.texts = texts  # normalised
        self.scores = scores  # (texts, scenarios) after vetoes; <= 0 means no evidence
        self.out_of_scope = out_of_scope  # (texts,) summed out-of-scope weights
        self.vetoed = vetoed  # (texts, scenarios)
        self.forced = forced  # the scenario a force phrase named, per text
        # Per text: keyword phrases (outermost, first occurrence, in text order), complete
        # combos (in the order they were first touched), fired patterns (rule order), and
        # out-of-scope phrases (first occurrence): what the explanation lists.
        self._keywords, self._combos, self._patterns, self._oos = credits
        self._cuts = cuts  # text -> negated stretches (wide cues to the end of the clause)
        self._verdicts: dict[int, TextVerdict] = {}
        self._per_text: tuple[list[list[tuple[float, str]]], dict[int, frozenset[str]]] | None = (
            None
        )

    def __len__(self) -> int:
        return len(self.texts)

    def verdict(self, row: int) -> TextVerdict:
        found = self._verdicts.get(row)
        if found is None:
            found = self._verdicts[row] = self._matcher._verdict_of(self, row)
        return found

    def per_text(self) -> tuple[list[list[tuple[float, str]]], dict[int, frozenset[str]]]:
        """Each text's positive (score, scenario) pairs and its vetoed scenarios, worked
        out for the whole batch the first time any text is explained."""
        if self._per_text is None:
            scenarios = self._matcher.scenarios
            rows, columns = np.nonzero(self.scores > 0)
            pairs = list(
                zip(
                    self.scores[rows, columns].tolist(),
                    [scenarios[c] for c in columns.tolist()],
                    strict=True,
                )
            )
            bounds = _bounds(rows, len(self.texts))
            positive = [pairs[bounds[r] : bounds[r + 1]] for r in range(len(self.texts))]
            vetoed: dict[int, set[str]] = {}
            if self.vetoed.any():
                for r, c in zip(*(a.tolist() for a in np.nonzero(self.vetoed)), strict=True):
                    vetoed.setdefault(r, set()).add(scenarios[c])
            self._per_text = positive, {r: frozenset(v) for r, v in vetoed.items()}
        return self._per_text

    def credits(self, row: int) -> tuple[list[RuleMatch], list[RuleMatch]]:
        """Every rule that counted for the text, in order, and its out-of-scope matches."""
        matcher = self._matcher
        counted = [m for pid in self._keywords[row] for m in matcher._keyword_matches[pid]]
        counted += [matcher._combo_table[c][1] for c in self._combos[row]]
        counted += [matcher._pattern_list[p].match for p in self._patterns[row]]
        oos = [matcher._oos_matches[pid] for pid in self._oos[row]]
        return counted, [m for m in oos if m is not None]

    def affirmed(self, row: int) -> str:
        """The text without what a negation cue denies: "不是路灯，是红绿灯" → "，是红绿灯".

        Why: the learned scorer reads characters, not grammar; it would count a denied
        phrase as evidence. Each wide cue (不是, 并非, …) is cut together with the rest
        of its clause up to a clause break or "是/而"; a question ("是不是…") is kept,
        and tight cues (没, 不, …) are left alone: "没人扫", "不亮" are the complaint.
        """
        text = self.texts[row]
        cuts = self._cuts.get(row)
        if not cuts:
            return text
        kept: list[str] = []
        position = 0
        for start, end in sorted(cuts):
            if start > position:
                kept.append(text[position:start])
            position = max(position, end)
        kept.append(text[position:])
        return "".join(kept)


class TextMatcher:
    """Compiled text rules for all scenarios; `read(texts)` and `verdict(text)` are pure."""

    def __init__(self, rules: Mapping[str, TextRules], engine: EngineConfig) -> None:
        self._engine = engine
        self.scenarios: tuple[str, ...] = tuple(rules)  # score columns, in rule order
        self._uses: dict[str, _PhraseUses] = {}
        self._combos: dict[str, list[tuple[Combo, RuleMatch]]] = {}
        self._patterns: dict[str, list[_CompiledPattern]] = {}
        for sid, text_rules in rules.items():
            self._add_scenario(sid, text_rules)
        for phrase, weight in engine.out_of_scope.items():
            key = normalise(phrase)
            self._use(key).out_of_scope = RuleMatch(
                scenario_id=OUT_OF_SCOPE, rule=f"out_of_scope:{key}", weight=weight
            )
        for cue in engine.negation_cues:
            self._use(cue).cue_window = engine.negation_window
        for cue in engine.tight_negation_cues:
            self._use(cue).cue_window = 0
        self._compile_tables()

    def _compile_tables(self) -> None:
        """Per-phrase tables, indexed by the phrase's number in the automaton.

        Why: after the one scan, every question about a hit ("which keywords?", "what
        does it veto, complete or gate?") is answered for all hits of the batch at once
        by indexing these arrays, instead of a dictionary lookup per hit.
        """
        phrases = list(self._uses)
        bad = [phrase for phrase in phrases if not phrase or _SEPARATOR in phrase]
        if bad:
            raise ValueError(f"phrases must be non-empty and free of NUL: {bad[:3]!r}")
        self._phrases = phrases
        self._finder = ahocorasick_rs.AhoCorasick(
            phrases, implementation=ahocorasick_rs.Implementation.DFA
        )
        uses = list(self._uses.values())
        column = {sid: i for i, sid in enumerate(self.scenarios)}
        self._tight = np.array([u.cue_window == 0 for u in uses], dtype=bool)
        self._wide = np.array([bool(u.cue_window) for u in uses], dtype=bool)
        self._keyword_matches = [tuple(u.keywords) for u in uses]
        self._keywords = _Table(
            [[(column[m.scenario_id], m.weight) for m in u.keywords] for u in uses]
        )
        self._oos_matches = [u.out_of_scope for u in uses]
        self._oos = _Table([[(0, u.out_of_scope.weight)] if u.out_of_scope else [] for u in uses])
        self._vetoes = _Table([[(column[sid], 1.0) for sid in u.vetoes] for u in uses])
        self._force = _Table([[(column[u.force], 1.0)] if u.force else [] for u in uses])
        # Combos numbered in rule order; each group of each combo gets a number too.
        self._combo_table = [pair for sid in self._combos for pair in self._combos[sid]]
        combo_ids = {
            (sid, index): number
            for number, (sid, index) in enumerate(
                (sid, index) for sid, combos in self._combos.items() for index in range(len(combos))
            )
        }
        group_ids: dict[tuple[int, int], int] = {}
        for number, (combo, _) in enumerate(self._combo_table):
            for index in range(len(combo.all)):
                group_ids[number, index] = len(group_ids)
        self._group_combo = np.array([c for c, _ in group_ids], dtype=np.int64)
        self._group_index = np.array([g for _, g in group_ids], dtype=np.int64)
        self._combo_size = np.array([len(c.all) for c, _ in self._combo_table], dtype=np.int64)
        self._combo_within = np.array(
            [-1 if c.within is None else c.within for c, _ in self._combo_table], dtype=np.int64
        )
        self._combo_column = np.array(
            [column[m.scenario_id] for _, m in self._combo_table], dtype=np.int64
        )
        self._combo_weight = np.array([m.weight for _, m in self._combo_table], dtype=np.float64)
        self._groups = _Table(
            [
                [
                    (group_ids[combo_ids[sid, combo], group], 1.0)
                    for sid, combo, group in u.combo_groups
                ]
                for u in uses
            ]
        )
        # Patterns numbered in (scenario, index) order: the order they are listed in.
        numbered = sorted(
            (sid, i) for sid, patterns in self._patterns.items() for i in range(len(patterns))
        )
        pattern_ids = {key: number for number, key in enumerate(numbered)}
        self._pattern_list = [self._patterns[sid][i] for sid, i in numbered]
        self._pattern_column = [column[sid] for sid, _ in numbered]
        self._gates = _Table([[(pattern_ids[gate], 1.0) for gate in u.gates] for u in uses])

    # ------------------------------------------------------------------ build

    def _use(self, phrase: str) -> _PhraseUses:
        return self._uses.setdefault(normalise(phrase), _PhraseUses())

    def expand(self, term: str) -> list[str]:
        """A term, or the phrases of the shared vocabulary it names ("@night")."""
        if term.startswith("@"):
            return list(self._engine.vocab[term[1:]])
        return [term]

    def _add_scenario(self, sid: str, text_rules: TextRules) -> None:
        for phrase, weight in text_rules.keywords.items():
            key = normalise(phrase)
            self._use(key).keywords.append(
                RuleMatch(scenario_id=sid, rule=f"keyword:{key}", weight=weight)
            )
        for phrase in text_rules.veto:
            self._use(phrase).vetoes.append(sid)
        for phrase in text_rules.force:
            self._use(phrase).force = sid
        self._combos[sid] = [
            (combo, RuleMatch(scenario_id=sid, rule=f"combo:{combo.name}", weight=combo.weight))
            for combo in text_rules.combos
        ]
        for combo_index, combo in enumerate(text_rules.combos):
            for group_index, group in enumerate(combo.all):
                for term in group:
                    for phrase in self.expand(term):
                        self._use(phrase).combo_groups.append((sid, combo_index, group_index))
        self._patterns[sid] = []
        for pattern_index, pattern in enumerate(text_rules.patterns):
            self._patterns[sid].append(
                _CompiledPattern(
                    re.compile(pattern.regex),
                    RuleMatch(
                        scenario_id=sid, rule=f"pattern:{pattern.name}", weight=pattern.weight
                    ),
                )
            )
            for term in pattern.gate:
                for phrase in self.expand(term):
                    self._use(phrase).gates.append((sid, pattern_index))

    # ------------------------------------------------------------------ one text

    def verdict(self, raw_text: str) -> TextVerdict:
        return self.read([raw_text]).verdict(0)

    def affirmed(self, raw_text: str) -> str:
        """The text without what a negation cue denies (TextReading.affirmed)."""
        return self.read([raw_text]).affirmed(0)

    # ------------------------------------------------------------------ a batch

    def read(self, raw_texts: Sequence[str]) -> TextReading:
        """Every text's scores, vetoes, force and out-of-scope weight, as arrays."""
        texts = [normalise(text) for text in raw_texts]
        count, columns = len(texts), len(self.scenarios)
        joined = _SEPARATOR.join(texts)
        offsets = np.zeros(count + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=count) + 1, out=offsets[1:])
        found = self._finder.find_matches_as_indexes(joined, overlapping=True)
        flat = np.fromiter(chain.from_iterable(found), dtype=np.int64, count=3 * len(found))
        phrase, start, end = flat.reshape(-1, 3).T
        # Hits in text order: by end, the longer first (as the scan reports them).
        order = np.lexsort((start, end))
        phrase, start, end = phrase[order], start[order], end[order]
        row = np.searchsorted(offsets, start, side="right") - 1
        cuts = self._negation_cuts(joined, offsets, phrase, start, end, row)
        keep = self._affirmed_hits(joined, offsets, phrase, start, end, row)
        if keep is not None:
            phrase, start, end, row = phrase[keep], start[keep], end[keep], row[keep]

        flat_scores: Floats = np.zeros(count * columns, dtype=np.float64)
        keywords = self._score_keywords(phrase, start, end, row, flat_scores, columns, count)
        combos = self._score_combos(phrase, start, row, flat_scores, columns, count)
        patterns = self._score_patterns(texts, phrase, row, flat_scores, columns)
        scores: Floats = flat_scores.reshape(count, columns)

        vetoed = np.zeros((count, columns), dtype=bool)
        owner, column, _ = self._vetoes.expand(phrase[self._vetoes.used[phrase]])
        if len(owner):
            vetoed[row[self._vetoes.used[phrase]][owner], column] = True
            scores[vetoed] = 0.0
        forced = self._forced(phrase, row, vetoed, count)

        has_oos = self._oos.used[phrase]
        oos_rows, oos_phrases = _first_occurrences(
            row[has_oos], phrase[has_oos], len(self._phrases)
        )
        _, _, weights = self._oos.expand(oos_phrases)
        out_of_scope: Floats = np.bincount(oos_rows, weights=weights, minlength=count).astype(
            np.float64
        )
        oos = _split(oos_rows, oos_phrases, count)
        return TextReading(
            self,
            texts,
            scores,
            out_of_scope,
            vetoed,
            forced,
            (keywords, combos, patterns, oos),
            cuts,
        )

    def _affirmed_hits(
        self, joined: str, offsets: Ints, phrase: Ints, start: Ints, end: Ints, row: Ints
    ) -> Bools | None:
        """Which hits no negation cue denies (None: all of them).

        A tight cue (没, 不) denies a phrase that starts where it ends ("没|困人"). A wide
        cue (不是, 并非) that does not ask ("是不是") denies a phrase starting at most
        `negation_window` characters after it in the same clause with no "是/而" between.
        If any cue denies a hit, the nearest cue before it does (fewer characters between),
        so only that one is checked.
        """
        denied = np.zeros(len(phrase), dtype=bool)
        tight = self._tight[phrase]
        if tight.any():
            denied |= np.isin(start, end[tight])
        wide = np.flatnonzero(self._wide[phrase])
        cue_ends = [
            e
            for s, e in zip(start[wide].tolist(), end[wide].tolist(), strict=True)
            if not _is_question(joined, s)
        ]
        if cue_ends:
            ends = np.array(sorted(cue_ends), dtype=np.int64)
            nearest = np.searchsorted(ends, start, side="right") - 1
            before = ends[np.maximum(nearest, 0)]
            window = self._engine.negation_window
            close = (nearest >= 0) & (start - before <= window) & (before > offsets[row])
            for hit in np.flatnonzero(close).tolist():
                cue_end, hit_start = int(before[hit]), int(start[hit])
                if not any(ch in _STOPS for ch in joined[cue_end:hit_start]):
                    denied[hit] = True
        if not denied.any():
            return None
        keep: Bools = ~denied
        return keep

    def _negation_cuts(
        self, joined: str, offsets: Ints, phrase: Ints, start: Ints, end: Ints, row: Ints
    ) -> dict[int, list[tuple[int, int]]]:
        """Per text, the stretches a wide cue denies: the cue and the rest of its clause
        (at most twice the window), for the text the learned scorer reads."""
        cuts: dict[int, list[tuple[int, int]]] = {}
        wide = np.flatnonzero(self._wide[phrase])
        if not len(wide):
            return cuts
        window = self._engine.negation_window
        for s, e, r in zip(
            start[wide].tolist(), end[wide].tolist(), row[wide].tolist(), strict=True
        ):
            if _is_question(joined, s):
                continue
            limit = min(int(offsets[r + 1]) - 1, e + 2 * window)
            while e < limit and joined[e] not in _STOPS:
                e += 1
            base = int(offsets[r])
            cuts.setdefault(r, []).append((s - base, e - base))
        return cuts

    def _score_keywords(
        self,
        phrase: Ints,
        start: Ints,
        end: Ints,
        row: Ints,
        scores: Floats,
        columns: int,
        count: int,
    ) -> list[list[int]]:
        """Keyword weights into `scores`; per text, the phrases that counted, in order.

        A keyword hit inside a longer keyword hit does not count, and a phrase counts
        once per text. Texts lie apart in the joined batch, so one running maximum of
        the hits' ends serves every text.
        """
        has = self._keywords.used[phrase]
        k_phrase, k_start, k_end, k_row = phrase[has], start[has], end[has], row[has]
        order = np.lexsort((-k_end, k_start))
        k_phrase, k_end, k_row = k_phrase[order], k_end[order], k_row[order]
        reach = np.maximum.accumulate(k_end) if len(k_end) else k_end
        outermost = np.ones(len(k_end), dtype=bool)
        outermost[1:] = k_end[1:] > reach[:-1]
        rows, phrases = _first_occurrences(
            k_row[outermost], k_phrase[outermost], len(self._phrases)
        )
        owner, column, weight = self._keywords.expand(phrases)
        scores += np.bincount(rows[owner] * columns + column, weights=weight, minlength=len(scores))
        return _split(rows, phrases, count)

    def _score_combos(
        self, phrase: Ints, start: Ints, row: Ints, scores: Floats, columns: int, count: int
    ) -> list[list[int]]:
        """Complete combos' weights into `scores`; per text, the combos that counted in
        the order they were first touched.

        A combo is complete when each of its groups has an affirmed hit; one with
        `within` also needs one hit of each group close enough (for two groups: the
        nearest hit of the other group, found by a sorted search).
        """
        combos: list[list[int]] = [[] for _ in range(count)]
        owner, group, _ = self._groups.expand(phrase)
        if not len(owner):
            return combos
        n_combos = len(self._combo_table)
        g_row, g_start = row[owner], start[owner]
        g_combo = self._group_combo[group]
        key = g_row * n_combos + g_combo
        touched, first = np.unique(key, return_index=True)
        present = np.unique(g_row * len(self._group_combo) + group)
        present_key = (present // len(self._group_combo)) * n_combos + self._group_combo[
            present % len(self._group_combo)
        ]
        groups_hit = np.bincount(np.searchsorted(touched, present_key), minlength=len(touched))
        complete = groups_hit == self._combo_size[touched % n_combos]
        within = self._combo_within[touched % n_combos]
        near = complete & (within >= 0)
        if near.any():
            complete &= ~near | self._close(
                touched, near, key, g_start, self._group_index[group], n_combos
            )
        done = np.flatnonzero(complete)
        done = done[np.argsort(first[done], kind="stable")]
        for k in touched[done].tolist():
            r, c = divmod(k, n_combos)
            combos[r].append(c)
            scores[r * columns + self._combo_column[c]] += self._combo_weight[c]
        return combos

    def _close(
        self,
        touched: Ints,
        near: Bools,
        key: Ints,
        g_start: Ints,
        g_index: Ints,
        n_combos: int,
    ) -> Bools:
        """For each touched (text, combo) marked `near`: do its groups' hits lie within
        the combo's `within`? (Those not marked are left False.)

        `key`, `g_start` and `g_index` describe every group hit: its (text, combo) key,
        where it starts and which group of the combo it is, in the order of the hits.
        """
        ok = np.zeros(len(touched), dtype=bool)
        where = np.searchsorted(touched, key)
        size = self._combo_size[key % n_combos]
        two = near[where] & (size == 2)
        a = np.flatnonzero(two & (g_index == 0))
        b = np.flatnonzero(two & (g_index == 1))
        if len(a) and len(b):
            # Two groups: the nearest hit of group 1 on either side of each group-0 hit
            # with the same key decides. Sorting by (key, start) keeps keys apart.
            place = key * (int(g_start.max()) + 1) + g_start
            b = b[np.argsort(place[b], kind="stable")]
            at = np.searchsorted(place[b], place[a])
            limit = self._combo_within[key[a] % n_combos]
            close = np.zeros(len(a), dtype=bool)
            for side in (at - 1, at):
                other = b[np.clip(side, 0, len(b) - 1)]
                close |= (
                    (side >= 0)
                    & (side < len(b))
                    & (key[other] == key[a])
                    & (np.abs(g_start[other] - g_start[a]) <= limit)
                )
            ok[where[a[close]]] = True
        for index in np.flatnonzero(near & (self._combo_size[touched % n_combos] > 2)).tolist():
            # Three or more groups (rare): the first group's hits anchor, as written.
            mine = np.flatnonzero(key == touched[index])
            groups: dict[int, list[int]] = {}
            for g, s in zip(g_index[mine].tolist(), g_start[mine].tolist(), strict=True):
                groups.setdefault(g, []).append(s)
            within = int(self._combo_within[touched[index] % n_combos])
            ok[index] = _close_enough(list(groups.values()), within)
        return ok

    def _score_patterns(
        self, texts: list[str], phrase: Ints, row: Ints, scores: Floats, columns: int
    ) -> list[list[int]]:
        """Gated patterns run on their texts; per text, those that fired (rule order)."""
        patterns: list[list[int]] = [[] for _ in texts]
        has = self._gates.used[phrase]
        if not has.any():
            return patterns
        owner, number, _ = self._gates.expand(phrase[has])
        count = len(self._pattern_list)
        for key in np.unique(row[has][owner] * count + number).tolist():
            r, p = divmod(key, count)
            pattern = self._pattern_list[p]
            if pattern.regex.search(texts[r]):
                patterns[r].append(p)
                scores[r * columns + self._pattern_column[p]] += pattern.match.weight
        return patterns

    def _forced(self, phrase: Ints, row: Ints, vetoed: Bools, count: int) -> list[str | None]:
        """An affirmed force phrase decides; two that disagree cancel; a veto wins."""
        forced: list[str | None] = [None] * count
        has = self._force.used[phrase]
        if not has.any():
            return forced
        owner, column, _ = self._force.expand(phrase[has])
        named: dict[int, set[int]] = {}
        for r, c in zip(row[has][owner].tolist(), column.tolist(), strict=True):
            if not vetoed[r, c]:
                named.setdefault(r, set()).add(c)
        for r, columns in named.items():
            if len(columns) == 1:
                forced[r] = self.scenarios[columns.pop()]
        return forced

    # ------------------------------------------------------------------ explain

    def _verdict_of(self, reading: TextReading, row: int) -> TextVerdict:
        """One text's verdict: its best scenario, confidence, runner-up and the rules
        that counted for the top two."""
        positive, vetoed = reading.per_text()
        ranked = sorted(positive[row], reverse=True)
        credits, out_of_scope = reading.credits(row)
        return self._decide(
            ranked,
            credits,
            out_of_scope,
            float(reading.out_of_scope[row]),
            vetoed.get(row, frozenset()),
            reading.forced[row],
        )

    def _decide(
        self,
        ranked: list[tuple[float, str]],
        credits: list[RuleMatch],
        out_of_scope: list[RuleMatch],
        oos_score: float,
        denied: frozenset[str],
        forced: str | None,
    ) -> TextVerdict:
        positive = {sid: score for score, sid in ranked}

        def verdict(
            sid: str | None, confidence: float, other: str | None, shown: list[RuleMatch], why: str
        ) -> TextVerdict:
            return TextVerdict(
                sid, confidence, other, shown, why, positive, oos_score, denied, forced
            )

        if not ranked:
            reason = "out of scope" if out_of_scope else "no text rule matched"
            return verdict(None, 0.0, None, out_of_scope, reason)
        top_score, top = ranked[0]
        runner_score, runner = ranked[1] if len(ranked) > 1 else (0.0, None)
        shown = [match for match in credits if match.scenario_id == top] + out_of_scope
        if runner is not None:
            shown += [match for match in credits if match.scenario_id == runner]
        if oos_score >= top_score:
            reason = f"out of scope ({oos_score:g} ≥ {top} score {top_score:g})"
            return verdict(None, 0.0, top, shown, reason)
        sureness = min(1.0, top_score / self._engine.saturation)
        margin = top_score / (top_score + runner_score + oos_score)
        confidence = round(sureness * margin, 3)
        if confidence < self._engine.threshold:
            reason = f"confidence {confidence:g} below threshold {self._engine.threshold:g}"
            return verdict(None, confidence, top, shown, reason)
        return verdict(top, confidence, runner, shown, f"text score {top_score:g}")


def _first_occurrences(rows: Ints, phrases: Ints, n_phrases: int) -> tuple[Ints, Ints]:
    """(row, phrase) pairs, each kept at its first occurrence, in the order given."""
    if not len(rows):
        return rows, phrases
    _, first = np.unique(rows * n_phrases + phrases, return_index=True)
    first.sort()
    return rows[first], phrases[first]


def _split(rows: Ints, values: Ints, count: int) -> list[list[int]]:
    """Values grouped by row (rows ascending), one list per row."""
    bounds = _bounds(rows, count)
    flat = values.tolist()
    return [flat[bounds[r] : bounds[r + 1]] for r in range(count)]


def _is_question(text: str, cue_start: int) -> bool:
    """ "是不是…" asks; it does not negate."""
    return cue_start > 0 and text[cue_start - 1] == "是"


def _close_enough(groups: list[list[int]], within: int) -> bool:
    """True when some choice of one hit per group (their starts; groups in the order
    first hit) spans at most `within` characters of the first group's hit."""
    first, *rest = groups
    for anchor in first:
        if all(any(abs(start - anchor) <= within for start in group) for group in rest):
            return True
    return False
