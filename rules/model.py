"""The learned scorer: calibrated scenario probabilities from the labelled corpus.

Why: the YAML rules are exact but brittle; a text that names its problem in words
nobody wrote down scores weakly or goes to a look-alike. A linear model over character
n-grams, trained on every labelled text, supplies that missing evidence; the rules stay
the authority (rules/classify.py decides how the two combine).

How it is built (`cityops rules build-model`, scikit-learn, offline): TF-IDF over
character 1- to 3-grams of each run of text between punctuation (sublinear tf, grams
seen in at least two texts), a LinearSVC one-vs-rest, calibrated by
CalibratedClassifierCV (sigmoid, cross-validated, one final classifier). Out-of-scope
texts (label null) are their own class, `TRIAGE`.

What is shipped (`rules/model/classifier.npz`): plain arrays only, read with
`allow_pickle=False`, so loading runs no code from the file and needs no scikit-learn:
the vocabulary, idf, weights, intercepts and each class's sigmoid, plus a JSON header
(settings, the SHA-256 of the corpus it was trained on, cross-validated figures).
Inference here repeats what scikit-learn does, in numpy: tests check both agree.

Pure once loaded: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix

from cityops.rules.text import normalise

TRIAGE = "_triage"  # the class of out-of-scope texts (expected_scenario null)
FORMAT = 1  # bumped when the file layout changes; an older file must be rebuilt

# Punctuation and spaces end a run: grams never straddle them ("，来" says nothing).
_NOT_TEXT = re.compile(r"[\s\u3000-\u303f\uff00-\uff0f\uff1a-\uff20!-/:-@\[-`{-~]+")

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class LabelledText:
    """One training text; scenario_id None means out of scope (triage)."""

    id: str
    text: str
    scenario_id: str | None


@dataclass(frozen=True)
class ModelSettings:
    """What build-model fits; part of the file, so a rebuild can be repeated exactly."""

    max_n: int = 3  # character 1..max_n grams
    min_df: int = 2  # a gram in one text only is noise and doubles the file
    c: float = 0.5  # LinearSVC regularisation
    folds: int = 5  # calibration and the cross-validated accuracy

    def to_json(self) -> dict[str, Any]:
        return {"max_n": self.max_n, "min_df": self.min_df, "c": self.c, "folds": self.folds}


def grams(text: str, max_n: int = 3) -> list[str]:
    """Character 1..max_n grams of each run of text between punctuation."""
    found: list[str] = []
    for run in _NOT_TEXT.split(normalise(text)):
        size = len(run)
        for n in range(1, max_n + 1):
            found += [run[i : i + n] for i in range(size - n + 1)]
    return found


def corpus_digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@dataclass
class ModelData:
    """Everything inference needs, as arrays; what the .npz file holds."""

    classes: list[str]  # scenario ids and TRIAGE, column order of weights
    vocabulary: list[str]
    idf: Floats  # (features,)
    weights: Floats  # (features, classes)
    intercept: Floats  # (classes,)
    sigmoid_a: Floats  # (classes,) calibrated p = 1 / (1 + exp(a * decision + b))
    sigmoid_b: Floats
    settings: ModelSettings
    corpus_sha256: str
    figures: dict[str, Any] = field(default_factory=dict)  # cross-validated accuracy etc.

    def save(self, path: Path) -> None:
        header = {
            "format": FORMAT,
            "classes": self.classes,
            "settings": self.settings.to_json(),
            "corpus_sha256": self.corpus_sha256,
            "figures": self.figures,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            np.savez_compressed(
                handle,
                header=np.array(json.dumps(header, ensure_ascii=False, sort_keys=True)),
                vocabulary=np.array(self.vocabulary),
                idf=self.idf,
                weights=self.weights,
                intercept=self.intercept,
                sigmoid_a=self.sigmoid_a,
                sigmoid_b=self.sigmoid_b,
            )

    @classmethod
    def load(cls, path: Path) -> ModelData:
        """Arrays only: allow_pickle=False refuses any object array, so no code runs."""
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            if header.get("format") != FORMAT:
                raise ValueError(f"model format {header.get('format')}, expected {FORMAT}")
            return cls(
                classes=list(header["classes"]),
                vocabulary=data["vocabulary"].tolist(),
                idf=data["idf"],
                weights=data["weights"],
                intercept=data["intercept"],
                sigmoid_a=data["sigmoid_a"],
                sigmoid_b=data["sigmoid_b"],
                settings=ModelSettings(**header["settings"]),
                corpus_sha256=header["corpus_sha256"],
                figures=header["figures"],
            )


class Scorer:
    """Calibrated class probabilities of a text; `proba` and `proba_many` are pure.

    Why numpy keys: a gram of up to three characters is one 63-bit integer (21 bits a
    code point), so a whole batch's grams are found in the vocabulary by one sorted
    search, with no Python loop over grams. Runs are cut at the same punctuation as in
    training (`grams`), so the features are exactly those scikit-learn saw.
    """

    def __init__(self, data: ModelData) -> None:
        self.data = data
        self.classes = data.classes
        self.index = {label: i for i, label in enumerate(data.classes)}
        self._max_n = data.settings.max_n
        if self._max_n > 3:
            raise ValueError("grams longer than 3 characters do not fit a 64-bit key")
        keys = np.array([_key(gram) for gram in data.vocabulary], dtype=np.uint64)
        self._index = _GramIndex(keys)
        self._features = len(data.vocabulary)
        self._idf = data.idf.astype(np.float64)
        self._weights = np.ascontiguousarray(data.weights, dtype=np.float32)
        self._intercept = data.intercept.astype(np.float64)
        self._a = data.sigmoid_a.astype(np.float64)
        self._b = data.sigmoid_b.astype(np.float64)

    def features(self, texts: Sequence[str]) -> csr_matrix:
        """Unit-length sublinear TF-IDF rows, one per text."""
        # Text boundaries are 1, punctuation 0: neither is part of any gram. Punctuation
        # is looked up in a table of what _NOT_TEXT matches (a regex pass over the
        # batch cost as much as the rest of this function).
        joined = "\x01".join(map(normalise, texts))
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        codes[_punctuation()[np.minimum(codes, _BMP - 1)] & (codes < _BMP)] = 0
        document = np.cumsum(codes == 1)
        usable = codes > 1
        keys = [codes[usable]]
        owners = [document[usable]]
        gram, valid = codes, usable
        for n in range(2, self._max_n + 1):
            gram = (gram[:-1] << np.uint64(21)) | codes[n - 1 :]
            valid = valid[:-1] & usable[n - 1 :]
            keys.append(gram[valid])
            owners.append(document[: len(valid)][valid])
        all_keys = np.concatenate(keys)
        all_owners = np.concatenate(owners)
        columns = self._index.find(all_keys)
        known = columns >= 0
        cells = all_owners[known].astype(np.int64) * self._features + columns[known]
        cells, counts = np.unique(cells, return_counts=True)
        rows, columns = np.divmod(cells, self._features)
        values = self._idf[columns] * (1.0 + np.log(counts))
        norms = np.sqrt(np.bincount(rows, values * values, minlength=len(texts)))
        values /= norms[rows]
        # Cells are sorted by row, then column: the CSR arrays directly, no COO step.
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(texts)), out=indptr[1:])
        return csr_matrix(
            (values.astype(np.float32), columns, indptr), shape=(len(texts), self._features)
        )

    def _calibrate(self, decision: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """One-vs-rest sigmoids, normalised to sum to 1 (scikit-learn's multiclass rule)."""
        proba = 1.0 / (1.0 + np.exp(self._a * decision + self._b))
        total = proba.sum(axis=-1, keepdims=True)
        uniform = np.full_like(proba, 1.0 / proba.shape[-1])
        return np.where(total > 0, proba / np.where(total > 0, total, 1.0), uniform)

    def decision(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """The linear model's scores, one row per text: one sparse product for all."""
        product = self.features(texts) @ self._weights
        return np.asarray(product, dtype=np.float64) + self._intercept

    def proba(self, text: str) -> npt.NDArray[np.float64]:
        """One text's probabilities over `classes` (they sum to 1)."""
        row: npt.NDArray[np.float64] = self.proba_many([text])[0]
        return row

    def proba_many(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        if not texts:
            return np.zeros((0, len(self.classes)))
        return self._calibrate(self.decision(texts))


_BMP = 0x10000


@lru_cache(maxsize=1)
def _punctuation() -> npt.NDArray[np.bool_]:
    """Which code points _NOT_TEXT matches, as a table (all of them lie in the BMP)."""
    table = np.zeros(_BMP, dtype=bool)
    every = "".join(chr(c) for c in range(_BMP) if not 0xD800 <= c < 0xE000)
    offset = [c for c in range(_BMP) if not 0xD800 <= c < 0xE000]
    for match in _NOT_TEXT.finditer(every):
        table[offset[match.start()] : offset[match.end() - 1] + 1] = True
    return table


_EMPTY = np.uint64(2**64 - 1)  # no gram key is this large (63 bits at most)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: spreads nearby keys apart


class _GramIndex:
    """The vocabulary column of each gram key: an open-addressing hash table in numpy.

    Why: looking a batch's grams up needs no sort (a sorted search needed one), and
    every probe is a vectorised step over the grams still unresolved. The table is at
    least four times the vocabulary, so probe sequences stay short.
    """

    def __init__(self, keys: npt.NDArray[np.uint64]) -> None:
        bits = max(4, (4 * len(keys)).bit_length())
        self._shift = np.uint64(64 - bits)
        self._mask = (1 << bits) - 1
        self._keys = np.full(1 << bits, _EMPTY, dtype=np.uint64)
        self._columns = np.full(1 << bits, -1, dtype=np.int64)
        self._order = np.argsort(keys)
        self._sorted = keys[self._order]
        slot = self._home(keys)
        pending = np.arange(len(keys))
        while len(pending):
            free = pending[self._keys[slot[pending]] == _EMPTY]
            _, first = np.unique(slot[free], return_index=True)
            placed = free[first]  # one key per free slot; the others probe on
            self._keys[slot[placed]] = keys[placed]
            self._columns[slot[placed]] = placed
            pending = np.setdiff1d(pending, placed, assume_unique=True)
            slot[pending] = (slot[pending] + 1) & self._mask

    def _home(self, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        return ((keys * _MIX) >> self._shift).astype(np.int64)

    def find(self, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
        """Each key's column, or -1 when the vocabulary does not hold it."""
        slot = self._home(keys)
        stored = self._keys[slot]
        hit = stored == keys
        found: npt.NDArray[np.int64] = np.where(hit, self._columns[slot], -1)
        todo = np.flatnonzero(~hit & (stored != _EMPTY))  # a collision: probe on
        for _ in range(2):
            if not len(todo):
                return found
            here = (slot[todo] + 1) & self._mask
            slot[todo] = here
            stored = self._keys[here]
            hit = stored == keys[todo]
            found[todo[hit]] = self._columns[here[hit]]
            todo = todo[~hit & (stored != _EMPTY)]
        if len(todo):  # the few in long probe runs: one sorted search, not a step each
            where = np.searchsorted(self._sorted, keys[todo])
            where[where == len(self._sorted)] = 0
            known = self._sorted[where] == keys[todo]
            found[todo[known]] = self._order[where[known]]
        return found


def _key(gram: str) -> int:
    """A gram of 1-3 characters as one integer: 21 bits a character, longer = larger."""
    key = 0
    for char in gram:
        key = (key << 21) | ord(char)
    return key


# --------------------------------------------------------------------------- building


def build(
    texts: Sequence[LabelledText],
    corpus_sha256: str,
    settings: ModelSettings = ModelSettings(),
    *,
    evaluate: bool = True,
) -> ModelData:
    """Fit the model with scikit-learn (imported here: loading never needs it); with
    `evaluate`, cross-validate it too.

    Why one BLAS thread: the sigmoid calibration runs L-BFGS on two numbers per class
    (348 small problems a build), and OpenBLAS's two threads synchronising on every
    tiny call cost about ten times the work itself, worst when the cores are busy
    (measured: 54 ms wall and 11 ms CPU per calibration, against 6 and 1 in one
    thread). The answers do not depend on it.
    """
    tokens = [grams(t.text, settings.max_n) for t in texts]
    data = _fit(texts, tokens, corpus_sha256, settings)
    if evaluate:
        data.figures.update(cross_validate(texts, settings, tokens=tokens))
    return data


def _given(tokens: list[str]) -> list[str]:
    """The analyzer of pre-computed grams: each text's grams are computed once a build."""
    return tokens


def _fit(
    texts: Sequence[LabelledText],
    tokens: Sequence[list[str]],
    corpus_sha256: str,
    settings: ModelSettings,
) -> ModelData:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC
    from threadpoolctl import threadpool_limits

    labels = [t.scenario_id or TRIAGE for t in texts]
    vectorizer = TfidfVectorizer(
        analyzer=_given, sublinear_tf=True, min_df=settings.min_df, dtype=np.float32
    )
    model = CalibratedClassifierCV(
        LinearSVC(C=settings.c, random_state=0),
        cv=settings.folds,
        method="sigmoid",
        ensemble=False,
    )
    with threadpool_limits(limits=1):
        matrix = vectorizer.fit_transform(tokens)
        model.fit(matrix, labels)
    calibrated = model.calibrated_classifiers_[0]
    svc = calibrated.estimator
    vocabulary = [""] * len(vectorizer.vocabulary_)
    for gram, column in vectorizer.vocabulary_.items():
        vocabulary[column] = gram
    return ModelData(
        classes=[str(label) for label in model.classes_],
        vocabulary=vocabulary,
        idf=vectorizer.idf_.astype(np.float32),
        weights=np.ascontiguousarray(svc.coef_.T, dtype=np.float32),
        intercept=svc.intercept_.astype(np.float32),
        sigmoid_a=np.array([c.a_ for c in calibrated.calibrators], dtype=np.float32),
        sigmoid_b=np.array([c.b_ for c in calibrated.calibrators], dtype=np.float32),
        settings=settings,
        corpus_sha256=corpus_sha256,
        figures={"texts": len(texts), "classes": len(model.classes_), "features": len(vocabulary)},
    )


def cross_validate(
    texts: Sequence[LabelledText],
    settings: ModelSettings,
    *,
    tokens: Sequence[list[str]] | None = None,
) -> dict[str, Any]:
    """Stratified k-fold accuracy of the model alone, every fold refitted from scratch.

    (Running the folds in two processes was tried: on this shared 2-core machine it
    was no faster, spawned workers re-import scikit-learn, and forking BLAS is fragile.)
    """
    from sklearn.model_selection import StratifiedKFold

    if tokens is None:
        tokens = [grams(t.text, settings.max_n) for t in texts]
    labels = [t.scenario_id or TRIAGE for t in texts]
    splits = StratifiedKFold(n_splits=settings.folds, shuffle=True, random_state=0)
    folds = [
        (
            [texts[i] for i in train],
            [tokens[i] for i in train],
            [texts[i].text for i in test],
            [labels[i] for i in test],
            settings,
        )
        for train, test in splits.split(np.zeros(len(labels)), labels)
    ]
    scores = [_score_fold(fold) for fold in folds]
    right = sum(r for r, _ in scores)
    triaged = sum(t for _, t in scores)
    return {
        "cv_folds": settings.folds,
        "cv_right": right,
        "cv_total": len(texts),
        "cv_accuracy": round(right / len(texts), 4),
        "cv_triage": triaged,
    }


_Fold = tuple[list[LabelledText], list[list[str]], list[str], list[str], ModelSettings]


def _score_fold(fold: _Fold) -> tuple[int, int]:
    """Train on a fold's training part; (right, sent to triage) on its test part."""
    train, train_tokens, test_texts, test_labels, settings = fold
    model = _fit(train, train_tokens, "", settings)
    proba = Scorer(model).proba_many(test_texts)
    got = [model.classes[int(column)] for column in proba.argmax(axis=1)]
    right = sum(g == want for g, want in zip(got, test_labels, strict=True))
    return right, sum(g == TRIAGE for g in got)
