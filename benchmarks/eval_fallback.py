"""Does the similarity fallback help on texts neither it nor the rules have seen?

The current rules were tuned on every labelled set, so measuring them there says
nothing. Instead, for each held-out set, take the rules as they were just before that
set was tuned in (from git), and a corpus built from the sets written before it only:

    holdout_3: rules at c401a91^ (holdout_3 tuning is c401a91), corpus dev + regression
               + holdout_2
    holdout_2: rules at 68596c0^ (holdout_2 tuning is 68596c0), corpus dev + regression;
               its first 257 lines are the original blind set, the last 71 a later probe

and print accuracy with those rules alone and with rules + fallback, the expected-null
rows kept null, and what the fallback answered. The YAML examples the fallback also
learns from are those of the old rules, so nothing from the held-out set leaks in.

    .venv/bin/python -m benchmarks.eval_fallback            # figures
    .venv/bin/python -m benchmarks.eval_fallback --misses   # and each fallback answer
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.build_corpus import labelled_rows, write_corpus
from domain.models import TicketIntake
from domain.stages import Source
from rules.classify import classify
from rules.load import RuleSet, load_rules

REPO = Path(__file__).parents[1]
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Experiment:
    held_out: str
    rules_commit: str  # the rules as they were before the held-out set was tuned in
    corpus_sets: tuple[str, ...]
    blind_lines: int | None = None  # also report the first N lines alone


EXPERIMENTS = (
    Experiment("rules_holdout_3", "c401a91^", ("dev_hotline", "rules_regression",
                                                "rules_holdout_2")),
    Experiment("rules_holdout_2", "68596c0^", ("dev_hotline", "rules_regression"),
               blind_lines=257),
)


def old_rules(commit: str, into: Path) -> Path:
    """The rule files of `commit` written into a directory load_rules() accepts."""
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", commit, "rules/scenarios/"],
        cwd=REPO, check=True, capture_output=True, text=True,
    ).stdout.split()
    into.mkdir(parents=True, exist_ok=True)
    for name in names:
        content = subprocess.run(["git", "show", f"{commit}:{name}"], cwd=REPO, check=True,
                                 capture_output=True).stdout
        (into / Path(name).name).write_bytes(content)
    return into


@dataclass(frozen=True)
class Score:
    right: int
    total: int
    null_right: int
    null_total: int
    answered_by_fallback: int
    fallback_right: int

    def line(self) -> str:
        return (f"{self.right}/{self.total} = {self.right / self.total:.1%}; expected null "
                f"kept null {self.null_right}/{self.null_total}; fallback answered "
                f"{self.answered_by_fallback}, right {self.fallback_right}")


def score(rows: list[dict[str, Any]], rules: RuleSet, show: bool) -> Score:
    right = null_right = null_total = answered = answered_right = 0
    for row in rows:
        intake = TicketIntake(ticket_id=row["id"], source=Source.HOTLINE, text=row["text"],
                              received_at=NOW)
        result = classify(intake, rules)
        got = result.scenario.id if result.scenario else None
        want = row["expected_scenario"]
        right += got == want
        if want is None:
            null_total += 1
            null_right += got is None
        if result.matched and result.matched[0].rule.startswith("similar:"):
            answered += 1
            answered_right += got == want
            if show:
                mark = "ok  " if got == want else "MISS"
                print(f"    {mark} {row['id']} want {want} got {got} "
                      f"({result.matched[0].rule}) {row['text'][:40]}")
    return Score(right, len(rows), null_right, null_total, answered, answered_right)


def run(experiment: Experiment, scratch: Path, show: bool) -> None:
    rules_dir = old_rules(experiment.rules_commit, scratch / experiment.held_out / "rules")
    corpus = scratch / experiment.held_out / "labelled.jsonl"
    write_corpus(labelled_rows(experiment.corpus_sets), corpus)
    alone = load_rules(rules_dir, corpus=None)
    helped = load_rules(rules_dir, corpus=corpus)
    rows = labelled_rows([experiment.held_out])
    print(f"{experiment.held_out}: rules {experiment.rules_commit} ({alone.version}), "
          f"fallback trained on {', '.join(experiment.corpus_sets)} + old YAML examples "
          f"({len(helped.similar or [])} texts)")
    parts = [("all", rows)]
    if experiment.blind_lines:
        parts.append((f"first {experiment.blind_lines}", rows[: experiment.blind_lines]))
    for label, part in parts:
        print(f"  {label} {len(part)} lines")
        print(f"    rules alone:      {score(part, alone, False).line()}")
        print(f"    rules + fallback: {score(part, helped, False).line()}")
    if show:
        print("  fallback answers:")
        score(rows, helped, True)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="eval-fallback-") as scratch:
        for experiment in EXPERIMENTS:
            run(experiment, Path(scratch), "--misses" in argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
