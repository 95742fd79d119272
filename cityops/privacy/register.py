"""Callers' contact details in the application database: sealed, revealed on purpose, erased.

- ``caller_contacts``: one row per ticket with a phone or name, both sealed
  (``privacy/seal.py``), plus the keyed phone hash that finds a caller's tickets.
- ``phone_reveals`` (``cityops/db/page_links.py``, shared with the responder's page): every
  time someone had the full number shown, who, how and why.
- ``privacy_erasures``: every erasure, which tickets, who asked and why (never the phone).

All functions are synchronous database calls; async callers run them in a thread.

Exceptions::

    ContactError            base
    ├── NoContact           the ticket has no stored phone (none given, or another store)
    └── ContactErased       the caller's data was erased
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, column, func, table, update
from sqlmodel import Field, Session, SQLModel, col, select

from cityops.db.page_links import PhoneRevealRow
from cityops.domain.models import TicketIntake
from cityops.privacy.keys import KeyRing
from cityops.privacy.seal import phone_hash, phone_hashes, seal, unseal

PHONE = "caller_phone"
NAME = "caller_name"
BATCH = 500
# The register's ticket table (activities/store.py), named here without importing upward.
_TICKETS = table("tickets", column("ticket_id"), column("text"))


class ContactError(Exception):
    """Base of contact register problems."""


class NoContact(ContactError):
    pass


class ContactErased(ContactError):
    pass


class CallerContactRow(SQLModel, table=True):
    __tablename__ = "caller_contacts"

    ticket_id: str = Field(primary_key=True, max_length=64)
    phone_sealed: str | None = Field(default=None, max_length=400)
    name_sealed: str | None = Field(default=None, max_length=400)
    phone_hash: str | None = Field(default=None, index=True, max_length=64)
    key_id: str = Field(index=True, max_length=40)
    recorded_at: datetime
    erased_at: datetime | None = None


class ErasureRow(SQLModel, table=True):
    __tablename__ = "privacy_erasures"

    id: int | None = Field(default=None, primary_key=True)
    requested_by: str = Field(max_length=64)
    reason: str = Field(max_length=500)
    ticket_ids: str = Field(description="Comma-separated tickets whose caller data was erased")
    at: datetime


@dataclass(frozen=True)
class Contact:
    ticket_id: str
    phone: str | None
    name: str | None


@dataclass(frozen=True)
class Erasure:
    ticket_ids: list[str]
    at: datetime


def contact_row(ring: KeyRing, intake: TicketIntake, at: datetime) -> CallerContactRow | None:
    """The sealed row for a ticket's caller, or None when the caller left neither."""
    if not intake.caller_phone and not intake.caller_name:
        return None
    return sealed_contact(ring, intake.ticket_id, intake.caller_phone, intake.caller_name, at)


def sealed_contact(
    ring: KeyRing, ticket_id: str, phone: str | None, name: str | None, at: datetime
) -> CallerContactRow:
    """The caller's phone and name sealed with the active key, and the phone's keyed hash."""
    return CallerContactRow(
        ticket_id=ticket_id,
        phone_sealed=seal(ring, phone, purpose=PHONE) if phone else None,
        name_sealed=seal(ring, name, purpose=NAME) if name else None,
        phone_hash=phone_hash(ring.active, phone) if phone else None,
        key_id=ring.active.key_id,
        recorded_at=at,
    )


def reveal_phone(
    engine: Engine, ring: KeyRing, ticket_id: str, *, by: str, via: str, reason: str
) -> Contact:
    """The caller's full phone and name, after writing who asked, how (``cli``,
    ``api:<key id>``) and why."""
    with Session(engine) as session:
        row = session.get(CallerContactRow, ticket_id)
        if row is None:
            raise NoContact(f"no caller phone stored for ticket {ticket_id}")
        if row.erased_at is not None:
            raise ContactErased(f"the caller's data of ticket {ticket_id} was erased")
        session.add(
            PhoneRevealRow(
                ticket_id=ticket_id, person_id=by, reason=reason, at=datetime.now(UTC), via=via
            )
        )
        session.commit()
        return Contact(
            ticket_id,
            unseal(ring, row.phone_sealed, purpose=PHONE) if row.phone_sealed else None,
            unseal(ring, row.name_sealed, purpose=NAME) if row.name_sealed else None,
        )


def reveals_of(engine: Engine, ticket_id: str) -> list[PhoneRevealRow]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(PhoneRevealRow)
                .where(PhoneRevealRow.ticket_id == ticket_id)
                .order_by(col(PhoneRevealRow.id))
            )
        )


def tickets_of_phone(engine: Engine, ring: KeyRing, phone: str) -> list[str]:
    """The tickets a phone number called in (repeat callers), under any key of the ring."""
    with Session(engine) as session:
        rows = session.exec(
            select(CallerContactRow.ticket_id)
            .where(col(CallerContactRow.phone_hash).in_(phone_hashes(ring, phone)))
            .order_by(col(CallerContactRow.recorded_at))
        )
        return list(rows)


def erase_phone(
    engine: Engine, ring: KeyRing, phone: str, *, requested_by: str, reason: str
) -> Erasure:
    """Remove the caller's phone, name and complaint text from every ticket they called in,
    and record the erasure (ticket numbers, who, why; not the phone)."""
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        rows = session.exec(
            select(CallerContactRow).where(
                col(CallerContactRow.phone_hash).in_(phone_hashes(ring, phone))
            )
        ).all()
        ticket_ids = sorted(row.ticket_id for row in rows)
        for row in rows:
            row.phone_sealed = row.name_sealed = row.phone_hash = None
            row.erased_at = now
            session.add(row)
        if ticket_ids:  # the complaint text may describe the caller: it goes too
            session.execute(
                update(_TICKETS).where(_TICKETS.c.ticket_id.in_(ticket_ids)).values(text=None)
            )
        session.add(
            ErasureRow(
                requested_by=requested_by,
                reason=reason,
                ticket_ids=",".join(ticket_ids),
                at=now,
            )
        )
    return Erasure(ticket_ids, now)


def reencrypt(engine: Engine, ring: KeyRing) -> int:
    """Seal every stored contact again under the ring's active key (phone hash too);
    returns how many rows changed. Run after adding a key: `cityops keys rotate`."""
    active = ring.active.key_id
    changed = 0
    while True:
        with Session(engine) as session, session.begin():
            rows: Sequence[CallerContactRow] = session.exec(
                select(CallerContactRow)
                .where(CallerContactRow.key_id != active)
                .order_by(col(CallerContactRow.ticket_id))
                .limit(BATCH)
            ).all()
            if not rows:
                return changed
            for row in rows:
                _reseal(ring, row)
                session.add(row)
            changed += len(rows)


def _reseal(ring: KeyRing, row: CallerContactRow) -> None:
    if row.phone_sealed:
        phone = unseal(ring, row.phone_sealed, purpose=PHONE)
        row.phone_sealed = seal(ring, phone, purpose=PHONE)
        row.phone_hash = phone_hash(ring.active, phone)
    if row.name_sealed:
        row.name_sealed = seal(ring, unseal(ring, row.name_sealed, purpose=NAME), purpose=NAME)
    row.key_id = ring.active.key_id


def keys_in_use(engine: Engine) -> dict[str, int]:
    """How many stored contacts each key sealed: a key at 0 holds nothing here."""
    with Session(engine) as session:
        rows = session.exec(
            select(CallerContactRow.key_id, func.count())
            .where(col(CallerContactRow.erased_at).is_(None))
            .group_by(col(CallerContactRow.key_id))
        )
        return {key_id: int(count) for key_id, count in rows}
