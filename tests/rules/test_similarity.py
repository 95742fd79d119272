"""The similarity fallback: used only when the rules are too weak, null class, corpus file."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cityops.domain.models import Classification, TicketIntake
from cityops.domain.stages import Source
from cityops.rules.classify import classify
from cityops.rules.load import CORPUS, RULES_DIR, RuleFileError, RuleSet, default_rules, load_rules
from cityops.rules.similarity import LabelledText, SimilarityIndex, grams

RULES = default_rules()
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _classify(text: str, rules: RuleSet = RULES) -> Classification:
    return classify(
        TicketIntake(ticket_id="T-1", source=Source.HOTLINE, text=text, received_at=NOW), rules
    )


def _write_corpus(path: Path, rows: list[dict[str, str | None]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


# --------------------------------------------------------------------------- the index


def test_grams_are_characters_and_pairs_within_punctuation() -> None:
    assert grams("燃气，漏") == {"燃": 1, "气": 1, "燃气": 1, "漏": 1}


def test_nearest_labelled_text_names_the_scenario_and_the_example() -> None:
    index = SimilarityIndex(
        [
            LabelledText("a", "楼道里有很重的燃气味", "PS01"),
            LabelledText("b", "小区门口的路灯坏了", "PF01"),
            LabelledText("c", "咨询一下怎么办理居住证", None),
        ],
        neighbours=1,
        min_similarity=0.1,
        min_share=0.5,
        max_spread=1.0,
    )
    match = index.match("楼道里有燃汽味")
    assert match is not None
    assert (match.scenario_id, match.example_id) == ("PS01", "a")
    assert 0.1 <= match.similarity <= 1.0


def test_out_of_scope_neighbours_win_as_triage() -> None:
    index = SimilarityIndex(
        [
            LabelledText("q1", "咨询一下怎么办理居住证", None),
            LabelledText("q2", "想问问居住证办理要什么材料", None),
            LabelledText("g", "楼道里有很重的燃气味", "PS01"),
        ],
        neighbours=3,
        min_similarity=0.1,
        min_share=0.5,
        max_spread=1.0,
    )
    match = index.match("居住证怎么办理")
    assert match is not None and match.scenario_id is None
    assert match.example_id in {"q1", "q2"}


def test_a_text_sharing_nothing_or_too_little_gets_no_answer() -> None:
    index = SimilarityIndex(
        [LabelledText("a", "楼道里有很重的燃气味", "PS01")],
        neighbours=1,
        min_similarity=0.5,
        min_share=0.5,
        max_spread=1.0,
    )
    assert index.match("ABC") is None
    assert index.match("今天天气很好，楼道") is None  # shares "楼道", far below 0.5


def test_grams_in_most_texts_say_nothing_but_rare_ones_count() -> None:
    texts = [LabelledText(f"t{n}", f"来电人反映事情{n}", "PF01") for n in range(9)]
    texts.append(LabelledText("gas", "来电人反映燃气味", "PS01"))
    index = SimilarityIndex(texts, neighbours=1, min_similarity=0.0, min_share=0.5)
    assert index.match("来电人反映") is None  # in every text: left out of the vectors
    match = index.match("燃气")
    assert match is not None and match.example_id == "gas"


def test_a_split_vote_gets_no_answer() -> None:
    index = SimilarityIndex(
        [
            LabelledText("a", "门口有味道", "PS01"),
            LabelledText("b", "门口有声音", "EN01"),
            LabelledText("c", "门口有垃圾", "CA01"),
        ],
        neighbours=3,
        min_similarity=0.0,
        min_share=0.5,
        max_spread=1.0,
    )
    assert index.match("门口有") is None


# --------------------------------------------------------------------------- classify


def test_typo_gas_text_the_rules_miss_is_resolved_by_similarity() -> None:
    text = "楼下一股然气味道"  # 然气: a typo no rule knows
    assert RULES.text.verdict(text).scenario_id is None
    result = _classify(text)
    assert result.scenario is not None and result.scenario.id == "PS01"
    assert result.matched[0].rule.startswith("similar:")
    assert "similar to labelled text" in result.reason


def test_rule_name_shows_the_nearest_labelled_text() -> None:
    result = _classify("楼下一股然气味道")
    example_id = result.matched[0].rule.removeprefix("similar:")
    assert example_id in {t.id for t in _corpus_texts()}
    assert result.matched[0].scenario_id == "PS01"


@pytest.mark.parametrize(
    "text",
    [
        "我老公天天不回家",
        "外卖送晚了半小时",
        "快递送错了，怎么联系快递公司",
        "儿子不孝顺，不给生活费",
        "请帮我查一下明天天气怎么样",
        "喂喂，听得到吗",
    ],
)
def test_out_of_scope_calls_stay_in_triage(text: str) -> None:
    result = _classify(text)
    assert result.scenario is None, result.reason


def test_a_strong_rule_verdict_is_not_second_guessed() -> None:
    result = _classify("楼道里一股很重的煤气味，好像是哪家燃气管漏了")
    assert result.scenario is not None and result.scenario.id == "PS01"
    assert not any(m.rule.startswith("similar:") for m in result.matched)


def test_an_out_of_scope_verdict_is_not_handed_to_the_fallback() -> None:
    text = "咨询一下燃气费在哪里可以缴纳"
    assert RULES.text.verdict(text).reason.startswith("out of scope")
    result = _classify(text)
    assert result.scenario is None
    assert not any(m.rule.startswith("similar:") for m in result.matched)


def test_without_a_corpus_weak_text_goes_to_triage() -> None:
    rules = load_rules(corpus=None)
    assert rules.similar is None
    assert _classify("楼下一股然气味道", rules).scenario is None


# --------------------------------------------------------------------------- corpus file


def _corpus_texts() -> list[LabelledText]:
    rows = [json.loads(line) for line in CORPUS.read_text("utf-8").splitlines() if line]
    return [LabelledText(r["id"], r["text"], r["expected_scenario"]) for r in rows]


def test_yaml_examples_are_learned_alongside_the_corpus(tmp_path: Path) -> None:
    corpus = _write_corpus(
        tmp_path / "labelled.jsonl",
        [
            {"id": "X-1", "text": "路灯不亮", "expected_scenario": "PF01"},
        ],
    )
    rules = load_rules(corpus=corpus)
    examples = sum(len(r.examples) + len(r.counter_examples) for r in rules.rules)
    assert rules.similar is not None and len(rules.similar) == 1 + examples


def test_the_corpus_is_part_of_the_rules_version(tmp_path: Path) -> None:
    corpus = tmp_path / "labelled.jsonl"
    shutil.copy(CORPUS, corpus)
    before = load_rules(corpus=corpus).version
    assert before == RULES.version
    with corpus.open("a", encoding="utf-8") as handle:
        handle.write(
            json.dumps(
                {"id": "X-1", "text": "路灯不亮", "expected_scenario": "PF01"}, ensure_ascii=False
            )
            + "\n"
        )
    assert load_rules(corpus=corpus).version != before
    assert load_rules(corpus=None).version != before


def test_a_corpus_line_with_an_unknown_scenario_is_refused(tmp_path: Path) -> None:
    corpus = _write_corpus(
        tmp_path / "labelled.jsonl",
        [
            {"id": "X-1", "text": "路灯不亮", "expected_scenario": "ZZ99"},
        ],
    )
    with pytest.raises(
        RuleFileError,
        match=r"labelled\.jsonl: field expected_scenario: "
        r"text X-1: unknown scenario 'ZZ99'",
    ):
        load_rules(RULES_DIR, corpus=corpus)


def test_a_corpus_line_without_text_is_refused_with_its_number(tmp_path: Path) -> None:
    corpus = tmp_path / "labelled.jsonl"
    corpus.write_text(
        '{"id": "X-1", "text": "路灯不亮", "expected_scenario": null}\n'
        '{"id": "X-2", "expected_scenario": "PF01"}\n',
        "utf-8",
    )
    with pytest.raises(RuleFileError, match=r"labelled\.jsonl: field text: line 2: missing"):
        load_rules(corpus=corpus)


def test_a_corpus_line_that_is_not_json_is_refused(tmp_path: Path) -> None:
    corpus = tmp_path / "labelled.jsonl"
    corpus.write_text("{not json\n", "utf-8")
    with pytest.raises(RuleFileError, match=r"labelled\.jsonl: line 1: not JSON"):
        load_rules(corpus=corpus)


def test_the_packaged_corpus_is_the_labelled_sets_as_they_are_now() -> None:
    from cityops.benchmarks.build_corpus import SETS, corpus_text, labelled_rows

    assert CORPUS.read_text("utf-8") == corpus_text(labelled_rows(SETS)), (
        "rules/corpus/labelled.jsonl is stale: run python -m benchmarks.build_corpus"
    )
