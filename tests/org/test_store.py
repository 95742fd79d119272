"""The organisation in SQLite and PostgreSQL: migrations, idempotent seeding, import."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

import cityops.schema  # noqa: F401  (every table module, as Alembic sees them)
from cityops.org.directory import OrgDirectory
from cityops.org.importer import ImportFileError, read_org_file
from cityops.org.migrate import upgrade
from cityops.org.models import DutyShift, OrgUnit, Person, UnitKind
from cityops.org.seed import build_demo_org
from cityops.org.store import load_or_demo, write_org


def _count(engine: Engine, table: type[SQLModel]) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(table)).one())


def test_migrations_create_exactly_the_tables_the_models_describe(
    database_url: str, engine: Engine
) -> None:
    # Every table module imported by cityops/schema.py must be matched by a migration.
    upgrade(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == []


def test_seeding_twice_gives_the_same_rows(database_url: str, engine: Engine) -> None:
    rows = build_demo_org()
    write_org(engine, rows)
    write_org(engine, rows)
    assert _count(engine, OrgUnit) == len(rows.units) == 212
    assert _count(engine, Person) == len(rows.persons)
    assert _count(engine, DutyShift) == len(rows.shifts)


def test_directory_loaded_from_the_database_matches_the_demo(
    database_url: str, engine: Engine, demo: OrgDirectory
) -> None:
    write_org(engine, build_demo_org())
    loaded = OrgDirectory.load(engine)
    assert [u.code for u in loaded.units()] == [u.code for u in demo.units()]
    assert loaded.unit("T01-02") == demo.unit("T01-02")
    assert loaded.person("P-T01-03-1") == demo.person("P-T01-03-1")
    assert loaded.shifts("T01-03") == demo.shifts("T01-03")


def test_an_empty_or_missing_database_falls_back_to_the_demo(engine: Engine) -> None:
    assert len(load_or_demo(engine)) == 212  # no tables at all
    upgrade(engine.url.render_as_string(hide_password=False))
    assert len(load_or_demo(engine)) == 212  # tables, no rows


YAML_ORG = """
units:
  - {code: T01-09, name: 张江镇碧云工作站, tier: village, kind: station, parent: T01,
     lat: 31.21, lon: 121.61, aliases: [碧云居民区]}
persons:
  - {id: P-T01-09-1, name: 张伟, unit: T01-09, role: grid_worker,
     contacts: [{kind: email, target: zhang@example.cn}]}
shifts:
  - {unit: T01-09, person: P-T01-09-1, weekday: null, start: "08:00", end: "24:00"}
"""


def test_yaml_import_adds_to_a_seeded_organisation(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    write_org(engine, build_demo_org())
    path = tmp_path / "org.yaml"
    path.write_text(YAML_ORG, encoding="utf-8")
    before = OrgDirectory.load(engine)
    rows = read_org_file(
        path,
        {u.code: u.kind for u in before.units()},
        [m.id for u in before.units() for m in before.members(u.code)],
    )
    write_org(engine, rows)
    after = OrgDirectory.load(engine)
    assert after.unit("T01-09").parent_code == "T01"
    assert [s.end_minute for s in after.shifts("T01-09")] == [1440]
    assert after.channels_for("P-T01-09-1")[0].target == "zhang@example.cn"


def test_a_row_the_database_refuses_leaves_nothing_written(
    database_url: str, engine: Engine
) -> None:
    rows = build_demo_org()
    broken = type(rows)(
        units=rows.units,
        persons=rows.persons,
        shifts=[
            *rows.shifts,
            DutyShift(unit_code="T01", person_id="P-NOBODY", start_minute=0, end_minute=60),
        ],
    )
    with pytest.raises(IntegrityError):
        write_org(engine, broken)
    assert _count(engine, OrgUnit) == 0


def test_a_bad_import_file_is_rejected_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(YAML_ORG.replace("tier: village", "tier: hamlet"), encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"org.yaml units\[0\] field 'tier'"):
        read_org_file(path, {"T01": UnitKind.SUBCENTER})


def test_seed_if_empty_seeds_once(database_url: str, engine: Engine) -> None:
    from cityops.org.store import seed_if_empty

    upgrade(database_url)
    assert seed_if_empty(database_url).startswith("seeded the demo organisation (212 units")
    assert seed_if_empty(database_url) == "organisation present (212 units)"
