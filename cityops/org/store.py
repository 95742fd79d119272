"""Writing the organisation to the database: idempotent, all or nothing.

Units and persons are upserted by their codes; a unit's duty shifts are replaced by the
shifts given for it, so seeding or importing the same file twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from cityops.db.engine import get_engine
from cityops.org.directory import OrgDirectory, OrgRows
from cityops.org.migrate import upgrade
from cityops.org.models import DutyShift, OrgUnit, Person
from cityops.org.seed import build_demo_org, demo_directory


@dataclass(frozen=True)
class SaveCounts:
    units: int
    persons: int
    shifts: int


def save_org(session: Session, rows: OrgRows) -> SaveCounts:
    """Upsert rows in the session's transaction; the caller commits or rolls back."""
    for depth_units in _by_depth(rows.units):
        for unit in depth_units:
            session.merge(_copy_unit(unit))
        session.flush()  # parents exist before children: the self-reference is checked
    for person in rows.persons:
        session.merge(_copy_person(person))
    session.flush()
    units_with_shifts = sorted({shift.unit_code for shift in rows.shifts})
    if units_with_shifts:
        session.execute(delete(DutyShift).where(col(DutyShift.unit_code).in_(units_with_shifts)))
    for shift in rows.shifts:
        session.add(
            DutyShift(
                unit_code=shift.unit_code,
                person_id=shift.person_id,
                weekday=shift.weekday,
                start_minute=shift.start_minute,
                end_minute=shift.end_minute,
            )
        )
    session.flush()
    return SaveCounts(len(rows.units), len(rows.persons), len(rows.shifts))


def write_org(engine: Engine, rows: OrgRows) -> SaveCounts:
    """Migrate the schema, then save in one transaction: nothing half-written."""
    upgrade(engine.url.render_as_string(hide_password=False))
    with Session(engine) as session, session.begin():
        return save_org(session, rows)


def unit_count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(OrgUnit)).one())


def seed_if_empty(url: str | None = None) -> str:
    """Seed the demo organisation unless the database already has one; says which."""
    engine = get_engine(url)
    existing = unit_count(engine)
    if existing:
        return f"organisation present ({existing} units)"
    counts = write_org(engine, build_demo_org())
    return f"seeded the demo organisation ({counts.units} units, {counts.persons} persons)"


def load_or_demo(engine: Engine | None) -> OrgDirectory:
    """The organisation from the database when it has one, else the demo in memory."""
    if engine is not None:
        try:
            if unit_count(engine) > 0:
                return OrgDirectory.load(engine)
        except SQLAlchemyError:
            pass  # no database or no tables yet: that simply means no organisation
    return demo_directory()


def _by_depth(units: Sequence[OrgUnit]) -> list[list[OrgUnit]]:
    """Units grouped by how many of their ancestors are among them: parents first."""
    given = list(units)
    codes = {unit.code for unit in given}
    parent_of = {unit.code: unit.parent_code for unit in given}

    def depth(code: str) -> int:
        steps = 0
        parent = parent_of.get(code)
        while parent is not None and parent in codes and steps < len(codes):
            steps += 1
            parent = parent_of.get(parent)
        return steps

    levels: dict[int, list[OrgUnit]] = {}
    for unit in given:
        levels.setdefault(depth(unit.code), []).append(unit)
    return [levels[d] for d in sorted(levels)]


def _copy_unit(unit: OrgUnit) -> OrgUnit:
    return OrgUnit.model_validate(unit.model_dump())


def _copy_person(person: Person) -> Person:
    return Person.model_validate(person.model_dump())
