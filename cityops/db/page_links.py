"""What the responder's page keeps: link revocations, every action taken through a page,
and every reveal of a caller's phone number (who, when, why).

A page link carries the instant it was issued (cityops/domain/tokens.py). A revocation
row for the person (all their links) or for one of their tickets kills every link issued
up to the revocation instant; links sent after it work again. Nothing is deleted: the
rows are also the audit of who did what through a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, or_
from sqlmodel import Field, Session, SQLModel, col, select


class PageLinkRevocation(SQLModel, table=True):
    __tablename__ = "page_link_revocations"

    id: int | None = Field(default=None, primary_key=True)
    person_id: str = Field(index=True, max_length=64)
    ticket_id: str | None = Field(default=None, max_length=64)  # None: every ticket
    revoked_at: datetime
    by: str = Field(default="", max_length=64)
    reason: str = Field(default="", max_length=500)


class PageActionRow(SQLModel, table=True):
    """One action tried through a page, and how it ended."""

    __tablename__ = "page_actions"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(index=True, max_length=64)
    person_id: str = Field(index=True, max_length=64)
    action: str = Field(max_length=32)
    outcome: str = Field(max_length=16)  # done / already / refused / failed
    detail: str = Field(default="", max_length=500)
    at: datetime


class PhoneRevealRow(SQLModel, table=True):
    """A responder was shown the caller's whole phone number."""

    __tablename__ = "phone_reveals"

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: str = Field(index=True, max_length=64)
    person_id: str = Field(index=True, max_length=64)
    reason: str = Field(max_length=200)
    at: datetime
    # How: "page" (the signed link names the person), "cli", or "api:<API key id>".
    via: str = Field(default="page", max_length=80)


@dataclass(frozen=True)
class PageLog:
    """Reads and writes the page's tables on one engine."""

    engine: Engine

    def is_revoked(self, person_id: str, ticket_id: str, issued_at: datetime) -> bool:
        with Session(self.engine) as session:
            row = session.exec(
                select(PageLinkRevocation).where(
                    PageLinkRevocation.person_id == person_id,
                    or_(
                        col(PageLinkRevocation.ticket_id).is_(None),
                        col(PageLinkRevocation.ticket_id) == ticket_id,
                    ),
                    PageLinkRevocation.revoked_at >= _utc(issued_at),
                )
            ).first()
        return row is not None

    def revoke(
        self,
        person_id: str,
        *,
        ticket_id: str | None = None,
        at: datetime | None = None,
        by: str = "",
        reason: str = "",
    ) -> datetime:
        revoked_at = _utc(at or datetime.now(UTC))
        with Session(self.engine) as session:
            session.add(
                PageLinkRevocation(
                    person_id=person_id,
                    ticket_id=ticket_id,
                    revoked_at=revoked_at,
                    by=by[:64],
                    reason=reason[:500],
                )
            )
            session.commit()
        return revoked_at

    def record_action(
        self, ticket_id: str, person_id: str, action: str, outcome: str, detail: str = ""
    ) -> None:
        with Session(self.engine) as session:
            session.add(
                PageActionRow(
                    ticket_id=ticket_id,
                    person_id=person_id,
                    action=action,
                    outcome=outcome,
                    detail=detail[:500],
                    at=_utc(datetime.now(UTC)),
                )
            )
            session.commit()

    def actions(self, ticket_id: str) -> list[PageActionRow]:
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(PageActionRow)
                    .where(PageActionRow.ticket_id == ticket_id)
                    .order_by(col(PageActionRow.id))
                )
            )

    def record_reveal(self, ticket_id: str, person_id: str, reason: str) -> datetime:
        at = _utc(datetime.now(UTC))
        with Session(self.engine) as session:
            session.add(
                PhoneRevealRow(ticket_id=ticket_id, person_id=person_id, reason=reason, at=at)
            )
            session.commit()
        return at

    def reveals(self, ticket_id: str) -> list[PhoneRevealRow]:
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(PhoneRevealRow)
                    .where(PhoneRevealRow.ticket_id == ticket_id)
                    .order_by(col(PhoneRevealRow.id))
                )
            )


def _utc(moment: datetime) -> datetime:
    """Every instant is stored in UTC: SQLite keeps no offset, so comparisons must agree."""
    if moment.tzinfo is None:
        raise ValueError(f"an instant needs a time zone offset: {moment.isoformat()}")
    return moment.astimezone(UTC)
