"""The commands as a user runs them, against a temporary SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cityops.cli.main import app
from tests.conftest import DATA

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cityops.db'}"


def test_seed_twice_then_show_a_street_tree(db: str) -> None:
    first = runner.invoke(app, ["org", "seed", "--database-url", db])
    second = runner.invoke(app, ["org", "seed", "--database-url", db])
    assert first.exit_code == 0 and second.exit_code == 0
    assert first.output == second.output
    assert "seeded 212 units, 690 persons, 477 duty shifts" in first.output
    shown = runner.invoke(app, ["org", "show", "T01", "--database-url", db])
    assert shown.exit_code == 0
    lines = shown.output.splitlines()
    assert lines[0].startswith("T01  张江镇城运分中心  [street/subcenter]")
    assert any("T01-03" in line and "[village/station]" in line for line in lines)
    assert any("P-T01-03-1" in line and "grid_worker" in line for line in lines)


def test_show_an_unknown_unit_fails_clearly(db: str) -> None:
    result = runner.invoke(app, ["org", "show", "T99", "--database-url", db])
    assert result.exit_code == 1
    assert "no unit with code 'T99'" in result.output


def test_import_a_bad_row_writes_nothing(db: str, tmp_path: Path) -> None:
    runner.invoke(app, ["org", "seed", "--database-url", db])
    path = tmp_path / "extra.csv"
    path.write_text(
        "record,code,name,tier,kind,parent,lat,lon,id,unit,role\n"
        "unit,T01-09,碧云工作站,village,station,T01,31.21,121.61,,,\n"
        "person,,张伟,,,,,,P-T01-09-1,T01-09,chief\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["org", "import", str(path), "--database-url", db])
    assert result.exit_code == 2
    assert "extra.csv row 3 field 'role'" in result.output
    shown = runner.invoke(app, ["org", "show", "T01-09", "--database-url", db])
    assert shown.exit_code == 1  # the good unit row was not written either


def test_import_good_rows_then_show_them(db: str, tmp_path: Path) -> None:
    runner.invoke(app, ["org", "seed", "--database-url", db])
    path = tmp_path / "extra.csv"
    path.write_text(
        "record,code,name,tier,kind,parent,lat,lon,id,unit,role,person,start,end\n"
        "unit,T01-09,碧云工作站,village,station,T01,31.21,121.61,,,,,,\n"
        "person,,张伟,,,,,,P-T01-09-1,T01-09,grid_worker,,,\n"
        "shift,,,,,,,,,T01-09,,P-T01-09-1,00:00,24:00\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["org", "import", str(path), "--database-url", db])
    assert result.exit_code == 0, result.output
    assert "imported 1 units, 1 persons, 1 duty shifts" in result.output
    shown = runner.invoke(app, ["org", "show", "T01-09", "--database-url", db])
    assert "P-T01-09-1  张伟  grid_worker  00:00-24:00" in shown.output


def test_route_writes_one_json_line_per_record_without_a_database(db: str) -> None:
    result = runner.invoke(app, ["route", str(DATA / "dev_alarms.jsonl"), "--database-url", db])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert len(lines) == 40
    assert set(lines[0]) == {
        "id", "scenario", "street_code", "station", "tier", "department", "unit", "person",
    }  # fmt: skip
    gas = lines[0]
    assert (gas["scenario"], gas["street_code"], gas["tier"], gas["unit"]) == (
        "PS01", "S02", "district", "gas_utility",
    )  # fmt: skip


@pytest.mark.parametrize("name", ["dev_hotline.jsonl", "dev_alarms.jsonl"])
def test_route_eval_gets_every_dev_street_right(db: str, name: str) -> None:
    result = runner.invoke(app, ["route", "--eval", str(DATA / name), "--database-url", db])
    assert result.exit_code == 0, result.output
    assert "= 100.0%" in result.output
    assert "wrong" not in result.output


def test_bench_route_prints_its_figures(db: str) -> None:
    result = runner.invoke(
        app,
        ["bench", "route", str(DATA / "dev_alarms.jsonl"), "--rounds", "2", "--database-url", db],
    )
    assert result.exit_code == 0, result.output
    assert "ms per ticket" in result.output


def test_geojson_boundaries_change_where_points_fall(db: str, tmp_path: Path) -> None:
    runner.invoke(app, ["org", "seed", "--database-url", db])
    square = [[[121.90, 30.95], [121.92, 30.95], [121.92, 30.97], [121.90, 30.97], [121.90, 30.95]]]
    feature = {"type": "Feature", "properties": {"code": "T01"},
               "geometry": {"type": "Polygon", "coordinates": square}}  # fmt: skip
    geojson = tmp_path / "t01.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    imported = runner.invoke(app, ["org", "import", str(geojson), "--database-url", db])
    assert imported.exit_code == 0, imported.output
    alarm = json.loads((DATA / "dev_alarms.jsonl").read_text(encoding="utf-8").splitlines()[0])
    alarm.update(lat=30.96, lon=121.91, expected_street_code="T01")
    events = tmp_path / "one.jsonl"
    events.write_text(json.dumps(alarm, ensure_ascii=False) + "\n", encoding="utf-8")
    routed = runner.invoke(app, ["route", str(events), "--database-url", db])
    assert json.loads(routed.output)["street_code"] == "T01"
