"""The demo organisation: district center, 13 departments, 36 streets/towns, their work
stations, people and rosters covering every hour — all deterministic, so seeding twice
gives the same rows and tests can name people ("P-T01-03-1")."""

from __future__ import annotations

import csv
import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cityops.domain.models import ChannelKind, ContactChannel
from cityops.domain.stages import Tier
from cityops.org.areas import ring_points
from cityops.org.directory import OrgDirectory, OrgRows
from cityops.org.models import DISTRICT_CENTER, DutyShift, OrgUnit, Person, PersonRole, UnitKind

DATA_DIR = Path(__file__).resolve().parent / "data"
STREETS_CSV = DATA_DIR / "pudong_streets.csv"
CONTACT_DOMAIN = "pudong.cityops.example"

DEPARTMENTS: dict[str, str] = {
    "gas_utility": "浦东燃气公司",
    "fire_rescue": "浦东消防救援支队",
    "construction_transport": "区建设和交通委员会",
    "housing": "区房屋管理局",
    "water_affairs": "区水务局",
    "greenery_sanitation": "区绿化和市容管理局",
    "urban_mgmt": "区城市管理行政执法局",
    "public_security": "浦东公安分局",
    "ecology_env": "区生态环境局",
    "market_reg": "区市场监督管理局",
    "commerce": "区投资促进和商务办公室",
    "human_resources": "区人力资源和社会保障局",
    "civil_affairs": "区民政局",
}

# Extra names people use for a street/town in addresses, beyond the name minus 街道/镇.
EXTRA_ALIASES: dict[str, tuple[str, ...]] = {
    "S02": ("潍坊",),
    "S07": ("上钢",),
    "S10": ("金杨",),
    "S11": ("沪东",),
    "S12": ("浦兴",),
    "T06": ("川沙镇", "川沙"),
    "T24": ("临港",),
}

_STATION_WORDS = (
    "新华", "东升", "友谊", "永丰", "光明", "和平", "前进", "幸福", "红星", "长江",
    "民主", "团结", "联合", "胜利", "建设", "朝阳", "兴隆", "丰收", "春晖", "锦绣",
    "滨江", "翠竹", "金桥", "银杏", "海阳", "明珠", "东方", "瑞和", "安居", "康乐",
)  # fmt: skip
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文斌宇浩凯晨欣怡雪琳"

# Shifts in local minutes: three eight-hour shifts for manned centers, day/night for
# work stations. Together they cover all 24 hours of every day.
THREE_SHIFTS = ((0, 480), (480, 960), (960, 1440))
DAY_NIGHT = ((480, 1200), (1200, 480))


@dataclass(frozen=True)
class StreetRow:
    code: str
    name_zh: str
    kind: str
    lat: float
    lon: float


def read_streets(path: Path = STREETS_CSV) -> list[StreetRow]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            StreetRow(
                row["code"],
                row["name_zh"],
                row["kind"],
                float(row["approx_lat"]),
                float(row["approx_lon"]),
            )
            for row in csv.DictReader(handle)
        ]


def street_aliases(code: str, name: str) -> list[str]:
    """Shorter names an address may use: "张江" for 张江镇; single characters are too vague."""
    aliases = list(EXTRA_ALIASES.get(code, ()))
    for suffix in ("街道", "新镇", "镇"):
        if name.endswith(suffix):
            short = name[: -len(suffix)]
            if len(short) >= 2 and short not in aliases:
                aliases.append(short)
            break
    return aliases


def person_name(person_id: str) -> str:
    """A stable Chinese name generated from the id."""
    digest = hashlib.sha256(person_id.encode()).digest()
    return (
        _SURNAMES[digest[0] % len(_SURNAMES)]
        + _GIVEN[digest[1] % len(_GIVEN)]
        + ("" if digest[2] % 3 == 0 else _GIVEN[digest[3] % len(_GIVEN)])
    )


def contacts_for(person_id: str) -> list[dict[str, str]]:
    channel = ContactChannel(kind=ChannelKind.EMAIL, target=f"{person_id.lower()}@{CONTACT_DOMAIN}")
    return [channel.model_dump(mode="json")]


def stations_per_street(index: int) -> int:
    return 3 + index % 4  # 3..6, varied so nothing assumes a fixed count


def build_demo_org() -> OrgRows:
    units: list[OrgUnit] = []
    persons: list[Person] = []
    shifts: list[DutyShift] = []

    def staff(
        unit_code: str,
        roles: list[PersonRole],
        spans: tuple[tuple[int, int], ...],
        first: int = 1,
    ) -> None:
        """People numbered from `first` in role order; the first len(spans) of them cover
        the day's shifts."""
        for number, role in enumerate(roles, start=first):
            person_id = f"P-{unit_code}-{number}"
            persons.append(
                Person(
                    id=person_id,
                    name=person_name(person_id),
                    unit_code=unit_code,
                    role=role.value,
                    contacts=contacts_for(person_id),
                )
            )
            if number - first < len(spans):
                start, end = spans[number - first]
                shifts.append(
                    DutyShift(
                        unit_code=unit_code,
                        person_id=person_id,
                        weekday=None,
                        start_minute=start,
                        end_minute=end,
                    )
                )

    streets = read_streets()
    units.append(
        OrgUnit(
            code=DISTRICT_CENTER,
            name="浦东新区城市运行管理中心",
            tier=Tier.DISTRICT.value,
            kind=UnitKind.CENTER.value,
            aliases=["浦东新区"],
        )
    )
    staff(DISTRICT_CENTER, [PersonRole.DISPATCHER] * 3 + [PersonRole.SUPERVISOR], THREE_SHIFTS)
    # The top of every chain: a duty leader per shift (P-DISTRICT-5..7), then the director.
    staff(DISTRICT_CENTER, [PersonRole.DUTY_LEADER] * 3 + [PersonRole.DIRECTOR], THREE_SHIFTS, 5)
    for code, name in DEPARTMENTS.items():
        units.append(
            OrgUnit(
                code=code,
                name=name,
                tier=Tier.DISTRICT.value,
                kind=UnitKind.DEPARTMENT.value,
                parent_code=DISTRICT_CENTER,
            )
        )
        staff(code, [PersonRole.DEPT_OFFICER] * 3 + [PersonRole.SUPERVISOR], THREE_SHIFTS)
    for index, street in enumerate(streets):
        units.append(
            OrgUnit(
                code=street.code,
                name=f"{street.name_zh}城运分中心",
                tier=Tier.STREET.value,
                kind=UnitKind.SUBCENTER.value,
                parent_code=DISTRICT_CENTER,
                lat=street.lat,
                lon=street.lon,
                aliases=[street.name_zh, *street_aliases(street.code, street.name_zh)],
            )
        )
        staff(street.code, [PersonRole.DISPATCHER] * 3 + [PersonRole.SUPERVISOR], THREE_SHIFTS)
        for number, (lon, lat) in enumerate(_station_points(streets, index), start=1):
            station_code = f"{street.code}-{number:02d}"
            word = _STATION_WORDS[(index * 7 + number) % len(_STATION_WORDS)]
            suffix = "村村委会" if street.kind == "town" else "居民区居委会"
            units.append(
                OrgUnit(
                    code=station_code,
                    name=f"{street.name_zh}{word}{suffix}工作站",
                    tier=Tier.VILLAGE.value,
                    kind=UnitKind.STATION.value,
                    parent_code=street.code,
                    lat=round(lat, 6),
                    lon=round(lon, 6),
                    aliases=[f"{word}{'村' if street.kind == 'town' else '居民区'}"],
                )
            )
            roles = [PersonRole.GRID_WORKER, PersonRole.GRID_WORKER, PersonRole.DISPATCHER]
            staff(station_code, roles, DAY_NIGHT)
    return OrgRows(units=units, persons=persons, shifts=shifts)


def _station_points(streets: list[StreetRow], index: int) -> list[tuple[float, float]]:
    """Station seeds on a ring well inside the street's cell (under half the distance to
    the nearest other centroid, so each seed is nearer its own centroid than any other)."""
    here = streets[index]
    scale = math.cos(math.radians(here.lat))
    nearest = min(
        math.hypot((other.lon - here.lon) * scale, other.lat - here.lat)
        for other in streets
        if other.code != here.code
    )
    return ring_points(
        (here.lon, here.lat), stations_per_street(index), 0.3 * nearest, phase=0.5 + index
    )


@lru_cache(maxsize=1)
def demo_directory() -> OrgDirectory:
    """The demo organisation in memory: for commands run without a database."""
    return OrgDirectory.from_rows(build_demo_org())
