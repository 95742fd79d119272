"""Migration 0010_incidents on a register that already holds an alarm storm's incident:
incident_tickets.device_id becomes nullable, so a citizen's ticket (no device) can be
linked, and the links written before keep their device and read as an alarm's grouped
ticket. Going back drops the device-less links only. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from cityops.db.incidents import incident_view
from cityops.domain.incidents import TicketRole
from cityops.domain.stages import Source
from cityops.org.migrate import downgrade, upgrade

BEFORE = "0004_responder_page"  # the revision 0010_incidents follows
AT = datetime(2026, 11, 6, 2, 5, tzinfo=UTC)
LINK = text(
    "INSERT INTO incident_tickets (incident_id, ticket_id, device_id, linked_at) "
    "VALUES ('INEM01OLD', :ticket, :device, :at)"
)


def test_0010_makes_a_device_optional_and_keeps_the_alarm_links_before_it(
    database_url: str, engine: Engine
) -> None:
    upgrade(database_url, BEFORE)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO incidents (incident_id, scenario_id, group_by, group_key, "
                "street_code, opened_at, window_ends_at, ticket_count) VALUES "
                "('INEM01OLD', 'EM01', 'street', 'T02', 'T02', :at, :ends, 2)"
            ),
            {"at": AT, "ends": AT + timedelta(hours=1)},
        )
        for n, device in enumerate(("WLV-T02-00005", "WLV-T02-00006")):
            connection.execute(LINK, {"ticket": f"AL{n}", "device": device, "at": AT})
    with pytest.raises(IntegrityError), engine.begin() as connection:  # NOT NULL before
        connection.execute(LINK, {"ticket": "HL1", "device": None, "at": AT})

    upgrade(database_url)
    with engine.begin() as connection:  # a citizen's call about the flood joins it
        connection.execute(LINK, {"ticket": "HL1", "device": None, "at": AT})
        connection.execute(
            text(
                "UPDATE incident_tickets SET source = 'hotline', role = 'repeat_call' "
                "WHERE ticket_id = 'HL1'"
            )
        )
    view = incident_view(engine, "INEM01OLD", AT + timedelta(minutes=5))
    assert view is not None
    shown = {t.ticket_id: (t.device_id, t.role, t.source) for t in view.tickets}
    assert shown == {
        "AL0": ("WLV-T02-00005", TicketRole.GROUPED, Source.IOT),
        "AL1": ("WLV-T02-00006", TicketRole.GROUPED, Source.IOT),
        "HL1": (None, TicketRole.REPEAT_CALL, Source.HOTLINE),
    }
    assert view.street_code == "T02" and view.sources == ["hotline", "iot"]

    downgrade(database_url, BEFORE)  # a device-less link cannot go back: it alone is dropped
    with engine.connect() as connection:
        left = connection.execute(text("SELECT ticket_id, device_id FROM incident_tickets"))
        assert sorted(tuple(row) for row in left) == [
            ("AL0", "WLV-T02-00005"),
            ("AL1", "WLV-T02-00006"),
        ]
