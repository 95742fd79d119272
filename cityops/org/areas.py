"""Areas for coordinate jurisdiction: a Pudong outline and Voronoi partitions inside it.

The spec gives only approximate centroids, so for the demo each street/town gets the
Voronoi cell of its centroid clipped to a hand-drawn outline of Pudong, and each work
station gets the cell of its point inside its street. Cells are computed in a local
equirectangular frame (longitude scaled by cos(latitude)) so "nearest" means nearest
on the ground, not nearest in degrees. Real boundaries replace these via boundary_wkt.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from shapely import affinity
from shapely.geometry import MultiPoint, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import voronoi_diagram

REFERENCE_LAT = 31.15  # middle of Pudong; the scale factor is ~0.856
_X_SCALE = math.cos(math.radians(REFERENCE_LAT))

# Pudong New Area, clockwise from Wusongkou, as (lon, lat). Traced coarsely along the
# Huangpu river (west), the Yangtze estuary (east) and Hangzhou Bay (south); good
# enough to tell Puxi and the sea from Pudong, not for surveying.
PUDONG_OUTLINE: tuple[tuple[float, float], ...] = (
    (121.515, 31.385),
    (121.560, 31.392),
    (121.640, 31.362),
    (121.720, 31.322),
    (121.800, 31.272),
    (121.845, 31.200),
    (121.865, 31.120),
    (121.935, 31.050),
    (121.995, 30.950),
    (121.990, 30.865),
    (121.900, 30.845),
    (121.800, 30.875),
    (121.715, 30.915),
    (121.655, 30.965),
    (121.595, 30.995),
    (121.545, 31.035),
    (121.515, 31.075),
    (121.478, 31.108),
    (121.455, 31.140),
    (121.458, 31.175),
    (121.478, 31.200),
    (121.490, 31.225),
    (121.494, 31.240),
    (121.510, 31.249),
    (121.535, 31.255),
    (121.548, 31.272),
    (121.553, 31.300),
    (121.540, 31.340),
)


def pudong_outline() -> Polygon:
    return Polygon(PUDONG_OUTLINE)


def _to_plane(geometry: BaseGeometry) -> BaseGeometry:
    return affinity.scale(geometry, xfact=_X_SCALE, yfact=1.0, origin=(0, 0))


def _to_lonlat(geometry: BaseGeometry) -> BaseGeometry:
    return affinity.scale(geometry, xfact=1 / _X_SCALE, yfact=1.0, origin=(0, 0))


def voronoi_cells(
    seeds: Mapping[str, tuple[float, float]], clip: BaseGeometry
) -> dict[str, BaseGeometry]:
    """One cell per seed (code -> (lon, lat)) covering `clip`, nearest seed wins.

    A single seed owns the whole clip area. Cells of seeds outside `clip` may be empty.
    """
    if not seeds:
        return {}
    if len(seeds) == 1:
        return {next(iter(seeds)): clip}
    plane_points = {code: Point(lon * _X_SCALE, lat) for code, (lon, lat) in seeds.items()}
    plane_clip = _to_plane(clip)
    # The envelope must reach past the clip so no clip area is left without a cell.
    envelope = plane_clip.envelope.buffer(1.0)
    diagram = voronoi_diagram(MultiPoint(list(plane_points.values())), envelope=envelope)
    cells: dict[str, BaseGeometry] = {}
    for region in diagram.geoms:
        owner = next(code for code, point in plane_points.items() if region.covers(point))
        cells[owner] = _to_lonlat(region.intersection(plane_clip))
    return cells


def ring_points(
    center: tuple[float, float], count: int, radius_deg: float, phase: float = 0.0
) -> list[tuple[float, float]]:
    """`count` points evenly on a ground circle around center: seeds for station cells."""
    lon, lat = center
    if count == 1:
        return [center]
    return [
        (
            lon + radius_deg * math.cos(phase + 2 * math.pi * i / count) / _X_SCALE,
            lat + radius_deg * math.sin(phase + 2 * math.pi * i / count),
        )
        for i in range(count)
    ]
