from __future__ import annotations

import json

import pytest
from shapely.geometry import Point, box

from cityops.domain.models import PlaceBasis
from cityops.org.directory import OrgDirectory, Unit
from cityops.org.jurisdiction import Jurisdiction
from tests.conftest import DATA


@pytest.fixture(scope="module")
def jurisdiction(demo: OrgDirectory) -> Jurisdiction:
    return Jurisdiction.from_directory(demo)


def _lines(name: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines()]


def test_every_dev_hotline_address_resolves_to_its_labelled_street(
    jurisdiction: Jurisdiction,
) -> None:
    wrong = [
        (r["id"], r["street_code"], place.street_code)
        for r in _lines("dev_hotline.jsonl")
        if (place := jurisdiction.locate(str(r["address"]), None, None)).street_code
        != r["street_code"]
    ]
    assert wrong == []


def test_every_dev_alarm_point_resolves_to_its_labelled_street(jurisdiction: Jurisdiction) -> None:
    wrong = []
    for r in _lines("dev_alarms.jsonl"):
        place = jurisdiction.locate(None, float(r["lat"]), float(r["lon"]))  # type: ignore[arg-type]
        if place.street_code != r["expected_street_code"] or place.station_code is None:
            wrong.append((r["event_id"], r["expected_street_code"], place))
    assert wrong == []


def test_address_name_decides_over_coordinates(jurisdiction: Jurisdiction) -> None:
    # Coordinates of Lujiazui, but the address says Zhangjiang: the address wins.
    place = jurisdiction.locate("浦东新区张江镇碧波路690号", 31.236, 121.505)
    assert (place.street_code, place.basis) == ("T01", PlaceBasis.ADDRESS)


def test_short_street_name_counts_but_a_road_named_after_it_does_not(
    jurisdiction: Jurisdiction,
) -> None:
    assert jurisdiction.locate("浦东新区川沙城南路12号", None, None).street_code == "T06"
    assert jurisdiction.locate("张江碧波路690号", None, None).street_code == "T01"
    road_only = jurisdiction.locate("浦东新区张江路1号", None, None)
    assert road_only.street_code is None
    assert road_only.basis is PlaceBasis.NONE


def test_address_naming_two_streets_lets_coordinates_pick_between_them(
    jurisdiction: Jurisdiction,
) -> None:
    both = "浦东新区张江镇与唐镇交界处的河道"
    in_tang = jurisdiction.locate(both, 31.215, 121.655)
    assert in_tang.street_code == "T07"
    assert "T01, T07" in in_tang.reason
    without_point = jurisdiction.locate(both, None, None)
    assert without_point.street_code == "T01"  # the first named
    assert "first named" in without_point.reason


def test_full_name_outranks_a_short_name_of_another_street(jurisdiction: Jurisdiction) -> None:
    # 金桥 (short for 金桥镇) appears inside an address that names 金杨新村街道 in full.
    assert jurisdiction.locate("浦东新区金杨新村街道金桥花园5号", None, None).street_code == "S10"


def test_point_outside_pudong_has_no_street(jurisdiction: Jurisdiction) -> None:
    for lat, lon in [(31.2304, 121.4737), (31.00, 122.30), (31.27, 121.52)]:  # Puxi, sea, Yangpu
        place = jurisdiction.locate(None, lat, lon)
        assert place.street_code is None
        assert place.basis is PlaceBasis.NONE
        assert "outside" in place.reason


def test_no_address_and_no_point_goes_to_triage(jurisdiction: Jurisdiction) -> None:
    place = jurisdiction.locate(None, None, None)
    assert (place.street_code, place.station_code, place.basis) == (None, None, PlaceBasis.NONE)
    assert "triage" in place.reason


def test_point_on_a_shared_boundary_goes_to_exactly_one_street_the_lowest_code(
    jurisdiction: Jurisdiction,
) -> None:
    s01, s02 = jurisdiction.street_area("S01"), jurisdiction.street_area("S02")
    shared = sorted(set(s01.exterior.coords) & set(s02.exterior.coords))
    assert shared, "S01 and S02 are neighbours"
    on_border = Point(shared[0])
    assert s01.covers(on_border) and s02.covers(on_border)
    place = jurisdiction.locate(None, on_border.y, on_border.x)
    assert place.street_code == "S01"
    assert jurisdiction.locate(None, on_border.y, on_border.x) == place  # always the same


def test_station_comes_from_coordinates_inside_the_street(
    demo: OrgDirectory, jurisdiction: Jurisdiction
) -> None:
    station = demo.stations_of("T01")[1]
    assert station.lat is not None and station.lon is not None
    place = jurisdiction.locate(None, station.lat, station.lon)
    assert (place.street_code, place.station_code) == ("T01", station.code)


def test_station_named_in_the_address_when_there_are_no_coordinates(
    demo: OrgDirectory, jurisdiction: Jurisdiction
) -> None:
    station = demo.stations_of("T01")[2]
    place = jurisdiction.locate(f"浦东新区张江镇{station.aliases[0]}12组", None, None)
    assert place.station_code == station.code
    assert jurisdiction.locate("浦东新区张江镇碧波路690号", None, None).station_code is None


def test_given_boundary_replaces_the_generated_cell(demo: OrgDirectory) -> None:
    # T01 given as a small square far to the south-east: the point there becomes T01,
    # the old T01 centroid now falls to a neighbour.
    square = box(121.90, 30.95, 121.92, 30.97)
    units = [
        Unit(**{**_fields(u), "boundary_wkt": square.wkt}) if u.code == "T01" else u
        for u in demo.units()
    ]
    custom = OrgDirectory(units, [m for u in demo.units() for m in demo.members(u.code)], [])
    jurisdiction = Jurisdiction.from_directory(custom)
    assert jurisdiction.locate(None, 30.96, 121.91).street_code == "T01"
    assert jurisdiction.locate(None, 31.205, 121.600).street_code not in (None, "T01")
    assert jurisdiction.street_area("T01").contains(Point(121.91, 30.96))


def _fields(unit: Unit) -> dict[str, object]:
    return {name: getattr(unit, name) for name in Unit.__slots__}
