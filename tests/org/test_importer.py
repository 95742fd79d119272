from __future__ import annotations

import json
from pathlib import Path

import pytest

from cityops.org.importer import ImportFileError, read_boundaries, read_org_file
from cityops.org.models import UnitKind

HEADER = (
    "record,code,name,tier,kind,parent,lat,lon,aliases,"
    "id,unit,role,contacts,person,weekday,start,end\n"
)
GOOD_ROWS = [
    "unit,DISTRICT,区城运中心,district,center,,,,,,,,,,,,\n",
    "unit,T01,张江镇城运分中心,street,subcenter,DISTRICT,31.205,121.6,张江镇|张江,,,,,,,,\n",
    "person,,李娜,,,,,,,P-T01-1,T01,dispatcher,email:li@example.cn|webhook:http://h/x,,,,\n",
    "shift,,,,,,,,,,T01,,,P-T01-1,mon,08:00,20:00\n",
]


def _csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "org.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def test_the_center_may_name_its_duty_leader_and_director(tmp_path: Path) -> None:
    leaders = [
        "person,,周强,,,,,,,P-DL-1,DISTRICT,duty_leader,email:zq@example.cn,,,,\n",
        "person,,吴敏,,,,,,,P-DIR,DISTRICT,director,email:wm@example.cn,,,,\n",
        "shift,,,,,,,,,,DISTRICT,,,P-DL-1,,08:00,20:00\n",
    ]
    rows = read_org_file(_csv(tmp_path, GOOD_ROWS + leaders))
    assert [(p.id, p.role) for p in rows.persons][1:] == [
        ("P-DL-1", "duty_leader"),
        ("P-DIR", "director"),
    ]


def test_a_good_csv_gives_units_persons_and_shifts(tmp_path: Path) -> None:
    rows = read_org_file(_csv(tmp_path, GOOD_ROWS))
    assert [u.code for u in rows.units] == ["DISTRICT", "T01"]
    assert rows.units[1].aliases == ["张江镇", "张江"]
    assert rows.persons[0].contacts == [
        {"kind": "email", "target": "li@example.cn"},
        {"kind": "webhook", "target": "http://h/x"},
    ]
    shift = rows.shifts[0]
    assert (shift.weekday, shift.start_minute, shift.end_minute) == (0, 480, 1200)


@pytest.mark.parametrize(
    ("bad_row", "expected"),
    [
        (
            "unit,T02,北蔡镇,village,subcenter,DISTRICT,31.19,121.54,,,,,,,,,\n",
            "row 6 field 'tier': a subcenter sits in tier street",
        ),
        (
            "unit,T01-01,一村,village,station,T99,31.2,121.6,,,,,,,,,\n",
            "row 6 field 'parent': unknown unit 'T99'",
        ),
        (
            "person,,王五,,,,,,,P-9,T01,boss,,,,,\n",
            "row 6 field 'role': Input should be",
        ),
        (
            "person,,王五,,,,,,,P-9,T01,dispatcher,pigeon,,,,\n",
            "row 6 field 'contacts': 'pigeon' is not kind:target",
        ),
        (
            "shift,,,,,,,,,,T01,,,P-NOBODY,,08:00,20:00\n",
            "row 6 field 'person': unknown person 'P-NOBODY'",
        ),
        (
            "shift,,,,,,,,,,T01,,,P-T01-1,,25:00,20:00\n",
            "row 6 field 'start'",
        ),
        ("team,,,,,,,,,,,,,,,,\n", "row 6 field 'record': 'team' is not unit, person or shift"),
        (
            "person,,王五,,,,,,,P-9,T01,director,,,,,\n",
            "row 6 field 'role': a director belongs to the district center",
        ),
        (
            "unit,T01,张江镇城运分中心,street,subcenter,DISTRICT,31.2,121.6,,,,,,,,,\n",
            "row 6 field 'code': unit 'T01' appears twice",
        ),
    ],
)
def test_a_bad_csv_row_is_named_with_its_field(tmp_path: Path, bad_row: str, expected: str) -> None:
    with pytest.raises(ImportFileError) as caught:
        read_org_file(_csv(tmp_path, [*GOOD_ROWS, bad_row]))
    assert f"org.csv {expected}" in str(caught.value)


def test_references_may_point_at_units_and_people_already_stored(tmp_path: Path) -> None:
    rows = read_org_file(
        _csv(tmp_path, ["shift,,,,,,,,,,T01,,,P-T01-1,,20:00,08:00\n"]),
        known_units={"T01": UnitKind.SUBCENTER},
        known_persons=["P-T01-1"],
    )
    assert (rows.shifts[0].start_minute, rows.shifts[0].end_minute) == (1200, 480)


def test_unknown_yaml_keys_and_formats_are_refused(tmp_path: Path) -> None:
    yaml_path = tmp_path / "org.yaml"
    yaml_path.write_text("units: []\nteams: []\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"unknown top-level keys \['teams'\]"):
        read_org_file(yaml_path)
    with pytest.raises(ImportFileError, match=r"unknown format '\.xlsx'"):
        read_org_file(tmp_path / "org.xlsx")


def test_a_street_polygon_must_be_valid_wkt(tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(
        "units:\n  - {code: DISTRICT, name: c, tier: district, kind: center}\n"
        "  - {code: T01, name: z, tier: street, kind: subcenter, parent: DISTRICT,"
        " boundary_wkt: 'POLYGON ((0 0, 1 1))'}\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportFileError, match=r"units\[1\] field 'boundary_wkt'"):
        read_org_file(path)


def test_geojson_boundaries_are_read_by_unit_code(tmp_path: Path) -> None:
    square = [[[121.5, 31.2], [121.6, 31.2], [121.6, 31.3], [121.5, 31.3], [121.5, 31.2]]]
    feature = {"type": "Feature", "properties": {"code": "T01"},
               "geometry": {"type": "Polygon", "coordinates": square}}  # fmt: skip
    path = tmp_path / "streets.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    assert read_boundaries(path)["T01"].startswith("POLYGON ((121.5 31.2")
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{"properties": {}}]}))
    with pytest.raises(ImportFileError, match=r"feature 1 field 'properties\.code': missing"):
        read_boundaries(path)
