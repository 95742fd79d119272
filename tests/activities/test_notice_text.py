"""Every notice kind renders in Chinese with the ticket's number, scenario, place and deadline."""

from __future__ import annotations

import pytest

from cityops.activities.notice_text import (
    TEMPLATE_DIR,
    format_instant,
    own_photo,
    render_notice,
    template_name,
)
from cityops.domain.models import Notice, NoticeItem, Recipient
from cityops.domain.stages import NoticeKind, Reader, Tier

WANG = Recipient(person_id="p-wang", name="王五", unit_code="T07-02", tier=Tier.VILLAGE)
ACCEPT = "https://ops.example/a/TOKEN"
DETAILS = "https://ops.example/tickets/T1"
FACTS = {
    "scenario": "S0305 井盖缺失",
    "place": "张杨路500号",
    "priority": "P3",
    "text": "路口井盖不见了，很危险",
    "accept_deadline": "2026-10-08T02:30:00+00:00",
    "resolve_deadline": "2026-10-10T09:30:00+00:00",
}

LEADS = {
    NoticeKind.ASSIGNED: "新派发的工单",
    NoticeKind.REMINDER: "【提醒】",
    NoticeKind.ESCALATED: "【升级】",
    NoticeKind.URGE: "【催办】",
    NoticeKind.SUPERVISE: "【督办】",
    NoticeKind.OVERDUE: "【超时】",
    NoticeKind.EXTENSION_REQUESTED: "【延期申请】",
    NoticeKind.EXTENSION_DECIDED: "延期申请",
    NoticeKind.RETURNED: "【退单改派】",
    NoticeKind.REOPENED: "【重办】",
    NoticeKind.CALLBACK_REQUEST: "【回访",
    NoticeKind.REVIEW_REQUEST: "【审核】",
    NoticeKind.CO_HANDLING: "【协办】",
    NoticeKind.CLOSED: "办结并关闭",
    NoticeKind.SUGGESTION: "【市民建议】",
    NoticeKind.TRIAGE_REQUEST: "【待分拣】",
    NoticeKind.RECHECK_REQUEST: "【视频复核】",
    NoticeKind.RECONSIDERATION_REQUESTED: "【复议申请】",
    NoticeKind.RECONSIDERATION_DECIDED: "复议申请",
    NoticeKind.SENSOR_RECOVERED: "【设备恢复】",
    NoticeKind.RECOVERY_REQUEST: "【待设备恢复】",
}
# A grouped message carries several tickets; it is tested on its own below.
SINGLE_TICKET_KINDS = [kind for kind in NoticeKind if kind is not NoticeKind.GROUPED]


def notice(kind: NoticeKind, facts: dict[str, str] | None = None) -> Notice:
    return Notice(
        kind=kind,
        ticket_id="T1",
        idempotency_key="k",
        recipients=[WANG],
        title="T1 井盖缺失 张杨路500号",
        facts=FACTS if facts is None else facts,
    )


def test_every_notice_kind_has_a_template_and_a_lead_line() -> None:
    assert set(LEADS) == set(SINGLE_TICKET_KINDS)
    for kind in NoticeKind:
        assert (TEMPLATE_DIR / template_name(kind)).is_file(), kind


@pytest.mark.parametrize("kind", SINGLE_TICKET_KINDS)
def test_each_kind_names_ticket_scenario_place_deadline_and_links(kind: NoticeKind) -> None:
    text = render_notice(notice(kind), WANG, ACCEPT, DETAILS)
    assert text.startswith("### T1 井盖缺失 张杨路500号\n")
    assert "王五（T07-02）" in text
    assert LEADS[kind] in text
    assert "工单编号：T1" in text
    assert "场景：S0305 井盖缺失" in text
    assert "地点：张杨路500号" in text
    assert "接单时限：2026-10-08 10:30 (UTC+8)" in text  # shown in Shanghai time, zone marked
    assert "办结时限：2026-10-10 17:30 (UTC+8)" in text
    assert f"[一键接单]({ACCEPT})" in text
    assert f"[查看工单]({DETAILS})" in text
    assert "\n\n\n" not in text


def test_missing_facts_show_a_dash_and_optional_lines_are_left_out() -> None:
    text = render_notice(notice(NoticeKind.ASSIGNED, facts={}), WANG, None, DETAILS)
    assert "场景：—" in text
    assert "地点：—" in text
    assert "接单时限：" not in text
    assert "办结时限：" not in text
    assert "诉求" not in text
    assert "一键接单" not in text


def test_kind_specific_facts_appear() -> None:
    decided = render_notice(
        notice(
            NoticeKind.EXTENSION_DECIDED,
            {**FACTS, "decision": "approved", "new_deadline": "2026-10-12T09:30:00+00:00"},
        ),
        WANG,
        None,
        DETAILS,
    )
    assert "您的延期申请已批准" in decided
    assert "新办结时限：2026-10-12 17:30 (UTC+8)" in decided
    rejected = render_notice(
        notice(NoticeKind.EXTENSION_DECIDED, {"decision": "rejected", "reason": "理由不充分"}),
        WANG,
        None,
        DETAILS,
    )
    assert "已驳回" in rejected
    assert "审批意见：理由不充分" in rejected
    urged = render_notice(
        notice(NoticeKind.URGE, {**FACTS, "by": "区城运中心", "note": "今日必须到场"}),
        WANG,
        ACCEPT,
        DETAILS,
    )
    assert "催办人：区城运中心" in urged
    assert "催办意见：今日必须到场" in urged
    review = render_notice(
        notice(NoticeKind.REVIEW_REQUEST, {"photo_url": "https://img.example/1.jpg"}),
        WANG,
        None,
        DETAILS,
    )
    # A photo elsewhere is a link that says where it goes; only ours has a thumbnail.
    assert "[查看照片（外部链接 img.example）](https://img.example/1.jpg)" in review
    unfixed = render_notice(
        notice(NoticeKind.CLOSED, {"stage": "closed_unfixed"}), WANG, None, DETAILS
    )
    assert "裁定结案（问题未解决）" in unfixed


HOTLINE = Recipient(
    person_id="hotline", name="12345热线回访", unit_code="HOTLINE", tier=Tier.DISTRICT,
    reader=Reader.HOTLINE,
)  # fmt: skip
DISPATCHER = WANG.model_copy(update={"reader": Reader.SUPERVISOR})


def test_each_reader_gets_its_own_wording() -> None:
    approved = {**FACTS, "decision": "approved", "new_deadline": "2026-10-12T09:30:00+00:00"}
    to_hotline = render_notice(
        notice(NoticeKind.EXTENSION_DECIDED, approved), HOTLINE, None, DETAILS
    )
    assert "请告知市民" in to_hotline and "您的延期申请" not in to_hotline
    assert "新办结时限：2026-10-12 17:30 (UTC+8)" in to_hotline
    closed = render_notice(notice(NoticeKind.CLOSED, {"stage": "closed"}), HOTLINE, None, DETAILS)
    assert "请告知市民" in closed and "感谢您的处置" not in closed
    dismissed = render_notice(
        notice(NoticeKind.CLOSED, {"stage": "dismissed", "reason": "咨询类"}),
        HOTLINE,
        None,
        DETAILS,
    )
    assert "不属于工单" in dismissed and "理由：咨询类" in dismissed
    urge = render_notice(notice(NoticeKind.URGE), DISPATCHER, None, DETAILS)
    assert "请督促承办人" in urge
    callback = render_notice(notice(NoticeKind.CALLBACK_REQUEST), HOTLINE, None, DETAILS)
    assert "请回访市民" in callback
    reminder = render_notice(
        notice(NoticeKind.REMINDER, {"stage": "accepted"}), WANG, None, DETAILS
    )
    assert "请尽快办结" in reminder
    # A fixed fault whose device is still abnormal: the assignee checks on site, whoever
    # the wait climbs to coordinates.
    recovery = notice(NoticeKind.RECOVERY_REQUEST, {**FACTS, "device": "GAS-9"})
    to_assignee = render_notice(recovery, WANG, None, DETAILS)
    assert "请到场核查" in to_assignee and "- 设备：GAS-9" in to_assignee
    to_supervisor = render_notice(recovery, DISPATCHER, None, DETAILS)
    assert "请协调到场核查" in to_supervisor and "您已报告" not in to_supervisor


def test_a_grouped_message_lists_each_follow_up_with_its_links() -> None:
    items = [
        NoticeItem(kind=NoticeKind.ESCALATED, ticket_id=f"AL{n}", title=f"AL{n}", facts={
            "scenario": "EM01 道路积水", "place": f"路口{n}",
            "accept_deadline": "2026-10-08T02:30:00+00:00",
        }, accept_link=True)
        for n in (1, 2)
    ]  # fmt: skip
    grouped = Notice(
        kind=NoticeKind.GROUPED, ticket_id="AL1", idempotency_key="g", recipients=[WANG],
        title="同一事件 2 张工单", items=items,
    )  # fmt: skip
    text = render_notice(
        grouped, WANG, None, DETAILS,
        link_for=lambda t: f"https://ops.example/tickets/{t}",
        accept_for=lambda t: f"https://ops.example/a/{t}",
    )  # fmt: skip
    assert "【同一事件合并通知】" in text and "2 条" in text
    for n in (1, 2):
        assert f"升级：AL{n} EM01 道路积水 路口{n}" in text
        assert f"[一键接单](https://ops.example/a/AL{n})" in text
        assert f"[查看工单](https://ops.example/tickets/AL{n})" in text
    assert "接单时限 2026-10-08 10:30 (UTC+8)" in text


def test_long_complaint_text_is_cut_at_two_hundred_characters() -> None:
    text = render_notice(notice(NoticeKind.ASSIGNED, {"text": "噪" * 500}), WANG, None, DETAILS)
    [line] = [line for line in text.splitlines() if line.startswith("- 诉求：")]
    assert line == "- 诉求：" + "噪" * 199 + "…"


def test_instants_are_shown_in_shanghai_time_and_other_text_as_is() -> None:
    assert format_instant("2026-10-08T02:30:00+00:00") == "2026-10-08 10:30 (UTC+8)"
    assert format_instant("2026-10-08T10:30:00+08:00") == "2026-10-08 10:30 (UTC+8)"
    assert format_instant("国庆后第一个工作日") == "国庆后第一个工作日"
    assert format_instant("") == "—"


def test_a_suggestion_notice_shows_its_reply_deadline_in_shanghai_time() -> None:
    facts = {**FACTS, "reply_deadline": "2026-10-15T09:30:00+00:00"}
    text = render_notice(notice(NoticeKind.SUGGESTION, facts), WANG, None, DETAILS)
    assert "答复时限：2026-10-15 17:30" in text
    assert "一键接单" not in text


def test_the_review_notice_shows_the_reviewer_a_thumbnail_of_a_page_photo() -> None:
    photo = "https://ops.example/photos/0123456789abcdef0123456789abcdef"
    notice = Notice(
        kind=NoticeKind.REVIEW_REQUEST,
        ticket_id="T1",
        idempotency_key="k",
        recipients=[WANG],
        title="T1",
        facts=FACTS | {"resolution": "已清运", "photo_url": photo},
    )
    ours = own_photo(photo, "https://ops.example")
    assert ours == photo and own_photo("https://x/photos/p.jpg", "https://ops.example") is None
    text = render_notice(notice, WANG, None, DETAILS, "https://ops.example/r/PAGE", photo_link=ours)
    assert f"[查看照片]({photo})" in text
    assert f"![处置照片缩略图]({photo}/thumb)" in text
    assert "[手机处置](https://ops.example/r/PAGE)" in text
    elsewhere = notice.model_copy(update={"facts": FACTS | {"photo_url": "https://x/p.jpg"}})
    assert "/thumb" not in render_notice(elsewhere, WANG, None, DETAILS)
