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
Then the current rules and corpus on made-up out-of-scope calls that no labelled set
holds (family matters, weather, parcels, praise): the fallback must leave them null as
the rules alone do.

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

from cityops.benchmarks.build_corpus import labelled_rows, write_corpus
from cityops.domain.models import TicketIntake
from cityops.domain.stages import Source
from cityops.rules.classify import classify
from cityops.rules.load import RuleSet, load_rules

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Experiment:
    held_out: str
    rules_commit: str  # the rules as they were before the held-out set was tuned in
    corpus_sets: tuple[str, ...]
    blind_lines: int | None = None  # also report the first N lines alone


EXPERIMENTS = (
    Experiment(
        "rules_holdout_4",
        "65af4db",
        ("dev_hotline", "rules_regression", "rules_holdout_2", "rules_holdout_3"),
    ),
    Experiment(
        "rules_holdout_3", "c401a91^", ("dev_hotline", "rules_regression", "rules_holdout_2")
    ),
    Experiment("rules_holdout_2", "68596c0^", ("dev_hotline", "rules_regression"), blind_lines=257),
)


def old_rules(commit: str, into: Path) -> Path:
    """The rule files of `commit` written into a directory load_rules() accepts."""
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", commit, "rules/scenarios/"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    into.mkdir(parents=True, exist_ok=True)
    for name in names:
        content = subprocess.run(
            ["git", "show", f"{commit}:{name}"], cwd=REPO, check=True, capture_output=True
        ).stdout
        (into / Path(name).name).write_bytes(content)
    return into


# Out-of-scope calls written for this check only; none is in the corpus.
OUT_OF_SCOPE_PROBE = (
    "我老公天天不回家",
    "我老婆最近老跟我吵架，想让你们评评理",
    "儿子不孝顺，不给生活费",
    "请帮我查一下明天天气怎么样",
    "我想知道社保卡丢了怎么补办",
    "你们热线几点下班",
    "上次那个问题处理得很好，谢谢你们",
    "我要表扬一下街道的王主任",
    "我家猫丢了，白色的，有人看见吗",
    "孩子考试没考好，心情很差",
    "我想找个工作，你们有没有推荐",
    "手机欠费停机了怎么办",
    "想咨询一下公积金怎么提取",
    "我女儿谈了个男朋友我不同意",
    "我就是想找人聊聊天",
    "楼盘什么时候交房",
    "我买的股票跌了",
    "快递送错了，怎么联系快递公司",
    "我想办个护照去哪里办",
    "医院挂号挂不上",
    "我家的wifi老是断",
    "孙子不肯写作业",
    "前夫不付抚养费",
    "我想投诉我同事上班偷懒",
    "网上买的衣服质量不好想退货",
    "外卖送晚了半小时",
    "打错了，不好意思",
    "喂喂，听得到吗",
    "我想给你们提个建议，热线等待音乐太难听",
    "退休工资什么时候涨",
)


@dataclass(frozen=True)
class Score:
    right: int
    total: int
    null_right: int
    null_total: int
    answered_by_fallback: int
    fallback_right: int

    def line(self) -> str:
        return (
            f"{self.right}/{self.total} = {self.right / self.total:.1%}; expected null "
            f"kept null {self.null_right}/{self.null_total}; fallback answered "
            f"{self.answered_by_fallback}, right {self.fallback_right}"
        )


def score(rows: list[dict[str, Any]], rules: RuleSet, show: bool) -> Score:
    right = null_right = null_total = answered = answered_right = 0
    for row in rows:
        intake = TicketIntake(
            ticket_id=row["id"], source=Source.HOTLINE, text=row["text"], received_at=NOW
        )
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
                print(
                    f"    {mark} {row['id']} want {want} got {got} "
                    f"({result.matched[0].rule}) {row['text'][:40]}"
                )
    return Score(right, len(rows), null_right, null_total, answered, answered_right)


def run(experiment: Experiment, scratch: Path, show: bool) -> None:
    rules_dir = old_rules(experiment.rules_commit, scratch / experiment.held_out / "rules")
    corpus = scratch / experiment.held_out / "labelled.jsonl"
    write_corpus(labelled_rows(experiment.corpus_sets), corpus)
    alone = load_rules(rules_dir, corpus=None)
    helped = load_rules(rules_dir, corpus=corpus)
    rows = labelled_rows([experiment.held_out])
    print(
        f"{experiment.held_out}: rules {experiment.rules_commit} ({alone.version}), "
        f"fallback trained on {', '.join(experiment.corpus_sets)} + old YAML examples "
        f"({len(helped.similar or [])} texts)"
    )
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


def probe_out_of_scope(show: bool) -> None:
    rows = [
        {"id": f"OOS-{n:02d}", "text": text, "expected_scenario": None}
        for n, text in enumerate(OUT_OF_SCOPE_PROBE, 1)
    ]
    print(f"made-up out-of-scope calls, current rules and corpus: {len(rows)} lines")
    print(f"    rules alone:      {score(rows, load_rules(corpus=None), False).line()}")
    print(f"    rules + fallback: {score(rows, load_rules(), show).line()}")


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="eval-fallback-") as scratch:
        for experiment in EXPERIMENTS:
            run(experiment, Path(scratch), "--misses" in argv)
    probe_out_of_scope("--misses" in argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
