"""Does the learned scorer help on texts neither it nor the rules have seen?

The current rules and model were tuned and trained on every labelled set, so measuring
them there says nothing. Instead, for each held-out set, take the rules as they were
just before that set was tuned in (from git), train a model on the sets written before
it only, and score the set with the rules alone and with rules + model:

    holdout_7: rules at b478cbe (main when it was written), corpus dev … holdout_6
    holdout_6: rules at 0d30819 (before it joined the corpus), corpus dev … holdout_5
    holdout_5: rules at 2078408, corpus dev … holdout_4
    holdout_4: rules at 65af4db, corpus dev … holdout_3
    holdout_3: rules at c401a91^, corpus dev … holdout_2

Old rules get today's `model:` and `cues:` engine settings (they are part of the
method measured, not of the vocabulary). The blend settings were chosen on holdouts 3–5
only; holdout 6 was scored once with them. Then the current rules and model on
made-up out-of-scope calls no labelled set holds.

Accuracy, misroutes (a wrong scenario dispatched, including a scenario for an
out-of-scope call) and triage (no scenario) are counted separately. Last, pooled over
the sets run: how often a dispatched call is right at each confidence, and how often
the top 3 candidates hold the right scenario (does confidence mean anything?).

    .venv/bin/python -m cityops.benchmarks.eval_model            # figures
    .venv/bin/python -m cityops.benchmarks.eval_model --misses   # and each miss
    .venv/bin/python -m cityops.benchmarks.eval_model --sets rules_holdout_5,rules_holdout_4
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from cityops.benchmarks.build_corpus import SETS, labelled_rows, write_corpus
from cityops.domain.models import TicketIntake
from cityops.domain.stages import Source
from cityops.rules.build import build_file
from cityops.rules.classify import classify_many
from cityops.rules.load import ENGINE_FILE, RULES_DIR, RuleSet, load_rules

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Experiment:
    held_out: str
    rules_commit: str | None  # None: the rules as they are in the working tree
    corpus_sets: tuple[str, ...]


def _before(name: str) -> tuple[str, ...]:
    return SETS[: SETS.index(name)] if name in SETS else SETS


EXPERIMENTS = (
    Experiment("rules_holdout_7", "b478cbe", _before("rules_holdout_7")),
    Experiment("rules_holdout_6", "0d30819", _before("rules_holdout_6")),
    Experiment("rules_holdout_5", "2078408", _before("rules_holdout_5")),
    Experiment("rules_holdout_4", "65af4db", _before("rules_holdout_4")),
    Experiment("rules_holdout_3", "c401a91^", _before("rules_holdout_3")),
)

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
    total: int
    right: int
    misrouted: int
    triaged: int
    cue_total: int
    cue_right: int
    secondary_total: int
    secondary_right: int
    # (confidence, right) of each call sent to a scenario: does confidence mean anything?
    dispatched: tuple[tuple[float, bool], ...] = ()
    top3_total: int = 0  # scenario calls, and how many list the right one in their top 3
    top3_right: int = 0

    def line(self) -> str:
        n = self.total
        text = (
            f"{self.right}/{n} = {self.right / n:.1%} right, misrouted {self.misrouted} "
            f"({self.misrouted / n:.1%}), triage {self.triaged} ({self.triaged / n:.1%})"
        )
        if self.cue_total:
            text += f"; two-problem calls main right {self.cue_right}/{self.cue_total}"
        if self.secondary_total:
            text += f", secondary right {self.secondary_right}/{self.secondary_total}"
        return text


def score(rows: list[dict[str, Any]], rules: RuleSet, show: bool = False) -> Score:
    intakes = [
        TicketIntake(ticket_id=row["id"], source=Source.HOTLINE, text=row["text"], received_at=NOW)
        for row in rows
    ]
    right = misrouted = triaged = cue_total = cue_right = sec_total = sec_right = 0
    top3_total = top3_right = 0
    dispatched: list[tuple[float, bool]] = []
    for row, result in zip(rows, classify_many(intakes, rules), strict=True):
        got = result.scenario.id if result.scenario else None
        want = row["expected_scenario"]
        right += got == want
        triaged += got is None
        misrouted += got is not None and got != want
        if got is not None:
            dispatched.append((result.confidence, got == want))
        if want is not None:
            top3_total += 1
            top3_right += want in [c.scenario_id for c in result.candidates]
        if row.get("expected_secondary"):
            cue_total += 1
            cue_right += got == want
            sec_total += 1
            sec_right += (result.secondary.scenario.id if result.secondary else None) == row[
                "expected_secondary"
            ]
        if show and got != want:
            print(
                f"    MISS {row['id']} want {want} got {got} ({result.confidence:g}, "
                f"{result.reason}) {row['text'][:50]}"
            )
    return Score(
        len(rows),
        right,
        misrouted,
        triaged,
        cue_total,
        cue_right,
        sec_total,
        sec_right,
        tuple(dispatched),
        top3_total,
        top3_right,
    )


BANDS = (0.35, 0.5, 0.7, 0.9, 1.01)


def print_calibration(scores: list[Score]) -> None:
    """Pooled over the blind experiments: how often a dispatched call is right at each
    confidence, and how often the top 3 candidates hold the right scenario."""
    pairs = [pair for score in scores for pair in score.dispatched]
    print(f"confidence of calls sent to a scenario, rules + model, pooled ({len(pairs)} calls):")
    for low, high in itertools.pairwise(BANDS):
        band = [right for confidence, right in pairs if low <= confidence < high]
        if band:
            print(
                f"    {low:.2f}-{min(high, 1.0):.2f}: {len(band)} calls, "
                f"{sum(band) / len(band):.1%} right, {len(band) - sum(band)} misrouted"
            )
    total = sum(score.top3_total for score in scores)
    hit = sum(score.top3_right for score in scores)
    if total:
        print(
            f"    the right scenario among the top 3 candidates: {hit}/{total} = {hit / total:.1%}"
        )


def old_rules(commit: str, into: Path) -> Path:
    """The rule files of `commit`, with today's model and cues engine settings."""
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
    today = yaml.safe_load((RULES_DIR / ENGINE_FILE).read_text("utf-8"))
    engine = into / ENGINE_FILE
    old = yaml.safe_load(engine.read_text("utf-8"))
    extra = {key: today[key] for key in ("model", "cues") if key in today and key not in old}
    if extra:
        with engine.open("a", encoding="utf-8") as handle:
            handle.write("\n" + yaml.safe_dump(extra, allow_unicode=True))
    return into


def run(experiment: Experiment, scratch: Path, show: bool) -> tuple[Score, Score]:
    where = scratch / experiment.held_out
    if experiment.rules_commit is None:
        rules_dir = RULES_DIR
    else:
        rules_dir = old_rules(experiment.rules_commit, where / "rules")
    corpus = where / "labelled.jsonl"
    write_corpus(labelled_rows(experiment.corpus_sets), corpus)
    model = where / "classifier.npz"
    build_file(corpus, model, evaluate=False)
    alone = load_rules(rules_dir, corpus=None)
    helped = load_rules(rules_dir, corpus=corpus, model=model)
    rows = labelled_rows([experiment.held_out], extra=("expected_secondary",))
    print(
        f"{experiment.held_out} ({len(rows)} lines): rules "
        f"{experiment.rules_commit or 'as they are'}, model trained on "
        f"{experiment.corpus_sets[0]} … {experiment.corpus_sets[-1]}"
    )
    before, after = score(rows, alone), score(rows, helped, show)
    print(f"    rules alone:   {before.line()}")
    print(f"    rules + model: {after.line()}")
    return before, after


def probe_out_of_scope(show: bool) -> None:
    rows = [
        {"id": f"OOS-{n:02d}", "text": text, "expected_scenario": None}
        for n, text in enumerate(OUT_OF_SCOPE_PROBE, 1)
    ]
    print(f"made-up out-of-scope calls, current rules and model: {len(rows)} lines")
    print(f"    rules alone:   {score(rows, load_rules(corpus=None)).line()}")
    print(f"    rules + model: {score(rows, load_rules(), show).line()}")


def main(argv: list[str]) -> int:
    wanted = None
    if "--sets" in argv:
        wanted = set(argv[argv.index("--sets") + 1].split(","))
    helped: list[Score] = []
    with tempfile.TemporaryDirectory(prefix="eval-model-") as scratch:
        for experiment in EXPERIMENTS:
            if wanted is None or experiment.held_out in wanted:
                helped.append(run(experiment, Path(scratch), "--misses" in argv)[1])
    if helped:
        print_calibration(helped)
    if wanted is None:
        probe_out_of_scope("--misses" in argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
