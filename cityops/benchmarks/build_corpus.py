"""Copy the labelled hotline sets into rules/corpus/labelled.jsonl for the model.

Product code must not read tests/, so the learned scorer (rules/model.py)
learns from its own copy: only id, text and expected_scenario of each labelled line.
Run after a labelled set changes:

    .venv/bin/python -m cityops.benchmarks.build_corpus            # every set
    .venv/bin/python -m cityops.benchmarks.build_corpus --check    # exit 1 when the copy is stale
    cityops rules build-model                               # then retrain the model on it
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cityops.rules.load import CORPUS

DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
# The labelled hotline sets, in the order they were written.
SETS = (
    "dev_hotline",
    "rules_regression",
    "rules_holdout_2",
    "rules_holdout_3",
    "rules_holdout_4",
    "rules_holdout_5",
    # Joined after its blind figure was recorded in docs/rules.md (issue 18).
    "rules_holdout_6",
)


def labelled_rows(sets: Iterable[str], extra: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """id, text and expected_scenario (and the `extra` keys) of every line of the sets."""
    rows = []
    keys = ("id", "text", "expected_scenario", *extra)
    for name in sets:
        for line in (DATA / f"{name}.jsonl").read_text("utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                rows.append({key: record.get(key) for key in keys})
    return rows


def corpus_text(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def write_corpus(rows: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(corpus_text(rows), "utf-8")


def main(argv: list[str]) -> int:
    rows = labelled_rows(SETS)
    if "--check" in argv:
        current = CORPUS.read_text("utf-8") if CORPUS.exists() else ""
        if current != corpus_text(rows):
            print(f"{CORPUS} is stale: run python -m cityops.benchmarks.build_corpus")
            return 1
        print(f"{CORPUS}: {len(rows)} texts, up to date")
        return 0
    write_corpus(rows, CORPUS)
    print(f"wrote {len(rows)} labelled texts from {', '.join(SETS)} to {CORPUS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
