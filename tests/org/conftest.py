"""Organisation fixtures: the demo organisation and scenario facts read from the catalogue
copy (the database fixtures, on SQLite and PostgreSQL, are in tests/conftest.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cityops.domain.models import ScenarioRef
from cityops.org.directory import OrgDirectory
from cityops.org.seed import demo_directory

CATALOGUE = Path(__file__).resolve().parents[2] / "rules" / "catalogue" / "scenarios.csv"


def catalogue_scenario(scenario_id: str) -> ScenarioRef:
    """Catalogue facts straight from the CSV, independent of the classification rules."""
    with CATALOGUE.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["id"] == scenario_id:
                del row["sources"]
                return ScenarioRef.model_validate(row)
    raise KeyError(scenario_id)


@pytest.fixture(scope="session")
def demo() -> OrgDirectory:
    return demo_directory()
