"""Loading and validating the rule files: every mistake names file, scenario and field."""

from __future__ import annotations

import csv
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from cityops.rules.load import (
    CATALOGUE,
    RULES_DIR,
    CatalogueMismatch,
    RuleFileError,
    RulesError,
    UnknownScenario,
    default_rules,
    load_rules,
)


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A private copy of the packaged rules to break on purpose."""
    target = tmp_path / "scenarios"
    shutil.copytree(RULES_DIR, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_scenario_ids_equal_the_catalogue() -> None:
    with CATALOGUE.open(encoding="utf-8") as handle:
        catalogue_ids = {row["id"] for row in csv.DictReader(handle)}
    assert default_rules().scenario_ids == catalogue_ids
    assert len(catalogue_ids) == 57


def test_ten_categories_one_file_each() -> None:
    categories = default_rules().categories
    assert len(categories) == 10
    assert all(c.file == f"{c.id}.yaml" for c in categories)


def test_catalogue_facts_come_through_to_the_scenario_ref() -> None:
    ref = default_rules().scenario("PF03")
    assert (ref.name_zh, ref.priority, ref.lead_department) == ("电梯困人", "P1", "market_reg")
    assert (ref.category_id, ref.handling_tier, ref.closure_check) == (
        "PF",
        "district",
        "sensor_recovery",
    )


def test_version_is_a_content_hash_that_changes_with_the_rules(rules_copy: Path) -> None:
    before = load_rules(rules_copy).version
    assert before == default_rules().version
    assert before.startswith("r-") and len(before) == 10
    _edit(rules_copy / "PS.yaml", "燃气泄漏: 5", "燃气泄漏: 4")
    assert load_rules(rules_copy).version != before


def test_settings_carry_per_scenario_overrides() -> None:
    rules = default_rules()
    assert rules.settings("PS01").recovery_hold == timedelta(minutes=30)
    assert rules.settings("PF03").accept_within == timedelta(minutes=3)
    grouping = rules.settings("EM01").grouping
    assert grouping is not None and (grouping.by, grouping.window) == ("street", timedelta(hours=1))
    assert rules.settings("CA03").accept_within is None
    assert rules.settings("CA03").escalation_chain == "default"


def test_unknown_scenario_is_a_rules_error_with_a_clear_message() -> None:
    with pytest.raises(UnknownScenario, match="unknown scenario id 'XX99'") as caught:
        default_rules().scenario("XX99")
    assert isinstance(caught.value, RulesError)


def test_typo_in_a_key_names_file_scenario_and_field(rules_copy: Path) -> None:
    _edit(
        rules_copy / "TR.yaml",
        "    lead_department: public_security\n    handling_tier: street",
        "    lead_departmnet: public_security\n    handling_tier: street",
    )
    with pytest.raises(RuleFileError) as caught:
        load_rules(rules_copy)
    message = str(caught.value)
    assert "TR.yaml" in message and "scenario TR01" in message
    assert caught.value.field in ("lead_department", "lead_departmnet")


def test_missing_field_names_it(rules_copy: Path) -> None:
    _edit(rules_copy / "CH.yaml", "    closure_check: callback\n", "")
    with pytest.raises(RuleFileError, match=r"CH\.yaml: scenario CH01: field closure_check"):
        load_rules(rules_copy)


def test_bad_regex_names_the_pattern_field(rules_copy: Path) -> None:
    _edit(rules_copy / "CH.yaml", 'regex: "住了?', 'regex: "住了?((')
    with pytest.raises(RuleFileError) as caught:
        load_rules(rules_copy)
    assert caught.value.scenario == "CH04"
    assert caught.value.field == "text.patterns.0.regex"
    assert "bad regex" in str(caught.value)


def test_duplicate_scenario_id_across_files_is_refused(rules_copy: Path) -> None:
    _edit(rules_copy / "SC.yaml", "  - id: SC06", "  - id: SC05")
    with pytest.raises(RuleFileError, match=r"SC\.yaml: scenario SC05: field id: duplicate"):
        load_rules(rules_copy)


def test_duplicate_yaml_key_is_refused_not_silently_overwritten(rules_copy: Path) -> None:
    _edit(rules_copy / "PS.yaml", "        燃气味: 4\n", "        燃气味: 4\n        燃气味: 1\n")
    with pytest.raises(RuleFileError, match=r"PS\.yaml.*duplicate key '燃气味'"):
        load_rules(rules_copy)


def test_unknown_scenario_id_in_rules_fails_the_catalogue_check(rules_copy: Path) -> None:
    _edit(rules_copy / "SC.yaml", "  - id: SC06", "  - id: SC07")
    with pytest.raises(CatalogueMismatch, match=r"missing \['SC06'\].*\['SC07'\]"):
        load_rules(rules_copy)


def test_catalogue_fact_disagreeing_with_the_csv_names_it(rules_copy: Path) -> None:
    _edit(
        rules_copy / "MK.yaml",
        "    priority: P2\n    lead_department: human_resources",
        "    priority: P3\n    lead_department: human_resources",
    )
    with pytest.raises(CatalogueMismatch, match=r"MK\.yaml: scenario MK05: field priority"):
        load_rules(rules_copy)


def test_unknown_vocabulary_reference_is_named(rules_copy: Path) -> None:
    _edit(rules_copy / "CH.yaml", '["@construction"], ["@night"]', '["@construction"], ["@nite"]')
    with pytest.raises(RuleFileError, match="unknown vocabulary '@nite'") as caught:
        load_rules(rules_copy)
    assert caught.value.scenario == "CH01"


def test_unquoted_time_in_a_window_is_refused(rules_copy: Path) -> None:
    _edit(rules_copy / "CH.yaml", 'start: "22:00"', "start: 22:00")
    with pytest.raises(RuleFileError, match=r"local_window\.start"):
        load_rules(rules_copy)


def test_iot_scenario_without_an_alarm_rule_is_refused(rules_copy: Path) -> None:
    _edit(
        rules_copy / "PS.yaml",
        "    alarms:\n      - sensor_type: gas_detector\n        metrics: [lel_percent]\n",
        "    alarms: []\n",
    )
    with pytest.raises(RuleFileError, match=r"scenario PS01.*needs an alarm rule"):
        load_rules(rules_copy)


def test_not_yaml_is_reported_with_the_file(rules_copy: Path) -> None:
    (rules_copy / "EN.yaml").write_text("scenarios: [unclosed", encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"EN\.yaml: not valid YAML"):
        load_rules(rules_copy)
