"""The register of after-photos: which ticket, who uploaded, when and where it was taken,
and the keys of the photo and its thumbnail in the photo store.

A photo's id is 128 random bits: its address (``/photos/{id}``) is the capability to see
it, as the reviewer does from the review notice, so ids are never derived from tickets.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from cityops.media.exif import PhotoFacts, thumbnail
from cityops.media.store import PhotoStore

PHOTO_ID_PATTERN = r"^[0-9a-f]{32}$"
_EXTENSION = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


class TicketPhotoRow(SQLModel, table=True):
    __tablename__ = "ticket_photos"

    photo_id: str = Field(primary_key=True, max_length=32)
    ticket_id: str = Field(index=True, max_length=64)
    person_id: str = Field(max_length=64)
    content_type: str = Field(max_length=32)
    size: int
    width: int
    height: int
    taken_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    distance_m: float | None = None  # from the ticket's place, when both are known
    key: str = Field(max_length=200)
    thumb_key: str = Field(max_length=200)
    uploaded_at: datetime


@dataclass(frozen=True)
class PhotoRegister:
    engine: Engine
    store: PhotoStore

    def save(
        self,
        ticket_id: str,
        person_id: str,
        data: bytes,
        facts: PhotoFacts,
        distance_m: float | None,
    ) -> TicketPhotoRow:
        """Store the photo and its thumbnail, then register them (blocking I/O)."""
        photo_id = secrets.token_hex(16)
        key = f"{ticket_id}/{photo_id}.{_EXTENSION[facts.content_type]}"
        thumb_key = f"{ticket_id}/{photo_id}-thumb.jpg"
        self.store.put(key, data, facts.content_type)
        self.store.put(thumb_key, thumbnail(data), "image/jpeg")
        row = TicketPhotoRow(
            photo_id=photo_id,
            ticket_id=ticket_id,
            person_id=person_id,
            content_type=facts.content_type,
            size=len(data),
            width=facts.width,
            height=facts.height,
            taken_at=facts.taken_at,
            lat=facts.lat,
            lon=facts.lon,
            distance_m=distance_m,
            key=key,
            thumb_key=thumb_key,
            uploaded_at=datetime.now(UTC),
        )
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(row)
            session.commit()
        return row

    def get(self, photo_id: str) -> TicketPhotoRow | None:
        with Session(self.engine) as session:
            return session.get(TicketPhotoRow, photo_id)

    def for_ticket(self, ticket_id: str) -> list[TicketPhotoRow]:
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(TicketPhotoRow)
                    .where(TicketPhotoRow.ticket_id == ticket_id)
                    .order_by(col(TicketPhotoRow.uploaded_at))
                )
            )
