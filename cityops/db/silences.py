"""The register of maintenance windows and planned works (silences), and of the alarm
events each one swallowed (`silence_hits`): every such event is still in `alarm_events`
with outcome `in_window`; the hits say which window and let each window count them.

Synchronous database calls; async callers run them in a thread.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine, func, or_
from sqlmodel import Field, Session, SQLModel, col, select

from cityops.domain.silences import Silence, SilenceSpec


class SilenceRow(SQLModel, table=True):
    __tablename__ = "silences"

    silence_id: str = Field(primary_key=True, max_length=32)
    spec: str  # SilenceSpec as JSON: scope, window, reason, creator, override
    starts_at: datetime = Field(index=True)
    ends_at: datetime = Field(index=True)
    created_at: datetime
    created_by: str = Field(max_length=64)
    ended_at: datetime | None = None
    ended_by: str | None = Field(default=None, max_length=64)
    ended_acted_by: str | None = Field(default=None, max_length=100)  # on ended_by's behalf
    # The street of the key that made it (a street or station key); None: the district's.
    street_code: str | None = Field(default=None, index=True, max_length=8)


class SilenceHitRow(SQLModel, table=True):
    __tablename__ = "silence_hits"

    silence_id: str = Field(primary_key=True, max_length=32)
    event_id: str = Field(primary_key=True, max_length=128)
    device_id: str = Field(max_length=128)
    scenario_id: str | None = Field(default=None, max_length=8)
    occurred_at: datetime


def silence_id_for(spec: SilenceSpec, created_at: datetime) -> str:
    digest = hashlib.sha256(f"{spec.model_dump_json()}|{created_at.isoformat()}".encode())
    return f"SI{digest.hexdigest()[:12].upper()}"


def add_silence(
    engine: Engine, spec: SilenceSpec, created_at: datetime, street_code: str | None = None
) -> Silence:
    """Store a window; `street_code`: the street of the street or station key that made
    it (it is then listed to that street's keys only), None for the whole district."""
    silence_id = silence_id_for(spec, created_at)
    with Session(engine) as session:
        session.add(
            SilenceRow(
                silence_id=silence_id,
                spec=spec.model_dump_json(),
                starts_at=spec.starts_at.astimezone(UTC),
                ends_at=spec.ends_at.astimezone(UTC),
                created_at=created_at.astimezone(UTC),
                created_by=spec.created_by,
                street_code=street_code,
            )
        )
        session.commit()
    found = get_silence(engine, silence_id)
    assert found is not None
    return found


def end_silence(
    engine: Engine, silence_id: str, by: str, at: datetime, acted_by: str | None = None
) -> Silence | None:
    """End a window early (or note who ended it); None when there is no such window.
    A window already over keeps its end. `acted_by`: who ended it on `by`'s behalf."""
    with Session(engine) as session:
        row = session.get(SilenceRow, silence_id)
        if row is None:
            return None
        if row.ended_at is None:
            row.ended_at = at.astimezone(UTC)
            row.ended_by = by
            row.ended_acted_by = acted_by
            session.add(row)
            session.commit()
    return get_silence(engine, silence_id)


def get_silence(engine: Engine, silence_id: str) -> Silence | None:
    with Session(engine) as session:
        row = session.get(SilenceRow, silence_id)
        if row is None:
            return None
        return _silence(row, _hit_counts(session, [silence_id]))


def silences_active_between(engine: Engine, start: datetime, end: datetime) -> list[Silence]:
    """Windows that overlap [start, end] and were not ended before `start`."""
    with Session(engine) as session:
        rows = list(
            session.exec(
                select(SilenceRow).where(
                    col(SilenceRow.starts_at) <= end.astimezone(UTC),
                    col(SilenceRow.ends_at) > start.astimezone(UTC),
                )
            )
        )
        return [_silence(row, {}) for row in rows if not _ended_before(row, start)]


def list_silences(
    engine: Engine,
    *,
    include_over: bool = False,
    at: datetime,
    limit: int = 100,
    street_code: str | None = None,
) -> list[Silence]:
    """Latest start first; `street_code`: a street's view, its own windows and the
    district's (those silence its alarms too), not other streets'."""
    with Session(engine) as session:
        query = select(SilenceRow).order_by(col(SilenceRow.starts_at).desc()).limit(limit)
        if street_code is not None:
            query = query.where(
                or_(
                    col(SilenceRow.street_code).is_(None),
                    col(SilenceRow.street_code) == street_code,
                )
            )
        if not include_over:
            query = query.where(col(SilenceRow.ends_at) > at.astimezone(UTC))
        rows = [row for row in session.exec(query) if include_over or not _ended_before(row, at)]
        counts = _hit_counts(session, [row.silence_id for row in rows])
        return [_silence(row, counts) for row in rows]


def record_hits(engine: Engine, hits: Sequence[SilenceHitRow]) -> None:
    if not hits:
        return
    with Session(engine) as session:
        for hit in hits:
            if session.get(SilenceHitRow, (hit.silence_id, hit.event_id)) is None:
                session.add(hit)
        session.commit()


def hits_of(engine: Engine, silence_id: str) -> list[SilenceHitRow]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(SilenceHitRow)
                .where(SilenceHitRow.silence_id == silence_id)
                .order_by(col(SilenceHitRow.occurred_at))
            )
        )


def _ended_before(row: SilenceRow, at: datetime) -> bool:
    return row.ended_at is not None and _utc(row.ended_at) <= at


def _hit_counts(session: Session, ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    rows = session.exec(
        select(SilenceHitRow.silence_id, func.count())
        .where(col(SilenceHitRow.silence_id).in_(ids))
        .group_by(SilenceHitRow.silence_id)
    )
    return {silence_id: int(count) for silence_id, count in rows}


def _silence(row: SilenceRow, counts: dict[str, int]) -> Silence:
    spec = SilenceSpec.model_validate_json(row.spec)
    return Silence(
        **spec.model_dump(),
        silence_id=row.silence_id,
        created_at=_utc(row.created_at),
        ended_at=_utc(row.ended_at) if row.ended_at else None,
        ended_by=row.ended_by,
        ended_acted_by=row.ended_acted_by,
        street_code=row.street_code,
        events_silenced=counts.get(row.silence_id, 0),
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
