"""Splitting a secondary issue, without Temporal: who may, when, what is recorded, and
what the Temporal UI's details show (candidates, the secondary issue, the split)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cityops.domain.models import (
    Classification,
    SplitInput,
    TicketIntake,
    TicketStatus,
)
from cityops.domain.stages import Source, Stage
from cityops.rules.classify import classify
from cityops.rules.load import default_rules
from cityops.service.split import split_intake, split_ticket_id
from cityops.workflows.details import render_details
from cityops.workflows.split import check_split, split_detail, split_record

AT = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
TEXT = "门口路灯坏了好几天，路灯一直不亮，这个先不说；主要是小区门口那个窨井盖丢了，晚上很危险。"
INTAKE = TicketIntake(
    ticket_id="PD20270301AAAA0001",
    source=Source.HOTLINE,
    text=TEXT,
    address="浦东新区张江镇碧波路690号",
    lat=31.2,
    lon=121.6,
    caller_name="王先生",
    caller_phone="13900001234",
    received_at=AT,
)
BY = SplitInput(by="P-DISTRICT-1", by_role="dispatcher", new_ticket_id="PD20270301BBBB0002")


def _two_problems() -> Classification:
    found = classify(INTAKE, default_rules())
    assert found.secondary is not None and found.secondary.scenario.id == "PF01"
    return found


def test_a_dispatcher_or_supervisor_splits_a_secondary_issue_once() -> None:
    found = _two_problems()
    check_split(found, None, BY)
    check_split(found, None, BY.model_copy(update={"by_role": "supervisor"}))
    record = split_record(found, BY, AT)
    assert (record.new_ticket_id, record.scenario_id, record.by) == (
        BY.new_ticket_id,
        "PF01",
        "P-DISTRICT-1",
    )
    detail = split_detail(found, record)
    assert detail.startswith("secondary PF01 ") and detail.endswith(f"→ ticket {BY.new_ticket_id}")
    with pytest.raises(ValueError, match="already split into ticket PD20270301BBBB0002"):
        check_split(found, record, BY)
    with pytest.raises(ValueError, match="only a dispatcher or a supervisor"):
        check_split(found, None, BY.model_copy(update={"by_role": "grid_worker"}))
    one = classify(INTAKE.model_copy(update={"text": "小区门口井盖不见了"}), default_rules())
    with pytest.raises(ValueError, match="no secondary issue"):
        check_split(one, None, BY)
    with pytest.raises(ValueError, match="no secondary issue"):
        check_split(None, None, BY)


def test_the_new_ticket_keeps_the_caller_and_place_under_a_stable_number() -> None:
    secondary = _two_problems().secondary
    assert secondary is not None
    later = datetime(2027, 3, 2, tzinfo=UTC)
    new = split_intake(INTAKE, secondary, later)
    assert new.ticket_id == split_ticket_id(INTAKE) == split_intake(INTAKE, secondary, AT).ticket_id
    assert new.ticket_id.startswith("PD20270301") and len(new.ticket_id) == 18
    assert new.ticket_id != INTAKE.ticket_id
    assert new.service_code == "PF01" and new.split_from == INTAKE.ticket_id
    assert new.text == secondary.text and new.received_at == later
    same = ("address", "lat", "lon", "caller_name", "caller_phone", "source")
    assert {k: getattr(new, k) for k in same} == {k: getattr(INTAKE, k) for k in same}


def test_the_details_show_candidates_the_secondary_issue_and_the_split() -> None:
    found = _two_problems()
    status = TicketStatus(
        ticket_id=INTAKE.ticket_id,
        stage=Stage.AWAITING_ACCEPT,
        source=Source.HOTLINE,
        text=TEXT,
        address=INTAKE.address,
        classification=found,
    )
    text = render_details(status)
    assert "| candidates | PS03 " in text
    assert "| secondary | PF01 " in text and "not split" in text
    split = status.model_copy(update={"split": split_record(found, BY, AT)})
    assert "split into **PD20270301BBBB0002** by P-DISTRICT-1" in render_details(split)
    child = status.model_copy(update={"split_from": "PD20270301AAAA0001", "classification": None})
    assert "| split from | PD20270301AAAA0001 |" in render_details(child)
