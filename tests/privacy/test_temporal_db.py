"""The Temporal dev server's own database files (as `cityops up` keeps them in
var/temporal.db, WAL included) never hold a caller's phone or name in clear."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

from cityops.domain.models import AcceptInput, ContactInput
from cityops.service import tickets
from cityops.workers.devserver import start_dev_server
from cityops.workflows import search_attributes as sa
from cityops.workflows.ticket import TicketWorkflow
from tests.workflows.harness import intake, running

PHONE, NAME = "13900001234", "王先生"


def stored_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.glob("temporal.db*")))


async def test_temporal_db_and_wal_hold_no_phone_or_name(tmp_path: Path) -> None:
    env = await start_dev_server(tmp_path / "temporal.db")
    try:
        await sa.register(env.client, "default")
        async with running(env) as h:
            await h.start(
                intake(
                    "T-DBSCAN",
                    scenario="CH01",
                    text=f"{NAME}反映工地夜间施工，联系电话{PHONE}",
                    caller_name=NAME,
                    # The server's instant: a date hours behind it would run the accept
                    # chain at once, racing the accept below.
                    received_at=(await env.get_current_time()).astimezone(UTC),
                )
            )
            person = "P-T01-D"
            await tickets.update(
                h.client, "T-DBSCAN", TicketWorkflow.accept, AcceptInput(person_id=person)
            )
            note = ContactInput(person_id=person, note=f"已电话联系{NAME} {PHONE}")
            await tickets.update(h.client, "T-DBSCAN", TicketWorkflow.contact_citizen, note)
            while_running = stored_bytes(tmp_path)
    finally:
        await env.shutdown()
    after = stored_bytes(tmp_path)
    for stored in (while_running, after):
        assert b"T-DBSCAN" in stored  # the files scanned are the ones the ticket lives in
        assert PHONE.encode() not in stored
        assert NAME.encode() not in stored
