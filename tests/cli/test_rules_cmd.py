"""`cityops rules check`, `classify [--eval]` and `bench classify`, run as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cityops.cli import rules_cmd
from cityops.rules.load import RULES_DIR, default_rules

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    bench_app = typer.Typer()
    app.add_typer(bench_app, name="bench")
    rules_cmd.register(app, bench_app)
    return app


def test_rules_check_prints_the_summary(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["rules", "check"])
    assert result.exit_code == 0, result.output
    assert "57 scenarios in 10 categories" in result.output
    assert default_rules().version in result.output
    assert "sources covered: grid" in result.output
    assert "examples:" in result.output and "FAIL" not in result.output
    # The corpus and model figures (issue 18): what the model learned from and how well.
    model = default_rules().model
    assert model is not None
    figures = model.data.figures
    assert (
        f"corpus: {figures['texts']} labelled texts, 57 scenarios + out of scope" in result.output
    )
    assert f"model: {figures['features']} character 1-3 grams" in result.output
    assert f"cross-validated accuracy {figures['cv_right']}/{figures['cv_total']}" in result.output


def test_rules_check_fails_naming_the_broken_file(app: typer.Typer, tmp_path: Path) -> None:
    broken = tmp_path / "scenarios"
    shutil.copytree(RULES_DIR, broken)
    path = broken / "EM.yaml"
    path.write_text(path.read_text("utf-8").replace("priority: P1", "priority: P9", 1), "utf-8")
    result = CliRunner().invoke(app, ["rules", "check", "--rules", str(broken)])
    assert result.exit_code == 1
    assert "EM.yaml: scenario EM01: field priority" in result.output


def test_classify_writes_one_json_line_per_input(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["classify", str(DATA / "dev_alarms.jsonl")])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 40
    first = lines[0]
    assert first["id"] == "evt-20261102-000001" and first["scenario"] == "PS01"
    assert first["confidence"] == 1.0
    assert first["matched"][0]["rule"] == "alarm:gas_detector/lel_percent"
    daytime_noise = next(line for line in lines if line["id"] == "evt-20261117-000028")
    assert daytime_noise["scenario"] is None


def test_classify_keeps_the_agents_service_code_and_shows_the_engines_reading(
    app: typer.Typer, tmp_path: Path
) -> None:
    file = tmp_path / "coded.jsonl"
    row = {"id": "A", "text": "楼道里一股很重的煤气味", "service_code": "PF01"}
    file.write_text(json.dumps(row, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(app, ["classify", str(file)])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout)
    assert line["scenario"] == "PF01" and line["matched"][0]["rule"] == "service_code"
    assert line["suggested"] == "PS01" and line["candidates"][0]["scenario_id"] == "PS01"


def test_classify_reports_a_bad_line_and_carries_on(app: typer.Typer, tmp_path: Path) -> None:
    file = tmp_path / "mixed.jsonl"
    file.write_text(
        "\n".join(
            [
                json.dumps({"id": "A", "text": "路口红绿灯不亮了"}, ensure_ascii=False),
                "{not json",
                json.dumps({"id": "B", "text": "x", "received_at": "yesterday"}),
                json.dumps(
                    {
                        "event_id": "E",
                        "sensor_type": "elevator",
                        "metric": "entrapment",
                        "status": "firing",
                        "lat": 31.2,
                        "lon": 121.5,
                    }
                ),
                json.dumps({"id": "C", "text": "小区里有人遛狗不牵绳"}, ensure_ascii=False),
            ]
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["classify", str(file)])
    assert result.exit_code == 2
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["id"], line["scenario"]) for line in out] == [("A", "TR04"), ("C", "SC04")]
    assert "mixed.jsonl line 2: not JSON" in result.stderr
    assert "line 3: field received_at" in result.stderr
    assert "line 4: field device_id: Field required; field occurred_at" in result.stderr


def test_classify_eval_prints_accuracy_and_confusion(app: typer.Typer, tmp_path: Path) -> None:
    file = tmp_path / "labelled.jsonl"
    rows = [
        {"id": "1", "text": "楼道里很重的煤气味", "expected_scenario": "PS01"},
        {"id": "2", "text": "请问社保卡在哪里补办", "expected_scenario": None},
        {"id": "3", "text": "路灯坏了一个月", "expected_scenario": "TR04"},
    ]
    file.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    result = CliRunner().invoke(app, ["classify", "--eval", str(file)])
    assert result.exit_code == 0, result.output
    assert "accuracy 2/3 = 66.7%" in result.output
    # Misroutes (a wrong scenario dispatched) and triage (no scenario) are counted apart.
    assert "misrouted (wrong scenario dispatched) 1/3 = 33.3%; triage 1/3 = 33.3%" in result.output
    assert "expected null (triage): 1/1 right" in result.output
    assert "TR04 → PF01: 1" in result.output
    assert "line 3 3: want TR04, got PF01" in result.output


def test_a_call_sent_to_triage_counts_against_accuracy_not_as_a_misroute(
    app: typer.Typer, tmp_path: Path
) -> None:
    file = tmp_path / "labelled.jsonl"
    rows = [{"id": "1", "text": "喂喂，听得到吗？", "expected_scenario": "PS01"}]
    file.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "utf-8")
    result = CliRunner().invoke(app, ["classify", "--eval", str(file)])
    assert result.exit_code == 0, result.output
    assert "accuracy 0/1 = 0.0%" in result.output
    assert "misrouted (wrong scenario dispatched) 0/1 = 0.0%; triage 1/1 = 100.0%" in result.output


def test_classify_eval_on_the_dev_hotline_set(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["classify", "--eval", str(DATA / "dev_hotline.jsonl")])
    assert result.exit_code == 0, result.output
    accuracy_line = next(line for line in result.output.splitlines() if "accuracy" in line)
    right, total = accuracy_line.split()[1].split("/")
    assert int(total) == 130 and int(right) / int(total) >= 0.95


def test_bench_classify_prints_its_figures(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["bench", "classify", "--rounds", "1"])
    assert result.exit_code == 0, result.output
    assert "texts/s on one core" in result.output
    assert "load + validate + compile 57 scenarios" in result.output
