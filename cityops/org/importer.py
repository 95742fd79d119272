"""Reading a real organisation from CSV, YAML or GeoJSON, with errors that name the row
and field. Everything is validated (shapes, enums, references, tier rules) before any
row is written, so a bad file changes nothing.

YAML: three lists, `units`, `persons`, `shifts` (any may be absent)::

    units:   [{code: T01-07, name: ..., tier: village, kind: station, parent: T01,
               lat: 31.2, lon: 121.6, aliases: [碧云居民区]}]
    persons: [{id: P-T01-07-1, name: 张伟, unit: T01-07, role: grid_worker,   # or dispatcher,
               # dept_officer, supervisor; at the center also duty_leader, director
               contacts: [{kind: email, target: p@x.cn}]}]
    shifts:  [{unit: T01-07, person: P-T01-07-1, weekday: null, start: "08:00", end: "20:00"}]

CSV: one table, a `record` column saying unit / person / shift and the same fields as
columns (`aliases` separated by "|", `contacts` as "kind:target|kind:target").

GeoJSON: features with a `code` property; their geometry becomes the unit's boundary.

Errors::

    ImportFileError    the file cannot be read, or a row is invalid (names row and field)
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from datetime import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from shapely import wkt
from shapely.errors import ShapelyError
from shapely.geometry import shape

from cityops.domain.models import ContactChannel
from cityops.domain.stages import Tier
from cityops.org.directory import OrgDirectory, OrgRows
from cityops.org.models import DutyShift, OrgUnit, Person, PersonRole, UnitKind

_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
# Which tier each kind of unit sits in, and which kind its parent must be.
_KIND_TIER = {
    UnitKind.CENTER: Tier.DISTRICT,
    UnitKind.DEPARTMENT: Tier.DISTRICT,
    UnitKind.SUBCENTER: Tier.STREET,
    UnitKind.STATION: Tier.VILLAGE,
}
_PARENT_KIND = {
    UnitKind.CENTER: None,
    UnitKind.DEPARTMENT: UnitKind.CENTER,
    UnitKind.SUBCENTER: UnitKind.CENTER,
    UnitKind.STATION: UnitKind.SUBCENTER,
}


class ImportFileError(ValueError):
    """A bad organisation file; the message names file, row and field."""


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UnitIn(_In):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_\-]+$")
    name: str = Field(min_length=1, max_length=128)
    tier: Tier
    kind: UnitKind
    parent: str | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    aliases: list[str] = Field(default_factory=list)
    boundary_wkt: str | None = None

    @field_validator("boundary_wkt")
    @classmethod
    def _polygon(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            geometry = wkt.loads(value)
        except ShapelyError as exc:
            raise ValueError(f"not WKT: {exc}") from exc
        if geometry.geom_type not in ("Polygon", "MultiPolygon") or not geometry.is_valid:
            raise ValueError("needs a valid POLYGON or MULTIPOLYGON")
        return value


class PersonIn(_In):
    id: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=64)
    unit: str = Field(min_length=1)
    role: PersonRole
    contacts: list[ContactChannel] = Field(default_factory=list)


class ShiftIn(_In):
    unit: str = Field(min_length=1)
    person: str = Field(min_length=1)
    weekday: int | None = Field(default=None, ge=0, le=6)
    start: time
    end: time

    @field_validator("weekday", mode="before")
    @classmethod
    def _weekday_name(cls, value: Any) -> Any:
        if isinstance(value, str):
            key = value.strip().lower()[:3]
            if key in _WEEKDAYS:
                return _WEEKDAYS[key]
            if key in ("", "all", "*", "eve"):
                return None
        return value

    @field_validator("end", mode="before")
    @classmethod
    def _midnight(cls, value: Any) -> Any:
        return "00:00" if value in ("24:00", "24:00:00") else value


# --------------------------------------------------------------------------- reading


def read_org_file(
    path: Path, known_units: Mapping[str, UnitKind] | None = None, known_persons: Iterable[str] = ()
) -> OrgRows:
    """Validated rows from a CSV or YAML file. References may point at units and persons
    already in the database (known_units, known_persons) or in the file itself."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        records = _yaml_records(path)
    elif suffix == ".csv":
        records = _csv_records(path)
    else:
        raise ImportFileError(f"{path.name}: unknown format {suffix!r} (use .csv, .yaml or .yml)")
    units = [(where, _validate(path, where, UnitIn, data)) for where, data in records["unit"]]
    persons = [(where, _validate(path, where, PersonIn, data)) for where, data in records["person"]]
    shifts = [(where, _validate(path, where, ShiftIn, data)) for where, data in records["shift"]]
    _check_references(path, units, persons, shifts, dict(known_units or {}), set(known_persons))
    return OrgRows(
        units=[_unit_row(u) for _, u in units],
        persons=[_person_row(p) for _, p in persons],
        shifts=[_shift_row(s) for _, s in shifts],
    )


def read_boundaries(path: Path) -> dict[str, str]:
    """GeoJSON features -> {unit code: boundary WKT}."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ImportFileError(f"{path.name}: cannot read GeoJSON: {exc}") from exc
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise ImportFileError(f"{path.name}: not a FeatureCollection (no 'features' list)")
    boundaries: dict[str, str] = {}
    for number, feature in enumerate(features, start=1):
        where = f"{path.name} feature {number}"
        code = (feature.get("properties") or {}).get("code")
        if not code:
            raise ImportFileError(f"{where} field 'properties.code': missing")
        try:
            geometry = shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ImportFileError(f"{where} field 'geometry': {exc}") from exc
        if geometry.geom_type not in ("Polygon", "MultiPolygon") or not geometry.is_valid:
            raise ImportFileError(f"{where} field 'geometry': needs a valid (multi)polygon")
        boundaries[str(code)] = geometry.wkt
    return boundaries


def boundary_rows(path: Path, current: OrgDirectory) -> OrgRows:
    """Existing units with the GeoJSON's boundaries; their people and shifts stay as they are."""
    units = []
    for code, boundary in read_boundaries(path).items():
        if not current.has_unit(code):
            raise ImportFileError(f"{path.name}: feature code {code!r}: no such unit")
        unit = current.unit(code)
        units.append(
            UnitIn(
                code=unit.code,
                name=unit.name,
                tier=unit.tier,
                kind=unit.kind,
                parent=unit.parent_code,
                lat=unit.lat,
                lon=unit.lon,
                aliases=list(unit.aliases),
                boundary_wkt=boundary,
            )
        )
    return OrgRows(units=[_unit_row(u) for u in units], persons=[], shifts=[])


def _yaml_records(path: Path) -> dict[str, list[tuple[str, Any]]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ImportFileError(f"{path.name}: cannot read YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ImportFileError(f"{path.name}: expected a mapping with units, persons, shifts")
    unknown = sorted(set(data) - {"units", "persons", "shifts"})
    if unknown:
        raise ImportFileError(f"{path.name}: unknown top-level keys {unknown}")
    records: dict[str, list[tuple[str, Any]]] = {}
    for key, record in (("units", "unit"), ("persons", "person"), ("shifts", "shift")):
        items = data.get(key) or []
        if not isinstance(items, list):
            raise ImportFileError(f"{path.name}: {key}: expected a list")
        records[record] = [(f"{key}[{i}]", item) for i, item in enumerate(items)]
    return records


def _csv_records(path: Path) -> dict[str, list[tuple[str, Any]]]:
    records: dict[str, list[tuple[str, Any]]] = {"unit": [], "person": [], "shift": []}
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "record" not in reader.fieldnames:
                raise ImportFileError(f"{path.name}: needs a 'record' column (unit/person/shift)")
            for line, row in enumerate(reader, start=2):
                where = f"row {line}"
                kind = (row.pop("record") or "").strip()
                if kind not in records:
                    raise ImportFileError(
                        f"{path.name} {where} field 'record': {kind!r} is not unit, person or shift"
                    )
                values = {k: v.strip() for k, v in row.items() if k and v and v.strip()}
                records[kind].append((where, _csv_values(path, where, values)))
    except OSError as exc:
        raise ImportFileError(f"{path.name}: cannot read CSV: {exc}") from exc
    return records


def _csv_values(path: Path, where: str, values: dict[str, str]) -> dict[str, Any]:
    parsed: dict[str, Any] = dict(values)
    if "aliases" in values:
        parsed["aliases"] = [a.strip() for a in values["aliases"].split("|") if a.strip()]
    if "contacts" in values:
        contacts = []
        for item in values["contacts"].split("|"):
            kind, sep, target = item.strip().partition(":")
            if not sep:
                raise ImportFileError(
                    f"{path.name} {where} field 'contacts': {item!r} is not kind:target"
                )
            contacts.append({"kind": kind.strip(), "target": target.strip()})
        parsed["contacts"] = contacts
    return parsed


def _validate(path: Path, where: str, model: type[_In], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "?"
        raise ImportFileError(f"{path.name} {where} field '{field}': {error['msg']}") from exc


# --------------------------------------------------------------------------- checking


def _check_references(
    path: Path,
    units: list[tuple[str, UnitIn]],
    persons: list[tuple[str, PersonIn]],
    shifts: list[tuple[str, ShiftIn]],
    known_units: dict[str, UnitKind],
    known_persons: set[str],
) -> None:
    def fail(where: str, field: str, problem: str) -> ImportFileError:
        return ImportFileError(f"{path.name} {where} field '{field}': {problem}")

    kinds = dict(known_units)
    seen: set[str] = set()
    for where, unit in units:
        if unit.code in seen:
            raise fail(where, "code", f"unit {unit.code!r} appears twice")
        seen.add(unit.code)
        kinds[unit.code] = unit.kind
    for where, unit in units:
        if _KIND_TIER[unit.kind] is not unit.tier:
            raise fail(where, "tier", f"a {unit.kind.value} sits in tier {_KIND_TIER[unit.kind]}")
        wanted = _PARENT_KIND[unit.kind]
        if wanted is None and unit.parent is not None:
            raise fail(where, "parent", "the district center has no parent")
        if wanted is not None:
            if unit.parent is None or unit.parent not in kinds:
                raise fail(where, "parent", f"unknown unit {unit.parent!r}")
            if kinds[unit.parent] is not wanted:
                raise fail(where, "parent", f"a {unit.kind.value}'s parent must be a {wanted}")
        located = unit.boundary_wkt is not None or None not in (unit.lat, unit.lon)
        if unit.kind is UnitKind.SUBCENTER and not located:
            raise fail(where, "lat", "a street/town needs lat/lon or a boundary_wkt")
    people = set(known_persons)
    person_unit: dict[str, str] = {}
    for where, person in persons:
        if person.id in person_unit:
            raise fail(where, "id", f"person {person.id!r} appears twice")
        if person.unit not in kinds:
            raise fail(where, "unit", f"unknown unit {person.unit!r}")
        if person.role.leads_the_center and kinds[person.unit] is not UnitKind.CENTER:
            raise fail(
                where, "role", f"a {person.role.value} belongs to the district center, not "
                f"{person.unit!r}: the top of every chain is the center's",
            )  # fmt: skip
        person_unit[person.id] = person.unit
        people.add(person.id)
    for where, shift in shifts:
        if shift.unit not in kinds:
            raise fail(where, "unit", f"unknown unit {shift.unit!r}")
        if shift.person not in people:
            raise fail(where, "person", f"unknown person {shift.person!r}")


def _unit_row(unit: UnitIn) -> OrgUnit:
    return OrgUnit(
        code=unit.code,
        name=unit.name,
        tier=unit.tier.value,
        kind=unit.kind.value,
        parent_code=unit.parent,
        lat=unit.lat,
        lon=unit.lon,
        aliases=list(unit.aliases),
        boundary_wkt=unit.boundary_wkt,
    )


def _person_row(person: PersonIn) -> Person:
    return Person(
        id=person.id,
        name=person.name,
        unit_code=person.unit,
        role=person.role.value,
        contacts=[c.model_dump(mode="json", exclude_none=True) for c in person.contacts],
    )


def _shift_row(shift: ShiftIn) -> DutyShift:
    end = shift.end.hour * 60 + shift.end.minute
    start = shift.start.hour * 60 + shift.start.minute
    return DutyShift(
        unit_code=shift.unit,
        person_id=shift.person,
        weekday=shift.weekday,
        start_minute=start,
        end_minute=end if end else 1440,
    )
