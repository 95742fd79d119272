"""Masking for people and logs (domain/masking.py): pure, no Temporal."""

from __future__ import annotations

import pytest

from cityops.domain.masking import mask_name, mask_phone, redact_facts, redact_text
from cityops.domain.models import HistoryEntry, TicketStatus
from cityops.domain.stages import Source, Stage
from cityops.workflows.details import render_details


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13900001234", "139****1234"),
        ("+86 139-0000-1234", "139****1234"),
        ("8613900001234", "139****1234"),
        ("021-58881234", "021****1234"),
        ("58881234", "****34"),
        ("12", "****"),
    ],
)
def test_a_phone_is_masked_keeping_prefix_and_last_four(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_no_phone_masks_to_none() -> None:
    assert mask_phone(None) is None and mask_phone("") is None


def test_a_name_keeps_its_first_character() -> None:
    assert mask_name("王先生") == "王**"
    assert mask_name("李") == "李*"


def test_free_text_loses_the_callers_name_and_any_phone_like_number() -> None:
    text = (
        "我是王先生，电话13900001234，家里座机021-58881234，另一个 +86 138 1234 5678，"
        "身份证31011519800101123X。碧波路690号，2026-12-03 15:30 前请处理，工单PD20261203AB12"
    )
    redacted = redact_text(text, names=["王先生"], phones=["13900001234"])
    for secret in ("王先生", "13900001234", "58881234", "12345678", "31011519800101123X"):
        assert secret not in redacted
    # What the responder needs to find the place and the time stays.
    for kept in ("王**", "139****1234", "碧波路690号", "2026-12-03 15:30", "PD20261203AB12"):
        assert kept in redacted


def test_facts_are_redacted_but_links_and_instants_are_kept() -> None:
    facts = {
        "text": "王先生说井盖没了，回电13900001234",
        "photo_url": "https://cdn.example/p/13900001234.jpg",
        "resolve_deadline": "2026-12-03T07:30:00+00:00",
    }
    redacted = redact_facts(facts, names=["王先生"], phones=[None])
    assert redacted["text"] == "王**说井盖没了，回电139****1234"
    assert redacted["photo_url"] == facts["photo_url"]
    assert redacted["resolve_deadline"] == facts["resolve_deadline"]


def test_the_ui_details_mask_the_caller_in_the_complaint_and_in_notes() -> None:
    from datetime import UTC, datetime

    status = TicketStatus(
        ticket_id="HL1",
        stage=Stage.ACCEPTED,
        source=Source.HOTLINE,
        text="王先生反映：井盖丢失，电话13900001234",
        address="浦东新区张江镇碧波路690号",
        history=[
            HistoryEntry(
                at=datetime(2026, 12, 3, tzinfo=UTC),
                stage=Stage.ACCEPTED,
                event="contacted",
                detail="已电话联系王先生 13900001234",
            )
        ],
    )
    details = render_details(status, names=["王先生"], phones=["13900001234"])
    assert "王先生" not in details and "13900001234" not in details
    assert "王**" in details and "139****1234" in details and "碧波路690号" in details
