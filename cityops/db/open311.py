"""The Open311 register: what a GeoReport v2 client posted, so it reads back the same.

A request becomes a ticket (a workflow), whose live state (stage, deadlines, street)
lives in Temporal. What the client sent and expects to read again, as GeoReport
defines it (``lat``/``long``, ``address``, ``description``, ``media_url``, the service
code and when it was requested), is written here when the ticket is accepted for
intake, so the request list is a database query (a 90-day window, at most 1,000
rows) joined with the tickets' state, not one workflow query per request. The
caller's name, phone and e-mail are not kept here: they travel only with the ticket.

All functions here are synchronous database calls; async callers run them in a thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, col, select


class Open311RequestRow(SQLModel, table=True):
    __tablename__ = "open311_requests"

    ticket_id: str = Field(primary_key=True, max_length=64)
    jurisdiction_id: str = Field(max_length=64)
    service_code: str = Field(index=True, max_length=8)
    description: str | None = Field(default=None, max_length=4000)
    address: str | None = Field(default=None, max_length=500)
    address_id: str | None = Field(default=None, max_length=64)
    lat: float | None = None
    lon: float | None = None
    media_url: str | None = Field(default=None, max_length=2000)
    requested_at: datetime = Field(index=True)


def record_request(engine: Engine, row: Open311RequestRow) -> None:
    with Session(engine) as session:
        session.merge(row)
        session.commit()


def get_request(engine: Engine, ticket_id: str) -> Open311RequestRow | None:
    with Session(engine) as session:
        return session.get(Open311RequestRow, ticket_id)


def find_requests(
    engine: Engine,
    *,
    ticket_ids: Sequence[str] | None = None,
    service_codes: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 1000,
) -> list[Open311RequestRow]:
    """Newest first. Ids, when given, decide alone (GeoReport: they override the rest)."""
    with Session(engine) as session:
        query = select(Open311RequestRow)
        if ticket_ids is not None:
            query = query.where(col(Open311RequestRow.ticket_id).in_(list(ticket_ids)))
        else:
            if service_codes:
                query = query.where(col(Open311RequestRow.service_code).in_(list(service_codes)))
            if start is not None:
                query = query.where(col(Open311RequestRow.requested_at) >= start)
            if end is not None:
                query = query.where(col(Open311RequestRow.requested_at) <= end)
        query = query.order_by(col(Open311RequestRow.requested_at).desc()).limit(limit)
        return list(session.exec(query))
