"""The organisation's tables: units in three tiers, the people in them, and duty rosters.

Enumerated columns are stored as plain strings (the StrEnum values below), so the
schema is the same on SQLite and PostgreSQL and adding a role needs no migration.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

DISTRICT_CENTER = "DISTRICT"  # the one unit at the top: 区城运中心


class UnitKind(StrEnum):
    CENTER = "center"  # 区城运中心 (district tier)
    DEPARTMENT = "department"  # 委办局 (district tier), code = lead_department code
    SUBCENTER = "subcenter"  # 街镇城运分中心 (street tier), code = S01..T24
    STATION = "station"  # 居村工作站 (village tier), code = T01-03


class PersonRole(StrEnum):
    DISPATCHER = "dispatcher"  # dispatches, reviews photos, takes returns
    GRID_WORKER = "grid_worker"  # 网格员 at a work station
    DEPT_OFFICER = "dept_officer"  # handles tickets for a district department
    SUPERVISOR = "supervisor"  # supervises (督办) a unit
    DUTY_LEADER = "duty_leader"  # 值班长 of the district center: above its dispatchers
    DIRECTOR = "director"  # 主任 of the district center: the top of every chain

    @property
    def leads_the_center(self) -> bool:
        """Roles that only the district center has: the top of the chains."""
        return self in (PersonRole.DUTY_LEADER, PersonRole.DIRECTOR)


class OrgUnit(SQLModel, table=True):
    __tablename__ = "org_unit"

    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=128)
    tier: str = Field(max_length=16)  # domain.stages.Tier
    kind: str = Field(max_length=16)  # UnitKind
    parent_code: str | None = Field(
        default=None, foreign_key="org_unit.code", index=True, max_length=32
    )
    lat: float | None = None
    lon: float | None = None
    # Extra names an address may use for this unit (e.g. "张江" for 张江镇).
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The unit's area as WKT in lon/lat; None: derived from the centroids at load.
    boundary_wkt: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class Person(SQLModel, table=True):
    __tablename__ = "org_person"

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=64)
    unit_code: str = Field(foreign_key="org_unit.code", index=True, max_length=32)
    role: str = Field(max_length=16)  # PersonRole
    # A list of domain.models.ContactChannel as dicts, in the person's order of preference.
    contacts: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )


class DutyShift(SQLModel, table=True):
    """One person on duty at one unit for a span of the day, on one weekday or every day.

    Minutes are Shanghai local time; end_minute <= start_minute means the shift runs
    past midnight (22:00-06:00 is start 1320, end 360) and belongs to its start day.
    """

    __tablename__ = "org_duty_shift"
    __table_args__ = (Index("ix_org_duty_shift_unit_person", "unit_code", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_code: str = Field(foreign_key="org_unit.code", max_length=32)
    person_id: str = Field(foreign_key="org_person.id", max_length=32)
    weekday: int | None = Field(default=None, ge=0, le=6)  # 0 Monday; None every day
    start_minute: int = Field(ge=0, le=1439)
    end_minute: int = Field(ge=0, le=1440)
