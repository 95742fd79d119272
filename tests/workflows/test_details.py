"""The Temporal UI's ticket details: Shanghai time with the zone, repeats summarised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cityops.domain.models import HistoryEntry, TicketStatus
from cityops.domain.stages import Source, Stage
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
