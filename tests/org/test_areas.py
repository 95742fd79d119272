from __future__ import annotations

import itertools

from shapely.geometry.base import BaseGeometry

from cityops.org.areas import pudong_outline, ring_points, voronoi_cells
from cityops.org.seed import read_streets


def _street_cells() -> dict[str, BaseGeometry]:
    seeds = {s.code: (s.lon, s.lat) for s in read_streets()}
    return voronoi_cells(seeds, pudong_outline())


def test_street_cells_tile_the_outline_without_gaps_or_overlaps() -> None:
    cells = _street_cells()
    outline = pudong_outline()
    assert len(cells) == 36
    assert abs(sum(c.area for c in cells.values()) - outline.area) < 1e-9
    for a, b in itertools.combinations(cells.values(), 2):
        assert a.intersection(b).area < 1e-12


def test_every_street_centroid_lies_in_its_own_cell() -> None:
    from shapely.geometry import Point

    cells = _street_cells()
    for street in read_streets():
        assert cells[street.code].contains(Point(street.lon, street.lat)), street.code


def test_a_single_seed_owns_the_whole_clip_area() -> None:
    outline = pudong_outline()
    assert voronoi_cells({"only": (121.6, 31.2)}, outline) == {"only": outline}


def test_ring_points_are_spread_around_the_center() -> None:
    points = ring_points((121.6, 31.2), 4, 0.01)
    assert len(points) == 4
    assert len(set(points)) == 4
    assert ring_points((121.6, 31.2), 1, 0.01) == [(121.6, 31.2)]
