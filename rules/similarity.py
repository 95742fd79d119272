"""A similarity fallback for texts the rules score too weakly: nearest labelled texts.

Why: most texts the rules miss are weak evidence, not wrong evidence: typos ("燃汽",
"红路灯"), symptoms without the scenario's name. Such a text is often close, in its
characters, to a text someone already labelled. This module finds those neighbours.

How: every labelled text becomes a TF-IDF vector over character 1- and 2-grams
(Chinese needs no word segmentation for this); a query's cosine similarity to each
text comes from an inverted index, so only texts sharing a gram are touched. The k
nearest vote with their similarities; texts labelled out of scope (scenario None)
vote for triage and can win. An answer needs both a close enough nearest text of the
winning class (`min_similarity`) and a clear enough share of the vote (`min_share`).

Pure: built once from texts given by the caller, no I/O, no clock.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from operator import add, mul

from cityops.rules.text import normalise

# Punctuation and spaces carry no meaning here and would make grams like "，来".
_NOT_TEXT = re.compile(r"[\s\u3000-\u303f\uff00-\uff0f\uff1a-\uff20!-/:-@\[-`{-~]+")
# Grams are characters and pairs: trigrams measured no better, and cost a third more
# to load.


class _SublinearTf(dict[int, float]):
    """1 + ln(n), remembered: a lookup is cheaper than a log call per gram at load."""

    def __missing__(self, count: int) -> float:
        self[count] = value = 1.0 + math.log(count)
        return value


_TF = _SublinearTf()


def _norm(vector: dict[str, float]) -> float:
    """Euclidean length, 1 for an empty vector; map() keeps the sum in the same order."""
    values = vector.values()
    return math.sqrt(sum(map(mul, values, values))) or 1.0


# From benchmarks/eval_fallback.py: every setting tried helped both held-out sets; a
# looser vote (share 0.4) won a row or two more there but sent made-up out-of-scope
# texts ("我老公天天不回家", "外卖送晚了") to scenarios, so the vote needs a majority.
NEIGHBOURS = 5
MIN_SIMILARITY = 0.15
MIN_SHARE = 0.5
MAX_SPREAD = 0.3


@dataclass(frozen=True)
class LabelledText:
    """One training text; scenario_id None means out of scope (triage)."""

    id: str
    text: str
    scenario_id: str | None


@dataclass(frozen=True)
class SimilarMatch:
    """The vote's outcome. scenario_id None: the closest texts are out of scope."""

    scenario_id: str | None
    example_id: str  # the nearest text of the winning class: shown as the reason
    similarity: float  # cosine of the query to that text, 0..1
    share: float  # the winner's part of the k neighbours' summed similarity


def grams(text: str) -> Counter[str]:
    """Characters and character pairs of each run of text between punctuation."""
    found: list[str] = []  # counted in one C call below; the order fixes the dict order
    for run in _NOT_TEXT.split(normalise(text)):
        found += run  # characters
        found += map(add, run, run[1:])  # pairs
    return Counter(found)


class SimilarityIndex:
    """Labelled texts as TF-IDF vectors in an inverted index; `match(text)` is pure."""

    def __init__(
        self,
        texts: Sequence[LabelledText],
        *,
        neighbours: int = NEIGHBOURS,
        min_similarity: float = MIN_SIMILARITY,
        min_share: float = MIN_SHARE,
        max_spread: float = MAX_SPREAD,
    ) -> None:
        self.neighbours = neighbours
        self.min_similarity = min_similarity
        self.min_share = min_share
        self._texts = list(texts)
        doc_grams = [grams(t.text) for t in self._texts]
        frequency: Counter[str] = Counter()
        for counts in doc_grams:
            frequency.update(counts.keys())
        total = len(self._texts) + 1
        # Grams in more than max_spread of the texts ("来电", "的") say nothing about the
        # scenario and would make every lookup walk most of the index: left out.
        common = max(max_spread * len(self._texts), 1)  # a gram of one text always counts
        # Every idf is at least 1, so 0 can mark a common gram: one lookup answers both
        # "is it common?" and "what is its idf?".
        self._idf = {
            gram: math.log(total / (df + 1)) + 1.0 if df <= common else 0.0
            for gram, df in frequency.items()
        }
        self._unseen_idf = math.log(total) + 1.0  # a gram no labelled text has
        postings: defaultdict[str, list[tuple[int, float]]] = defaultdict(list)
        for index, counts in enumerate(doc_grams):
            raw = self._raw_weights(counts)
            norm = _norm(raw)
            for gram, weight in raw.items():
                postings[gram].append((index, weight / norm))
        self._postings = dict(postings)  # lookups must not add empty lists

    def __len__(self) -> int:
        return len(self._texts)

    def _raw_weights(self, counts: Counter[str]) -> dict[str, float]:
        """Sublinear TF × IDF of each gram that says something about the scenario."""
        idf, unseen, tf = self._idf.get, self._unseen_idf, _TF
        return {g: tf[n] * weight for g, n in counts.items() if (weight := idf(g, unseen))}

    def _weigh(self, counts: Counter[str]) -> dict[str, float]:
        """Sublinear TF × IDF, scaled to unit length (so dot product = cosine)."""
        raw = self._raw_weights(counts)
        norm = _norm(raw)
        return {g: w / norm for g, w in raw.items()}

    def similarities(self, text: str) -> dict[int, float]:
        """Cosine of the text to every labelled text sharing a gram with it."""
        scores: dict[int, float] = {}
        postings = self._postings
        for gram, weight in self._weigh(grams(text)).items():
            for index, doc_weight in postings.get(gram, ()):
                scores[index] = scores.get(index, 0.0) + weight * doc_weight
        return scores

    def match(self, text: str) -> SimilarMatch | None:
        """The k nearest texts' vote, or None when nothing is close or clear enough."""
        scores = self.similarities(text)
        if not scores:
            return None
        nearest = heapq.nlargest(self.neighbours, scores.items(), key=lambda item: item[1])
        votes: dict[str | None, float] = {}
        for index, score in nearest:
            label = self._texts[index].scenario_id
            votes[label] = votes.get(label, 0.0) + score
        winner = max(votes, key=lambda label: votes[label])
        best_index, best_score = next(
            (i, s) for i, s in nearest if self._texts[i].scenario_id == winner
        )
        share = votes[winner] / sum(votes.values())
        if best_score < self.min_similarity or share < self.min_share:
            return None
        return SimilarMatch(
            winner, self._texts[best_index].id, round(best_score, 3), round(share, 3)
        )
