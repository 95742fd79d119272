"""classify(): service codes, alarms, free text, triage; and the dev sets' figures."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cityops.domain.models import AlarmEvent, TicketIntake
from cityops.domain.stages import Source
from cityops.rules.classify import classify
from cityops.rules.load import default_rules

DATA = Path(__file__).parents[1] / "data"
RULES = default_rules()
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _text(text: str, source: Source = Source.HOTLINE) -> TicketIntake:
    return TicketIntake(ticket_id="T-1", source=source, text=text, received_at=NOW)


def _alarm(**fields: Any) -> TicketIntake:
    event = {
        "event_id": "evt-1",
        "device_id": "DEV-1",
        "sensor_type": "gas_detector",
        "metric": "lel_percent",
        "value": 20.0,
        "status": "firing",
        "lat": 31.2,
        "lon": 121.5,
        "occurred_at": "2026-11-20T10:00:00+08:00",
        "attributes": {},
    }
    event.update(fields)
    alarm = AlarmEvent.model_validate(event)
    return TicketIntake(
        ticket_id="T-2", source=Source.IOT, received_at=alarm.occurred_at, alarm=alarm
    )


def _scenario(intake: TicketIntake) -> str | None:
    result = classify(intake, RULES)
    return result.scenario.id if result.scenario else None


def _lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text("utf-8").splitlines() if line]


# --------------------------------------------------------------------------- service code


def test_service_code_names_the_scenario_outright() -> None:
    intake = TicketIntake(
        ticket_id="O-1",
        source=Source.OPEN311,
        text="路灯不亮",
        service_code="CA03",
        received_at=NOW,
    )
    result = classify(intake, RULES)
    assert result.scenario is not None and result.scenario.id == "CA03"
    assert result.confidence == 1.0
    assert [m.rule for m in result.matched] == ["service_code"]
    assert result.rules_version == RULES.version


def test_unknown_service_code_goes_to_triage_with_the_reason() -> None:
    intake = TicketIntake(
        ticket_id="O-2", source=Source.OPEN311, service_code="ZZ01", received_at=NOW
    )
    result = classify(intake, RULES)
    assert result.needs_triage
    assert "unknown service code 'ZZ01'" in result.reason


# --------------------------------------------------------------------------- alarms


def test_every_dev_alarm_maps_to_its_scenario() -> None:
    events = _lines("dev_alarms.jsonl")
    wrong = []
    for event in events:
        got = _scenario(_alarm(**{k: v for k, v in event.items() if not k.startswith("expect")}))
        if got != event["expected_scenario"]:
            wrong.append((event["event_id"], event["expected_scenario"], got))
    assert wrong == []
    assert len(events) == 40


def test_resolved_event_maps_to_the_same_scenario_as_firing() -> None:
    firing = _alarm(sensor_type="elevator", metric="entrapment", value=1)
    resolved = _alarm(sensor_type="elevator", metric="entrapment", value=0, status="resolved")
    assert _scenario(firing) == _scenario(resolved) == "PF03"


def test_site_noise_by_day_is_not_an_alarm() -> None:
    result = classify(
        _alarm(
            sensor_type="site_monitor",
            metric="noise_db",
            value=80,
            occurred_at="2026-11-17T14:10:22+08:00",
        ),
        RULES,
    )
    assert result.needs_triage
    assert result.reason == "not an alarm by day"


@pytest.mark.parametrize(
    ("occurred_at", "expected"),
    [
        ("2026-11-17T15:30:00+00:00", "CH01"),  # 23:30 in Shanghai
        ("2026-11-17T21:59:00+00:00", "CH01"),  # 05:59 next morning in Shanghai
        ("2026-11-17T22:00:00+00:00", None),  # 06:00 in Shanghai: window closed
        ("2026-11-17T13:59:00+00:00", None),  # 21:59 in Shanghai
        ("2026-11-17T09:00:00-05:00", "CH01"),  # 22:00 in Shanghai from New York time
    ],
)
def test_night_window_uses_shanghai_time_whatever_the_offset(
    occurred_at: str, expected: str | None
) -> None:
    intake = _alarm(
        sensor_type="site_monitor", metric="noise_db", value=75, occurred_at=occurred_at
    )
    assert _scenario(intake) == expected


def test_site_dust_is_an_alarm_at_any_hour() -> None:
    assert (
        _scenario(
            _alarm(
                sensor_type="site_monitor",
                metric="pm10",
                value=160,
                occurred_at="2026-11-17T14:00:00+08:00",
            )
        )
        == "CH02"
    )


def test_video_detection_picks_the_scenario() -> None:
    intake = _alarm(
        sensor_type="video_ai",
        metric="detection",
        value=0.9,
        attributes={"detection": "shared_bikes_piled"},
    )
    assert _scenario(intake) == "TR02"


def test_unknown_sensor_and_detection_go_to_triage_with_reasons() -> None:
    unknown_sensor = classify(_alarm(sensor_type="radar", metric="speed"), RULES)
    assert unknown_sensor.needs_triage and "radar" in unknown_sensor.reason
    unknown_detection = classify(
        _alarm(sensor_type="video_ai", metric="detection", attributes={"detection": "ufo"}), RULES
    )
    assert unknown_detection.needs_triage and "ufo" in unknown_detection.reason


def test_alarm_wins_over_the_site_words() -> None:
    intake = _alarm(attributes={"site": "小区门口井盖"})
    assert _scenario(intake) == "PS01"


# --------------------------------------------------------------------------- text


def test_negated_topic_does_not_count() -> None:
    result = classify(_text("不是噪音的问题，是楼下饭店的油烟一直往家里灌"), RULES)
    assert result.scenario is not None and result.scenario.id == "EN02"
    assert all(m.scenario_id != "EN01" for m in result.matched)


def test_contrast_after_negation_is_affirmed() -> None:
    assert _scenario(_text("家里闻到的不是油烟而是燃气味，很冲")) == "PS01"


def test_question_form_is_not_a_negation() -> None:
    assert _scenario(_text("楼道里有股味道，是不是燃气泄漏了")) == "PS01"


def test_tight_negation_denies_only_the_next_phrase() -> None:
    # "没困人" denies the entrapment; the complaint is the property company.
    assert _scenario(_text("电梯倒没困人，就是物业一直拖着不修电梯")) == "CH05"


@pytest.mark.parametrize("tail", ["不是", "并不是", "没", "不", "燃气", "电梯", "垃圾桶满"])
def test_texts_read_together_do_not_reach_into_each_other(tail: str) -> None:
    # A batch is scanned as one joined string: a negation cue, a combo's first half or a
    # keyword's beginning at the end of one text must not act on the next text.
    heads = ["噪音很大吵得睡不着", "味很重", "困人了快来", "出来了没人收", "燃气味很重"]
    texts = [f"{head}{tail}" for head in heads] + [f"{tail}{head}" for head in heads]
    reading = RULES.text.read(texts)
    assert [reading.verdict(row) for row in range(len(texts))] == [
        RULES.text.verdict(text) for text in texts
    ]
    assert [reading.affirmed(row) for row in range(len(texts))] == [
        RULES.text.affirmed(text) for text in texts
    ]


def test_a_combo_needing_nearness_is_not_completed_across_two_texts() -> None:
    # For every two-group combo with `within`: one text ends with the first group's
    # phrase, the next begins with the second's, one character apart in the joined scan;
    # and texts holding both too far apart, side by side.
    texts: list[str] = []
    for rule in RULES.rules:
        for combo in rule.text.combos:
            first, second = combo.all[0][0], combo.all[1][0]
            if combo.within is None or len(combo.all) != 2 or "@" in first + second:
                continue
            apart = "一" * (combo.within + 2)  # both groups, too far apart to count
            texts += [f"今天{first}", f"{second}了", f"{first}", f"{second}"]
            texts += [f"{first}{apart}{second}", f"{first}{apart}{second}"]
    assert len(texts) >= 40
    reading = RULES.text.read(texts)
    assert [reading.verdict(row) for row in range(len(texts))] == [
        RULES.text.verdict(text) for text in texts
    ]


def test_a_batch_of_texts_reads_as_each_text_alone() -> None:
    texts = [line["text"] for line in _lines("dev_hotline.jsonl") if line.get("text")]
    texts += ["", "，", "ＫＴＶ"]
    for ordered in (texts, texts[::-1]):
        reading = RULES.text.read(ordered)
        assert [reading.verdict(row) for row in range(len(ordered))] == [
            RULES.text.verdict(text) for text in ordered
        ]


def test_consultation_about_a_topic_goes_to_triage() -> None:
    assert _scenario(_text("来电人询问小区垃圾分类的投放时间是几点")) is None


def test_indirect_wording_suggests_gas() -> None:
    assert _scenario(_text("厨房里总有一股臭鸡蛋味，开窗也散不掉")) == "PS01"


def test_full_width_latin_is_folded_before_matching() -> None:
    assert _scenario(_text("楼下ＫＴＶ每天放歌到半夜，音箱震得玻璃响")) == "EN01"


@pytest.mark.parametrize(
    "text",
    [
        "想咨询一下新生儿医保怎么办理",
        "请问区图书馆周末几点开门",
        "表扬一下小区保安师傅，帮我找回了钱包",
        "我和姐姐因为父母留下的遗产怎么分一直谈不拢",
        "你们这些部门就是不作为，我也说不清楚，反正问题很多",
        "",
    ],
)
def test_out_of_scope_or_vague_text_goes_to_triage(text: str) -> None:
    intake = TicketIntake(
        ticket_id="T-3", source=Source.HOTLINE, text=text or None, received_at=NOW
    )
    result = classify(intake, RULES)
    assert result.needs_triage, result
    assert result.reason


def test_classification_explains_itself() -> None:
    result = classify(_text("小区东门门禁坏了一个月，陌生人随便进出"), RULES)
    assert result.scenario is not None and result.scenario.id == "SC05"
    assert 0.4 <= result.confidence <= 1.0
    assert any(m.rule.startswith(("keyword:", "combo:")) for m in result.matched)
    assert result.rules_version == RULES.version


def test_weak_hint_alone_is_below_the_threshold() -> None:
    result = classify(_text("门口有点吵"), RULES)
    assert result.needs_triage
    assert "below threshold" in result.reason


def _yaml_examples() -> list[tuple[str, str, str | None]]:
    cases: list[tuple[str, str, str | None]] = []
    for rule in RULES.rules:
        cases += [(rule.id, text, rule.id) for text in rule.examples]
        cases += [(rule.id, c.text, c.expect) for c in rule.counter_examples]
    return cases


@pytest.mark.parametrize(("owner", "text", "expected"), _yaml_examples())
def test_yaml_examples_classify_as_written(owner: str, text: str, expected: str | None) -> None:
    assert _scenario(_text(text)) == expected, f"example of {owner}"


def test_every_scenario_reported_in_text_has_examples() -> None:
    text_sources = {Source.HOTLINE, Source.GRID, Source.OPINION}
    missing = [r.id for r in RULES.rules if text_sources & set(r.sources) and not r.examples]
    assert missing == []


def _right(rows: list[dict[str, Any]]) -> int:
    return sum(1 for row in rows if _scenario(_text(row["text"])) == row["expected_scenario"])


def test_dev_hotline_accuracy_is_at_least_95_percent() -> None:
    rows = _lines("dev_hotline.jsonl")
    right = _right(rows)
    assert right / len(rows) >= 0.95, f"{right}/{len(rows)}"


def test_regression_set_written_apart_from_dev_stays_at_least_95_percent() -> None:
    # Texts written independently of dev_hotline to check that the vocabularies
    # generalise; a rule change that breaks them shows here before the secret set.
    rows = _lines("rules_regression.jsonl")
    right = _right(rows)
    assert len(rows) == 270
    assert right / len(rows) >= 0.95, f"{right}/{len(rows)}"


# Each held-out set was written without reading the rule files, then scored before any
# tuning (the figure in the comment); a vocabulary change that overfits one set shows here.
HELD_OUT = [
    # H2: other wording, indirect descriptions, several topics, negations; H2-0258… a
    # harder probe written afterwards. 89.5% on the blind part before tuning.
    ("rules_holdout_2.jsonl", 328, 34),
    # H3: summaries, rambling and dialect calls, terse ones, typos (燃汽, 红路灯), brand
    # names, corrections ("不是噪音的问题，是…"). 86.6% before tuning.
    ("rules_holdout_3.jsonl", 290, 33),
    # H4: Shanghainese calls, homophones (燃起味, 施功), symptoms (a pipe dug through, a
    # road that sinks and cracks), English calls, tax and wrong-number calls.
    # 94.0% with rules + fallback (90.9% rules alone) before tuning.
    ("rules_holdout_4.jsonl", 265, 27),
    # H5: long calls with one main complaint, elderly callers, business owners,
    # "能不能管管…" questions, near-miss pairs (street light vs signal, night vs day
    # construction noise, group rental vs extension, a leak vs a burst main).
    # 93.6% with rules + fallback (92.1% rules alone) before tuning.
    ("rules_holdout_5.jsonl", 203, 21),
    # H6: written before the learned scorer (issue 18), labelled from the catalogue:
    # two-problem calls with the caller's main-problem cue, elderly and Shanghainese
    # speech, negations, near-miss pairs. 87.1% with the engine as it was, 95.3% with
    # rules + model (settings frozen) before it joined the corpus.
    ("rules_holdout_6.jsonl", 255, 27),
]


@pytest.mark.parametrize(("file", "lines", "nulls"), HELD_OUT, ids=lambda v: str(v))
def test_held_out_set_stays_at_least_95_percent(file: str, lines: int, nulls: int) -> None:
    rows = _lines(file)
    right = _right(rows)
    assert len(rows) == lines
    assert sum(1 for row in rows if row["expected_scenario"] is None) == nulls
    assert right / len(rows) >= 0.95, f"{right}/{len(rows)}"
