"""Which street/town and work station a ticket belongs to, from its address or coordinates.

Order of evidence:
1. the address: a street/town name in it decides ("浦东新区张江镇碧波路690号" -> T01);
   full names ("张江镇") outrank short ones ("张江"), and a short name directly followed
   by a road word ("张江路") is a road, not a place. If the address names two streets,
   coordinates pick between them when they fall in one; else the first named wins;
2. the coordinates: the street polygon containing the point (a point on a shared
   boundary goes to the lowest code, so the answer is always one street);
3. neither: no street; the district center dispatches by hand (triage).
The work station comes from the coordinates when they lie in the chosen street, else
from a station name in the address, else it stays unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import shapely
from shapely import wkt
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from shapely.strtree import STRtree

from cityops.domain.models import Place, PlaceBasis
from cityops.org.areas import pudong_outline, voronoi_cells
from cityops.org.directory import OrgDirectory, Unit

_ADMIN_SUFFIXES = ("街道", "镇")
_ROAD_WORDS = ("路", "公路", "大道", "街", "桥", "河")


@dataclass(frozen=True, slots=True)
class _Name:
    text: str
    code: str
    strong: bool  # a full administrative name such as 张江镇


class AreaIndex:
    """Polygons keyed by unit code with a spatial index; one owner per point."""

    def __init__(self, areas: Mapping[str, BaseGeometry]) -> None:
        usable = sorted((code, geom) for code, geom in areas.items() if not geom.is_empty)
        self._codes = [code for code, _ in usable]
        self._geoms = [geom for _, geom in usable]
        for geom in self._geoms:
            shapely.prepare(geom)
        self._tree = STRtree(self._geoms)

    def owner(self, lon: float, lat: float) -> str | None:
        hits = self._tree.query(Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return None
        return min(self._codes[int(i)] for i in hits)  # sorted codes: boundary tie-break

    def area(self, code: str) -> BaseGeometry:
        return self._geoms[self._codes.index(code)]

    def __contains__(self, code: object) -> bool:
        return code in self._codes


class Jurisdiction:
    def __init__(
        self,
        streets: AreaIndex,
        stations: Mapping[str, AreaIndex],
        names: Iterable[_Name],
        station_names: Mapping[str, list[tuple[str, str]]],
    ) -> None:
        self._streets = streets
        self._stations = dict(stations)
        # Longest first, so "川沙新镇" claims its span before "川沙" could.
        self._names = sorted(names, key=lambda n: (-len(n.text), n.code))
        self._station_names = dict(station_names)

    @classmethod
    def from_directory(
        cls, directory: OrgDirectory, outline: BaseGeometry | None = None
    ) -> Jurisdiction:
        """Areas from each unit's boundary_wkt, else Voronoi cells of the unit points."""
        outline = outline if outline is not None else pudong_outline()
        streets = directory.streets()
        street_areas = _areas(streets, outline)
        station_indexes: dict[str, AreaIndex] = {}
        station_names: dict[str, list[tuple[str, str]]] = {}
        for street in streets:
            stations = directory.stations_of(street.code)
            if street.code in street_areas and stations:
                station_indexes[street.code] = AreaIndex(
                    _areas(stations, street_areas[street.code])
                )
            station_names[street.code] = sorted(
                ((text, s.code) for s in stations for text in (s.name, *s.aliases)),
                key=lambda pair: -len(pair[0]),
            )
        names = [
            _Name(text, street.code, text.endswith(_ADMIN_SUFFIXES))
            for street in streets
            for text in dict.fromkeys(street.aliases)
        ]
        return cls(AreaIndex(street_areas), station_indexes, names, station_names)

    # ------------------------------------------------------------------ answers

    def locate(self, address: str | None, lat: float | None, lon: float | None) -> Place:
        has_point = lat is not None and lon is not None
        point_street = None
        if lat is not None and lon is not None:
            point_street = self._streets.owner(lon, lat)
        named = self.streets_named(address) if address else []
        if named:
            street = named[0]
            reason = f"address names {street}"
            if len(named) > 1:
                if point_street in named:
                    street = point_street
                    reason = f"address names {', '.join(named)}; coordinates fall in {street}"
                else:
                    reason = f"address names {', '.join(named)}; the first named decides"
            station = self._station(street, address, lat, lon)
            return Place(
                street_code=street, station_code=station, basis=PlaceBasis.ADDRESS, reason=reason
            )
        if point_street is not None:
            return Place(
                street_code=point_street,
                station_code=self._station(point_street, address, lat, lon),
                basis=PlaceBasis.COORDINATES,
                reason=f"coordinates fall in {point_street}",
            )
        if has_point:
            reason = "coordinates outside every street/town of Pudong; district triage"
        elif address:
            reason = "no street/town named in the address and no coordinates; district triage"
        else:
            reason = "no address and no coordinates; district triage"
        return Place(basis=PlaceBasis.NONE, reason=reason)

    def streets_named(self, address: str) -> list[str]:
        """Street codes the address names, in order of first mention; strong names only
        when there are any."""
        taken: list[tuple[int, int]] = []
        strong: list[tuple[int, str]] = []
        weak: list[tuple[int, str]] = []
        for name in self._names:
            start = address.find(name.text)
            while start != -1:
                end = start + len(name.text)
                overlaps = any(s < end and start < e for s, e in taken)
                if not overlaps and (name.strong or not _followed_by_road(address, end)):
                    taken.append((start, end))
                    (strong if name.strong else weak).append((start, name.code))
                start = address.find(name.text, end)
        hits = sorted(strong or weak)
        return list(dict.fromkeys(code for _, code in hits))

    def street_area(self, code: str) -> BaseGeometry:
        return self._streets.area(code)

    def _station(
        self, street: str, address: str | None, lat: float | None, lon: float | None
    ) -> str | None:
        index = self._stations.get(street)
        if index is not None and lat is not None and lon is not None:
            owner = index.owner(lon, lat)
            if owner is not None:
                return owner
        if address:
            for text, code in self._station_names.get(street, ()):
                if text in address:
                    return code
        return None


def _followed_by_road(address: str, end: int) -> bool:
    rest = address[end:]
    return rest.startswith(_ROAD_WORDS) and not rest.startswith("街道")


def _areas(units: list[Unit], clip: BaseGeometry) -> dict[str, BaseGeometry]:
    """Given boundaries as they are; the rest share what is left by nearest point."""
    given = {u.code: wkt.loads(u.boundary_wkt) for u in units if u.boundary_wkt}
    remaining = clip
    for geom in given.values():
        remaining = remaining.difference(geom)
    seeds = {
        u.code: (u.lon, u.lat)
        for u in units
        if u.code not in given and u.lon is not None and u.lat is not None
    }
    return {**given, **voronoi_cells(seeds, remaining)}
