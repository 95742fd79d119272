"""rules/calls.yaml and the kind the rules suggest for a caller's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from cityops.domain.calls import CallIntake, CallPolicy, ReplyStep
from cityops.domain.models import TicketIntake
from cityops.domain.stages import CallKind, Source, StepKind
from cityops.rules.calls import CallRulesError, default_call_rules, load_call_rules
from cityops.rules.classify import classify
from cityops.rules.load import default_rules

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def suggest(text: str) -> CallKind:
    intake = TicketIntake(ticket_id="x", source=Source.HOTLINE, text=text, received_at=NOW)
    return default_call_rules().suggest(classify(intake, default_rules()), text).kind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("请问社保卡丢了在哪里补办", CallKind.CONSULTATION),
        ("我想咨询一下居住证怎么办理", CallKind.CONSULTATION),
        ("地铁末班车是几点", CallKind.CONSULTATION),
        ("我要表扬张江镇的城管队员，服务很好", CallKind.SUGGESTION),
        ("建议公园延长开放时间", CallKind.SUGGESTION),
        ("碧波路690号门口井盖不见了，晚上很危险", CallKind.COMPLAINT),
        ("楼下饭店油烟太大了，熏得窗户都不敢开", CallKind.COMPLAINT),
    ],
)
def test_the_rules_suggest_a_kind_for_the_words(text: str, kind: CallKind) -> None:
    assert suggest(text) is kind


def test_the_project_policy_loads_with_the_deadline_among_its_points() -> None:
    policy = default_call_rules().policy
    assert policy.open_for == timedelta(days=7) and policy.reply_within == timedelta(days=5)
    fractions = [fraction for fraction, _ in policy.reply_points()]
    assert 1.0 in fractions and fractions == sorted(fractions)


def test_a_chain_without_a_deadline_step_gets_a_supervise_at_the_deadline() -> None:
    policy = CallPolicy(
        open_for=timedelta(days=1),
        reply_within=timedelta(days=1),
        working_time=False,
        reply_chain=[ReplyStep(kind=StepKind.REMIND, at=0.5)],
    )
    assert policy.reply_points() == [(0.5, StepKind.REMIND), (1.0, StepKind.SUPERVISE)]


def test_a_bad_file_names_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "calls.yaml"
    path.write_text(
        "open_for: 7d\nreply_within: 0d\nworking_time: true\n"
        "reply_chain: [{kind: shout, at: 1.0}]\n",
        encoding="utf-8",
    )
    with pytest.raises(CallRulesError) as error:
        load_call_rules(path)
    assert "calls.yaml: reply_within: " in str(error.value)
    assert "reply_chain.0.kind" in str(error.value)
    with pytest.raises(CallRulesError, match=r"missing\.yaml: file not found"):
        load_call_rules(tmp_path / "missing.yaml")


def test_a_call_carries_its_kinds_fields_only() -> None:
    intake = TicketIntake(ticket_id="x", source=Source.HOTLINE, text="请问", received_at=NOW)
    with pytest.raises(ValidationError, match="answer"):
        CallIntake.model_validate({"intake": intake, "details": {"kind": "consultation"}})
    with pytest.raises(ValidationError, match="referral"):
        CallIntake.model_validate(
            {"intake": intake, "details": {"kind": "consultation", "answer": "a", "referral": {}}}
        )
    with pytest.raises(ValidationError, match="complaint"):
        CallIntake.model_validate({"intake": intake, "details": {"kind": "complaint"}})
    silent = intake.model_copy(update={"text": None})
    with pytest.raises(ValidationError, match="a suggestion needs the caller's words"):
        CallIntake.model_validate({"intake": silent, "details": {"kind": "suggestion"}})


def test_the_agent_is_shown_the_top_three_scenarios_before_submitting() -> None:
    # Issue 18: the hotline agent sees the candidates with their probability and may pick
    # one as the service code at submission (`cityops submit --service-code`).
    from typer.testing import CliRunner

    from cityops.cli.main import app
    from cityops.service.calls import suggest_kind

    advice = suggest_kind("楼道里一股很重的煤气味")
    assert advice.kind is CallKind.COMPLAINT and advice.scenario_id == "PS01"
    assert 1 <= len(advice.candidates) <= 3 and advice.candidates[0].scenario_id == "PS01"
    assert suggest_kind("请问社保卡丢了在哪里补办").kind is CallKind.CONSULTATION
    result = CliRunner().invoke(app, ["suggest-kind", "--text", "楼道里一股很重的煤气味"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("complaint") and "candidates: PS01 " in result.output
