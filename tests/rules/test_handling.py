"""SLA defaults and escalation chains: loaded, validated, and named by every scenario."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cityops.domain.stages import Clock, ClosureCheck, Priority, RecoveryPolicy, StepKind
from cityops.rules.handling import HandlingRulesError, default_handling_rules, load_handling_rules
from cityops.rules.load import default_rules

RULES = Path(__file__).resolve().parents[2] / "rules"


def test_every_scenario_names_a_chain_that_exists() -> None:
    handling, rules = default_handling_rules(), default_rules()
    for scenario_id in rules.scenario_ids:
        assert handling.chain(rules.settings(scenario_id).escalation_chain).steps


def test_priority_defaults_follow_the_spec() -> None:
    handling = default_handling_rules()
    p1, p3 = handling.sla_for(Priority.P1), handling.sla_for(Priority.P3)
    assert (p1.accept_within, p1.resolve_within, p1.working_time) == (
        timedelta(minutes=5),
        timedelta(hours=4),
        False,
    )
    assert (p3.accept_within, p3.resolve_within, p3.working_time) == (
        timedelta(hours=2),
        timedelta(days=3),
        True,
    )


def test_a_scenario_can_refine_its_priority_limits() -> None:
    sla = default_handling_rules().sla_for(Priority.P1, resolve_within=timedelta(hours=1))
    assert sla.resolve_within == timedelta(hours=1) and sla.accept_within == timedelta(minutes=5)


def test_default_chain_escalates_on_the_accept_clock() -> None:
    steps = default_handling_rules().chain("default").for_clock(Clock.ACCEPT)
    assert any(step.kind is StepKind.ESCALATE and step.at == 1.0 for step in steps)


def _rules_dir(tmp_path: Path, chain_yaml: str) -> Path:
    (tmp_path / "sla.yaml").write_text(
        (RULES / "sla.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "escalation.yaml").write_text(chain_yaml, encoding="utf-8")
    return tmp_path


def test_a_bad_step_names_the_file_and_the_field(tmp_path: Path) -> None:
    bad = "chains:\n  default:\n    - {kind: escalate, clock: acept, at: 1.0}\n"
    with pytest.raises(
        HandlingRulesError, match=r"escalation.yaml: chains.default.0.escalate.clock"
    ):
        load_handling_rules(_rules_dir(tmp_path, bad))


def test_a_missing_default_chain_is_refused(tmp_path: Path) -> None:
    only = "chains:\n  fast:\n    - {kind: escalate, clock: accept, at: 1.0}\n"
    with pytest.raises(HandlingRulesError, match="a 'default' chain is required"):
        load_handling_rules(_rules_dir(tmp_path, only))


def test_unknown_chain_names_the_known_ones() -> None:
    with pytest.raises(HandlingRulesError, match=r"unknown escalation chain 'nope'.*default"):
        default_handling_rules().chain("nope")


def test_triage_and_every_closure_check_wait_on_a_clock() -> None:
    rules = default_handling_rules()
    assert rules.triage.within == timedelta(minutes=30) and not rules.triage.working_time
    assert rules.chain(rules.triage.chain).for_clock(Clock.TRIAGE)
    waits = rules.verification
    assert waits[ClosureCheck.CALLBACK].by_end_of_next_working_day
    assert waits[ClosureCheck.PHOTO_REVIEW].within == timedelta(hours=4)
    assert waits[ClosureCheck.VIDEO_RECHECK].within == timedelta(hours=1)
    assert waits[ClosureCheck.SENSOR_RECOVERY].within == timedelta(hours=1)
    assert not waits[ClosureCheck.SENSOR_RECOVERY].working_time
    assert rules.stalled.supervise_every == timedelta(days=1)
    for name in ("default", "emergency", "relaxed"):
        assert rules.chain(name).for_clock(Clock.VERIFY), name
    assert rules.notices.group_window == timedelta(minutes=2)


def test_a_scenario_refines_the_waits_with_durations_but_not_the_callback_day_rule() -> None:
    waits = default_handling_rules().verify_waits(timedelta(minutes=30))
    assert waits[ClosureCheck.PHOTO_REVIEW].within == timedelta(minutes=30)
    assert waits[ClosureCheck.SENSOR_RECOVERY].within == timedelta(minutes=30)
    assert waits[ClosureCheck.CALLBACK].within is None
    assert waits[ClosureCheck.CALLBACK].by_end_of_next_working_day


def test_a_sensor_recovery_wait_defaults_to_the_recovery_patience(tmp_path: Path) -> None:
    """An sla.yaml that lists no `sensor_recovery` wait still gives the check a clock."""
    sla = (RULES / "sla.yaml").read_text(encoding="utf-8")
    without = "\n".join(line for line in sla.splitlines() if "sensor_recovery:" not in line)
    rules_dir = _rules_dir(tmp_path, (RULES / "escalation.yaml").read_text(encoding="utf-8"))
    (rules_dir / "sla.yaml").write_text(without.replace("patience: 1h", "patience: 2h"))
    waits = load_handling_rules(rules_dir).verify_waits()
    assert waits[ClosureCheck.SENSOR_RECOVERY].within == timedelta(hours=2)


def test_a_triage_chain_without_a_triage_step_is_refused(tmp_path: Path) -> None:
    chains = (
        "chains:\n  default:\n    - {kind: escalate, clock: accept, at: 1.0}\n"
        "  triage:\n    - {kind: escalate, clock: accept, at: 1.0}\n"
    )
    with pytest.raises(HandlingRulesError, match=r"chains.triage: needs .* triage clock"):
        load_handling_rules(_rules_dir(tmp_path, chains))


def test_recovery_policies_are_per_scenario() -> None:
    rules = default_rules()
    assert rules.settings("CA01").on_recovery is RecoveryPolicy.CLOSE_AS_RECOVERED
    assert rules.settings("EM01").on_recovery is RecoveryPolicy.CLOSE_AS_RECOVERED
    assert rules.settings("PF03").on_recovery is RecoveryPolicy.STOP_CHASE_AND_TELL
    assert rules.settings("PS01").on_recovery is RecoveryPolicy.NEVER_AUTO_CLOSE
    assert rules.settings("PS02").on_recovery is RecoveryPolicy.NEVER_AUTO_CLOSE  # the default
