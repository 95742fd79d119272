"""An in-memory snapshot of the organisation and its rosters, loaded once per process.

Routing runs thousands of times between organisation edits, so it reads this
snapshot rather than the database: lookups are dictionary reads. Reload (build a new
directory) after an import; tickets already dispatched keep their RoutePlan snapshot.

Errors::

    OrgError                  the organisation cannot answer (base class)
    ├── UnknownUnitError      no unit with that code
    ├── UnknownPersonError    no person with that id
    └── NobodyAvailableError  no person at the unit nor at any unit above it
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from cityops.domain.models import ContactChannel
from cityops.domain.stages import Tier
from cityops.org.models import DISTRICT_CENTER, DutyShift, OrgUnit, Person, PersonRole, UnitKind

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving in China
MINUTES_PER_DAY = 24 * 60


class OrgError(LookupError):
    """The organisation cannot answer the question asked."""


class UnknownUnitError(OrgError):
    pass


class UnknownPersonError(OrgError):
    pass


class NobodyAvailableError(OrgError):
    pass


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    name: str
    tier: Tier
    kind: UnitKind
    parent_code: str | None
    lat: float | None
    lon: float | None
    aliases: tuple[str, ...] = ()
    boundary_wkt: str | None = None


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    name: str
    unit_code: str
    role: PersonRole
    contacts: tuple[ContactChannel, ...] = ()


@dataclass(frozen=True, slots=True)
class Shift:
    unit_code: str
    person_id: str
    weekday: int | None  # 0 Monday .. 6 Sunday; None every day
    start_minute: int
    end_minute: int

    def covers(self, weekday: int, minute: int) -> bool:
        """True if the shift is running at this local weekday and minute of day."""
        if self.start_minute < self.end_minute:
            return self._on(weekday) and self.start_minute <= minute < self.end_minute
        # Runs past midnight: the evening part is on its day, the morning part the next.
        return (self._on(weekday) and minute >= self.start_minute) or (
            self._on((weekday - 1) % 7) and minute < self.end_minute
        )

    def _on(self, weekday: int) -> bool:
        return self.weekday is None or self.weekday == weekday


@dataclass(frozen=True, slots=True)
class OrgRows:
    """The organisation as table rows: what seed and import produce and the store saves."""

    units: Sequence[OrgUnit]
    persons: Sequence[Person]
    shifts: Sequence[DutyShift]


def local_weekday_minute(at: datetime) -> tuple[int, int]:
    """Shanghai local weekday and minute of day; naive datetimes are taken as Shanghai."""
    local = at.astimezone(SHANGHAI) if at.tzinfo else at
    return local.weekday(), local.hour * 60 + local.minute


class OrgDirectory:
    """Units, people and rosters, indexed for routing and notification."""

    def __init__(
        self, units: Iterable[Unit], members: Iterable[Member], shifts: Iterable[Shift]
    ) -> None:
        self._units = {unit.code: unit for unit in units}
        self._members = {member.id: member for member in members}
        self._children: dict[str, list[Unit]] = defaultdict(list)
        self._members_of: dict[str, list[Member]] = defaultdict(list)
        self._shifts_of: dict[str, list[Shift]] = defaultdict(list)
        for unit in sorted(self._units.values(), key=lambda u: u.code):
            if unit.parent_code is not None:
                self._children[unit.parent_code].append(unit)
        for member in sorted(self._members.values(), key=lambda m: m.id):
            self._members_of[member.unit_code].append(member)
        for shift in shifts:
            self._shifts_of[shift.unit_code].append(shift)

    # ------------------------------------------------------------------ building

    @classmethod
    def from_rows(cls, rows: OrgRows) -> OrgDirectory:
        units = [_unit_from_row(row) for row in rows.units]
        members = [_member_from_row(row) for row in rows.persons]
        shifts = [
            Shift(s.unit_code, s.person_id, s.weekday, s.start_minute, s.end_minute)
            for s in sorted(rows.shifts, key=lambda s: (s.unit_code, s.start_minute, s.person_id))
        ]
        return cls(units, members, shifts)

    @classmethod
    def load(cls, engine: Engine) -> OrgDirectory:
        """Read the whole organisation from the database once."""
        with Session(engine) as session:
            rows = OrgRows(
                units=list(session.exec(select(OrgUnit)).all()),
                persons=list(session.exec(select(Person)).all()),
                shifts=list(session.exec(select(DutyShift)).all()),
            )
        return cls.from_rows(rows)

    # ------------------------------------------------------------------ units

    def __len__(self) -> int:
        return len(self._units)

    def unit(self, code: str) -> Unit:
        try:
            return self._units[code]
        except KeyError:
            raise UnknownUnitError(f"no unit with code {code!r}") from None

    def has_unit(self, code: str) -> bool:
        return code in self._units

    def units(self, tier: Tier | None = None, kind: UnitKind | None = None) -> list[Unit]:
        return sorted(
            (
                unit
                for unit in self._units.values()
                if (tier is None or unit.tier is tier) and (kind is None or unit.kind is kind)
            ),
            key=lambda unit: unit.code,
        )

    @property
    def center(self) -> Unit:
        return self.unit(DISTRICT_CENTER)

    def streets(self) -> list[Unit]:
        return self.units(kind=UnitKind.SUBCENTER)

    def children(self, code: str) -> list[Unit]:
        return list(self._children.get(code, ()))

    def stations_of(self, street_code: str) -> list[Unit]:
        return [u for u in self.children(street_code) if u.kind is UnitKind.STATION]

    def parent(self, code: str) -> Unit | None:
        parent_code = self.unit(code).parent_code
        return self.unit(parent_code) if parent_code else None

    def street_of(self, code: str) -> Unit | None:
        """The street/town a unit belongs to (itself for a sub-center), None at district."""
        unit: Unit | None = self.unit(code)
        while unit is not None and unit.kind is not UnitKind.SUBCENTER:
            unit = self.parent(unit.code)
        return unit

    # ------------------------------------------------------------------ people

    def person(self, person_id: str) -> Member:
        try:
            return self._members[person_id]
        except KeyError:
            raise UnknownPersonError(f"no person with id {person_id!r}") from None

    def members(self, unit_code: str) -> list[Member]:
        return list(self._members_of.get(unit_code, ()))

    def shifts(self, unit_code: str) -> list[Shift]:
        return list(self._shifts_of.get(unit_code, ()))

    def channels_for(self, person_id: str) -> list[ContactChannel]:
        """How to reach a person, most preferred first (the notifier's contact directory)."""
        return list(self.person(person_id).contacts)

    def on_shift(self, unit_code: str, at: datetime) -> list[Member]:
        """Everyone the roster puts on duty at the unit at that instant, roster order."""
        weekday, minute = local_weekday_minute(at)
        return [
            self._members[shift.person_id]
            for shift in self._shifts_of.get(unit_code, ())
            if shift.covers(weekday, minute) and shift.person_id in self._members
        ]

    def on_duty(self, unit_code: str, at: datetime) -> Member:
        """Who answers for the unit now: the roster, else the unit's dispatcher, else the
        dispatcher of the tier above (and so on up to the district center)."""
        on_shift = self.on_shift(unit_code, at)
        return on_shift[0] if on_shift else self.dispatcher_of(unit_code, at)

    def dispatcher_of(self, unit_code: str, at: datetime | None = None) -> Member:
        """The unit's dispatcher (on duty if `at` is given), else the tier above's."""
        own = self._own_dispatcher(unit_code, at)
        if own is not None:
            return own
        parent = self.parent(unit_code)
        if parent is None:
            return self._anyone_at(unit_code)
        return self.dispatcher_of(parent.code, at)

    def leaders(self, at: datetime | None = None) -> list[Member]:
        """The top of every chain, nearest first: the district center's duty leader (on
        duty at `at` when the roster says, else the first one), then its director. Empty
        for an organisation that names neither: its chains end at the center's dispatcher."""
        center = self._units.get(DISTRICT_CENTER)
        if center is None:
            return []
        people = self._members_of.get(center.code, ())
        found: list[Member] = []
        for role in (PersonRole.DUTY_LEADER, PersonRole.DIRECTOR):
            on_shift = [m for m in self.on_shift(center.code, at) if m.role is role] if at else []
            anyone = [m for m in people if m.role is role]
            if on_shift or anyone:
                found.append((on_shift or anyone)[0])
        return found

    def duty_supervisor(self, at: datetime | None = None) -> Member | None:
        """The district center's supervisor (督办) on duty at `at` when the roster says,
        else its first one; without one, the center's duty leader (else its director),
        else its dispatcher. None only for an organisation with no district center."""
        center = self._units.get(DISTRICT_CENTER)
        if center is None:
            return None
        role = PersonRole.SUPERVISOR
        on_shift = [m for m in self.on_shift(center.code, at) if m.role is role] if at else []
        anyone = [m for m in self._members_of.get(center.code, ()) if m.role is role]
        if on_shift or anyone:
            return (on_shift or anyone)[0]
        leaders = self.leaders(at)
        return leaders[0] if leaders else self.dispatcher_of(center.code, at)

    def _own_dispatcher(self, unit_code: str, at: datetime | None) -> Member | None:
        self.unit(unit_code)
        if at is not None:
            for member in self.on_shift(unit_code, at):
                if member.role is PersonRole.DISPATCHER:
                    return member
        for member in self._members_of.get(unit_code, ()):
            if member.role is PersonRole.DISPATCHER:
                return member
        return None

    def _anyone_at(self, unit_code: str) -> Member:
        members = self._members_of.get(unit_code)
        if not members:
            raise NobodyAvailableError(
                f"nobody at {unit_code!r} nor at any unit above it: import people first"
            )
        return members[0]


def _unit_from_row(row: OrgUnit) -> Unit:
    return Unit(
        code=row.code,
        name=row.name,
        tier=Tier(row.tier),
        kind=UnitKind(row.kind),
        parent_code=row.parent_code,
        lat=row.lat,
        lon=row.lon,
        aliases=tuple(row.aliases or ()),
        boundary_wkt=row.boundary_wkt,
    )


def _member_from_row(row: Person) -> Member:
    contacts: list[dict[str, Any]] = list(row.contacts or ())
    return Member(
        id=row.id,
        name=row.name,
        unit_code=row.unit_code,
        role=PersonRole(row.role),
        contacts=tuple(ContactChannel.model_validate(c) for c in contacts),
    )
