"""What the page offers a person, decided from the ticket's status alone: which actions,
why not in Chinese, what counts as done already, and the order of "my tickets"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cityops.domain.masking import mask_phone
from cityops.domain.models import ExtensionRequest, TicketStatus
from cityops.domain.responder import (
    Allowed,
    Already,
    MyTicket,
    PageAction,
    Refused,
    ResponderView,
    available,
    effective_closure_check,
    explain_refusal,
    local_time,
    map_links,
    most_urgent_first,
    verdict,
)
from cityops.domain.stages import ClosureCheck, Source, Stage

NOW = datetime(2026, 12, 3, 7, 30, tzinfo=UTC)


def view(stage: Stage, assignee: str = "P-1", **fields: object) -> ResponderView:
    status = TicketStatus(
        ticket_id="PD1",
        stage=stage,
        source=Source.HOTLINE,
        text="垃圾",
        address="碧波路",
        assignee_id=assignee,
        **fields,
    )
    return ResponderView(status=status, person_id="P-1", caller_phone="13900001234")


def test_a_dispatched_ticket_offers_accept_and_return_only() -> None:
    assert available(view(Stage.AWAITING_ACCEPT)) == [PageAction.ACCEPT, PageAction.RETURN]


def test_an_accepted_ticket_offers_the_work_actions() -> None:
    assert available(view(Stage.ACCEPTED)) == [
        PageAction.CONTACT,
        PageAction.PAUSE,
        PageAction.EXTEND,
        PageAction.RESOLVE,
    ]
    paused = view(Stage.ACCEPTED, paused=True, contacted_at=NOW)
    assert available(paused) == [PageAction.RESUME, PageAction.EXTEND, PageAction.RESOLVE]


def test_second_taps_read_as_done_not_as_errors() -> None:
    assert isinstance(verdict(PageAction.ACCEPT, view(Stage.ACCEPTED)), Already)
    assert isinstance(verdict(PageAction.ACCEPT, view(Stage.VERIFYING)), Already)
    contacted = view(Stage.ACCEPTED, contacted_at=NOW)
    said = verdict(PageAction.CONTACT, contacted)
    assert isinstance(said, Already) and "2026-12-03 15:30 (UTC+8)" in said.message
    assert isinstance(verdict(PageAction.PAUSE, view(Stage.ACCEPTED, paused=True)), Already)
    assert isinstance(verdict(PageAction.RESUME, view(Stage.ACCEPTED)), Already)
    assert isinstance(verdict(PageAction.RESOLVE, view(Stage.RESOLVED)), Already)
    pending = ExtensionRequest(person_id="P-1", new_deadline=NOW, reason="r")
    assert isinstance(
        verdict(PageAction.EXTEND, view(Stage.ACCEPTED, pending_extension=pending)), Already
    )


@pytest.mark.parametrize(
    ("action", "stage", "words"),
    [
        (PageAction.RESOLVE, Stage.AWAITING_ACCEPT, "请先接单"),
        (PageAction.RETURN, Stage.ACCEPTED, "已接单的工单不能退单"),
        (PageAction.TRANSFER, Stage.ACCEPTED, "没有可转派的工作站"),
        (PageAction.ACCEPT, Stage.CLOSED, "不能再操作"),
    ],
)
def test_refusals_say_why_in_chinese(action: PageAction, stage: Stage, words: str) -> None:
    said = verdict(action, view(stage))
    assert isinstance(said, Refused) and words in said.message


def test_someone_elses_ticket_is_refused_without_naming_anyone() -> None:
    said = verdict(PageAction.ACCEPT, view(Stage.AWAITING_ACCEPT, assignee="P-OTHER-7"))
    assert isinstance(said, Refused)
    assert "P-OTHER-7" not in said.message and "不由您处理" in said.message


def test_transfer_down_needs_units_below() -> None:
    status = view(Stage.ACCEPTED).status
    with_units = ResponderView(status=status, person_id="P-1", child_units=[("T01-01", "站")])
    assert isinstance(verdict(PageAction.TRANSFER, with_units), Allowed)


@pytest.mark.parametrize(
    ("message", "chinese"),
    [
        ("P-9 is not assigned to this ticket", "不由您处理"),
        ("ticket is accepted; only a dispatched ticket can be accepted", "不在待接单"),
        ("photo.lat/lon: taken 512 m from the place (limit 200 m)", "约 512 米，超出 200 米"),
        ("no more extensions: the limit is 2 per ticket", "最多 2 次"),
        ("something the page never heard of, by P-SECRET-1", "请刷新页面"),
    ],
)
def test_workflow_refusals_are_put_in_chinese_without_ids(message: str, chinese: str) -> None:
    said = explain_refusal(message)
    assert chinese in said
    assert "P-" not in said


def test_times_are_shanghai_with_the_zone_marked() -> None:
    assert local_time(NOW) == "2026-12-03 15:30 (UTC+8)"
    assert local_time(None) == "—"


def test_mask_phone_keeps_the_first_three_and_last_four() -> None:
    assert mask_phone("13900001234") == "139****1234"
    assert mask_phone("+86 139-0000-1234") == "139****1234"
    assert mask_phone("58881234") == "****34"
    assert mask_phone(None) is None


def test_map_links_carry_the_coordinates() -> None:
    links = map_links(31.205, 121.6, "碧波路 690 号")
    assert links.geo.startswith("geo:31.205000,121.600000")
    assert "position=121.600000,31.205000" in links.amap and "coordinate=wgs84" in links.amap
    assert "mlat=31.205000" in links.osm


def test_closure_check_follows_the_evidence_the_ticket_can_have() -> None:
    sensor, video = ClosureCheck.SENSOR_RECOVERY, ClosureCheck.VIDEO_RECHECK
    assert effective_closure_check(sensor, alarm_sensor_type=None, has_caller_phone=True) is (
        ClosureCheck.CALLBACK
    )
    assert effective_closure_check(sensor, alarm_sensor_type=None, has_caller_phone=False) is (
        ClosureCheck.PHOTO_REVIEW
    )
    assert effective_closure_check(sensor, alarm_sensor_type="gas", has_caller_phone=False) is (
        sensor
    )
    assert effective_closure_check(video, alarm_sensor_type=None, has_caller_phone=True) is (
        ClosureCheck.PHOTO_REVIEW
    )


def test_most_urgent_first_overdue_then_colour_then_deadline() -> None:
    def row(ticket: str, sla: str = "green", overdue: bool = False, hours: float = 5) -> MyTicket:
        return MyTicket(
            ticket_id=ticket,
            stage=Stage.ACCEPTED,
            scenario_id="CA02",
            priority="P3",
            sla=sla,
            overdue=overdue,
            accept_deadline=None,
            resolve_deadline=NOW + timedelta(hours=hours),
        )

    rows = [row("later", hours=9), row("sooner", hours=2), row("yellow", "yellow", hours=8)]
    rows += [row("overdue", "red", overdue=True, hours=-1), row("red", "red", hours=-2)]
    ordered = [r.ticket_id for r in most_urgent_first(rows)]
    assert ordered == ["overdue", "red", "yellow", "sooner", "later"]
