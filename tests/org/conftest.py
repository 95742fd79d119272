"""Organisation fixtures: a fresh database per test on SQLite and on PostgreSQL, the demo
organisation, and scenario facts read from the catalogue copy."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine

from domain.models import ScenarioRef
from org.directory import OrgDirectory
from org.seed import demo_directory

CATALOGUE = Path(__file__).resolve().parents[2] / "rules" / "catalogue" / "scenarios.csv"
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def catalogue_scenario(scenario_id: str) -> ScenarioRef:
    """Catalogue facts straight from the CSV, independent of the classification rules."""
    with CATALOGUE.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["id"] == scenario_id:
                del row["sources"]
                return ScenarioRef.model_validate(row)
    raise KeyError(scenario_id)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'org.db'}"
        return
    name = f"cityops_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        from db.engine import get_engine

        get_engine.cache_clear()  # engines hold connections; the drop forces them out anyway
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def engine(database_url: str) -> Engine:
    """The application's engine (SQLite with foreign keys on), as the commands use it."""
    from db.engine import get_engine

    return get_engine(database_url)


@pytest.fixture(scope="session")
def demo() -> OrgDirectory:
    return demo_directory()
