"""Callers' contacts in the register, on SQLite and PostgreSQL: sealed at rest, revealed on
purpose, re-encrypted on rotation, erased on request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from cityops.activities.store import StoreActivities, TicketRow
from cityops.domain.models import TicketIntake, TicketRecord
from cityops.domain.stages import Source, Stage
from cityops.org.migrate import upgrade
from cityops.privacy.keys import KeyRing, generate_key
from cityops.privacy.register import (
    CallerContactRow,
    ContactErased,
    ErasureRow,
    NoContact,
    erase_phone,
    keys_in_use,
    reencrypt,
    reveal_phone,
    reveals_of,
    tickets_of_phone,
)

AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
PHONE, NAME = "13900001234", "王先生"
OLD, NEW = generate_key(), generate_key()


def record(ticket_id: str, phone: str | None = PHONE, name: str | None = NAME) -> TicketRecord:
    intake = TicketIntake(
        ticket_id=ticket_id,
        source=Source.HOTLINE,
        text=f"我是{name or '市民'}，井盖不见了，回电{phone or '021-58881234'}",
        caller_phone=phone,
        caller_name=name,
        received_at=AT,
    )
    return TicketRecord(
        ticket_id=ticket_id, workflow_id=f"ticket-{ticket_id}", stage=Stage.AWAITING_ACCEPT,
        intake=intake, event="dispatched", at=AT + timedelta(minutes=1),
    )  # fmt: skip


@pytest.fixture
def stored(database_url: str, engine: Engine) -> Engine:
    upgrade(database_url)
    activity = StoreActivities(engine, KeyRing([OLD]))
    env = ActivityEnvironment()
    env.run(activity.record_ticket, record("HL1"))
    env.run(activity.record_ticket, record("HL1"))  # a retried activity writes nothing twice
    env.run(activity.record_ticket, record("HL2", phone="+86 139-0000-1234", name=None))
    env.run(activity.record_ticket, record("HL3", phone="13800009999", name="李女士"))
    env.run(activity.record_ticket, record("HL4", phone=None, name=None))
    return engine


def dump(engine: Engine) -> str:
    """Every value of every table, as a text an attacker with the database would read."""
    values: list[str] = []
    with engine.connect() as connection:
        for table in ("tickets", "caller_contacts", "ticket_events"):
            for row in connection.execute(text(f"SELECT * FROM {table}")):
                values += [str(v) for v in row]
    return "\n".join(values)


def test_the_register_holds_no_phone_or_name_in_clear(stored: Engine) -> None:
    everything = dump(stored)
    assert "HL1" in everything and "enc1:" in everything  # the dump is real
    for secret in (PHONE, NAME, "13800009999", "李女士"):
        assert secret not in everything
    with Session(stored) as session:
        assert session.get(CallerContactRow, "HL4") is None  # no contact left, no row
        row = session.get(TicketRow, "HL1")
        assert row is not None and row.text == "我是王**，井盖不见了，回电139****1234"


def test_a_reveal_answers_the_number_and_keeps_who_and_why(stored: Engine) -> None:
    contact = reveal_phone(
        stored, KeyRing([OLD]), "HL1", by="P-T01-3", via="cli", reason="上门前确认"
    )
    assert (contact.phone, contact.name) == (PHONE, NAME)
    [logged] = reveals_of(stored, "HL1")
    assert (logged.person_id, logged.via, logged.reason) == ("P-T01-3", "cli", "上门前确认")
    with pytest.raises(NoContact):
        reveal_phone(stored, KeyRing([OLD]), "HL4", by="P", via="cli", reason="test")


def test_repeat_callers_are_found_by_the_keyed_hash(stored: Engine) -> None:
    assert tickets_of_phone(stored, KeyRing([OLD]), "139 0000 1234") == ["HL1", "HL2"]


def test_rotation_reseals_every_contact_under_the_new_key(stored: Engine) -> None:
    before = dump(stored)
    rotated = KeyRing([OLD, NEW])
    assert reencrypt(stored, rotated) == 3
    assert reencrypt(stored, rotated) == 0  # nothing left under the old key
    assert keys_in_use(stored) == {NEW.key_id: 3}
    assert f"enc1:{OLD.key_id}:" in before and f"enc1:{OLD.key_id}:" not in dump(stored)
    # The old key can go from the ring: everything opens and matches with the new one alone.
    only_new = KeyRing([NEW])
    assert tickets_of_phone(stored, only_new, PHONE) == ["HL1", "HL2"]
    contact = reveal_phone(stored, only_new, "HL3", by="P-1", via="k", reason="回访")
    assert (contact.phone, contact.name) == ("13800009999", "李女士")


def test_erasure_removes_the_callers_data_and_records_it_without_the_phone(
    stored: Engine,
) -> None:
    erased = erase_phone(
        stored, KeyRing([OLD]), "+8613900001234", requested_by="P-D-1", reason="市民申请删除"
    )
    assert erased.ticket_ids == ["HL1", "HL2"]
    with Session(stored) as session:
        for ticket_id in ("HL1", "HL2"):
            row = session.get(CallerContactRow, ticket_id)
            assert row is not None and row.erased_at is not None
            assert (row.phone_sealed, row.name_sealed, row.phone_hash) == (None, None, None)
            ticket = session.get(TicketRow, ticket_id)
            assert ticket is not None and ticket.text is None
        other = session.get(TicketRow, "HL3")
        assert other is not None and other.text  # another caller's ticket is untouched
        [erasure] = session.exec(select(ErasureRow)).all()
    assert (erasure.ticket_ids, erasure.requested_by) == ("HL1,HL2", "P-D-1")
    assert tickets_of_phone(stored, KeyRing([OLD]), PHONE) == []
    with pytest.raises(ContactErased):
        reveal_phone(stored, KeyRing([OLD]), "HL1", by="P", via="cli", reason="again")
