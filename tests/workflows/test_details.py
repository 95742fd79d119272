"""The Temporal UI's ticket details: Shanghai time with the zone, repeats summarised, the
ticket's incident and the calls about it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cityops.cli.tickets import print_status
from cityops.domain.models import HistoryEntry, RepeatCallEntry, TicketIncidents, TicketStatus
from cityops.domain.stages import LinkKind, Priority, Source, Stage
from cityops.workflows.details import render_details

AT = datetime(2026, 12, 3, 7, 33, tzinfo=UTC)  # 15:33 in Shanghai


def test_times_are_shanghai_time_with_the_zone_and_repeats_are_one_line() -> None:
    status = TicketStatus(
        ticket_id="AL1", stage=Stage.AWAITING_ACCEPT, source=Source.IOT, text=None,
        address="碧波路690号", accept_deadline=AT, waiting_on=None,
        history=[
            HistoryEntry(at=AT - timedelta(minutes=5), stage=Stage.INTAKE, event="received"),
            HistoryEntry(
                at=AT - timedelta(minutes=4), stage=Stage.AWAITING_ACCEPT, event="alarm_repeated",
                detail="e99 (last of 98)", count=98, last_at=AT,
            ),
        ],
    )  # fmt: skip
    text = render_details(status)
    assert "| accept by | 2026-12-03 15:33 (UTC+8) |" in text
    assert "07:33" not in text.split("**History**")[0]
    assert "**History** (UTC+8)" in text
    assert "- 12-03 15:28:00 `received`" in text
    assert "`alarm_repeated`: e99 (last of 98) (×98, 12-03 15:29:00 – 12-03 15:33:00)" in text
    assert text.count("alarm_repeated") == 1


def ticket(ticket_id: str, source: Source, part: TicketIncidents | None) -> TicketStatus:
    return TicketStatus(
        ticket_id=ticket_id, stage=Stage.AWAITING_ACCEPT, source=source, text=None,
        address="碧波路690号", incident=part,
    )  # fmt: skip


def call(ticket_id: str, kind: LinkKind, text: str) -> RepeatCallEntry:
    return RepeatCallEntry(
        ticket_id=ticket_id, at=AT, kind=kind, caller_phone_masked="139****5678", text=text
    )


def test_a_repeat_callers_ticket_shows_its_incident_and_the_ticket_it_waits_on() -> None:
    waiting = TicketIncidents(
        incident_ids=["INPS03A"],
        link=LinkKind.REPEAT_CALL,
        primary_ticket_id="HL1",
        waiting_on_primary=True,
    )
    text = render_details(ticket("HL2", Source.HOTLINE, waiting))
    assert "| incident | INPS03A (a repeat call), waits on HL1 |" in text
    sensor = waiting.model_copy(update={"link": LinkKind.KNOWN_FROM_SENSORS})
    text = render_details(ticket("HL3", Source.HOTLINE, sensor))
    assert "| incident | INPS03A (already known from sensors), waits on HL1 |" in text
    # Closed with its primary (or handled on its own): it no longer waits.
    done = waiting.model_copy(update={"waiting_on_primary": False})
    assert "| incident | INPS03A (a repeat call), primary HL1 |" in render_details(
        ticket("HL2", Source.HOTLINE, done)
    )
    assert "| incident |" not in render_details(ticket("HL4", Source.HOTLINE, None))


def test_a_citizens_primary_shows_who_called_again_in_shanghai_time_masked() -> None:
    primary = TicketIncidents(
        incident_ids=["INPS03A"],
        link=LinkKind.NEW,
        repeat_calls=3,
        latest_calls=[call("HL2", LinkKind.REPEAT_CALL, "井盖还没装，电话13912345678")],
        stepped_up_from=Priority.P3,
    )
    text = render_details(ticket("HL1", Source.HOTLINE, primary))
    assert "| incident | INPS03A |" in text
    assert "| called again | 3 time(s), stepped up from P3 |" in text
    row = "| | 2026-12-03 15:33 (UTC+8) · HL2 · 139****5678: 井盖还没装，电话139****5678 |"
    assert row in text
    assert "13912345678" not in text and "reporting it too" not in text


def test_residents_calling_about_a_sensor_ticket_are_reporting_it_too() -> None:
    """On what a sensor found first, residents' calls are no 'called again': they tell the
    supervisor the sensors were first."""
    primary = TicketIncidents(
        incident_ids=["INPS01B"],
        repeat_calls=2,
        latest_calls=[
            call("HL5", LinkKind.KNOWN_FROM_SENSORS, "楼道里有煤气味"),
            call("HL6", LinkKind.REPEAT_CALL, "煤气味越来越重"),  # joined HL5's report
        ],
    )
    text = render_details(ticket("AL1", Source.IOT, primary))
    assert "| residents | 2 reporting it too, already known from sensors |" in text
    assert "called again" not in text
    assert "· HL5 · 139****5678: 楼道里有煤气味 |" in text
    # Known from sensors however the ticket came in: the calls say so.
    known = primary.model_copy(update={"latest_calls": primary.latest_calls[:1]})
    assert "| residents | 2 reporting it too" in render_details(
        ticket("HL7", Source.HOTLINE, known)
    )


def test_a_callers_words_cannot_break_the_table_or_the_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Untrusted words, escaped for each channel: in the UI's markdown they stay in their
    cell (no new row or column, no link, no HTML); on `cityops status` they stay on one
    line with no escape sequence."""
    words = "井盖|没了\n| forged | row |\x1b[2J[点我](js:x)<img>`code`"
    primary = TicketIncidents(
        incident_ids=["INPS03A"],
        repeat_calls=1,
        latest_calls=[call("HL2", LinkKind.REPEAT_CALL, words)],
    )
    status = ticket("HL1", Source.HOTLINE, primary)
    text = render_details(status)
    [row] = [line for line in text.splitlines() if "· HL2 ·" in line]
    assert row.count(" | ") == 1 and row.endswith(" |")  # the row's own two cells only
    assert "\\| forged \\| row \\|" in row and "| forged |" not in text
    assert "\\[点我\\]" in row and "&lt;img&gt;" in row and "\\`code\\`" in row
    assert "\x1b" not in text
    print_status(status)
    shown_lines = [line for line in capsys.readouterr().out.splitlines() if "HL2" in line]
    assert len(shown_lines) == 1 and "\x1b" not in shown_lines[0]
    assert "井盖|没了 | forged" in shown_lines[0]
