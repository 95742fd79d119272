"""A complaint joins an incident only 'while a ticket is open': the reports offered to
link against are those whose ticket the register shows open (a ticket not in the
register yet counts as open for its first hour). SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from cityops.db.incidents import UNREGISTERED_GRACE, NewReport, open_incident, open_reports
from cityops.domain.stages import Source
from cityops.org.migrate import upgrade
from cityops.register.tables import TicketRow
from cityops.rules.incidents import default_incident_rules

AT = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)


def test_only_open_tickets_are_repeated_and_a_closed_one_opens_a_new_incident(
    database_url: str, engine: Engine
) -> None:
    upgrade(database_url)
    max_age = default_incident_rules().repeat_rule("PS03").max_age
    for ticket_id in ("HL-OPEN", "HL-CLOSED", "HL-UNSEEN"):
        report = NewReport(ticket_id, "PS03", Source.HOTLINE, AT, address="碧波路690号")
        open_incident(engine, report, max_age)
    with Session(engine) as session:
        for ticket_id, stage in (("HL-OPEN", "awaiting_accept"), ("HL-CLOSED", "closed")):
            session.add(
                TicketRow(
                    ticket_id=ticket_id,
                    workflow_id=f"ticket-{ticket_id}",
                    source="hotline",
                    stage=stage,
                    scenario_id="PS03",
                    received_at=AT,
                    updated_at=AT,
                )
            )
        session.commit()
    soon = AT + timedelta(minutes=20)
    assert {r.ticket_id for r in open_reports(engine, "PS03", soon, max_age)} == {
        "HL-OPEN",
        "HL-UNSEEN",  # linked, not registered yet: open for its first hour
    }
    later = AT + UNREGISTERED_GRACE + timedelta(minutes=1)
    assert {r.ticket_id for r in open_reports(engine, "PS03", later, max_age)} == {"HL-OPEN"}
    assert open_reports(engine, "EM01", soon, max_age) == []  # another scenario: nothing
