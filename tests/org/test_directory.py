from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cityops.domain.models import ChannelKind, ContactChannel
from cityops.domain.stages import Tier
from cityops.org.directory import (
    Member,
    NobodyAvailableError,
    OrgDirectory,
    Shift,
    Unit,
    UnknownPersonError,
    UnknownUnitError,
)
from cityops.org.models import PersonRole, UnitKind


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _small_org(shifts: list[Shift]) -> OrgDirectory:
    """District center, one street, one station; people as named, shifts as given."""
    units = [
        Unit("DISTRICT", "区城运中心", Tier.DISTRICT, UnitKind.CENTER, None, None, None),
        Unit("T01", "张江镇城运分中心", Tier.STREET, UnitKind.SUBCENTER, "DISTRICT", 31.2, 121.6),
        Unit("T01-01", "一村工作站", Tier.VILLAGE, UnitKind.STATION, "T01", 31.2, 121.61),
    ]
    mail = (ContactChannel(kind=ChannelKind.EMAIL, target="a@example.cn"),)
    members = [
        Member("P-D-1", "区值班", "DISTRICT", PersonRole.DISPATCHER, mail),
        Member("P-T01-1", "街镇值班", "T01", PersonRole.DISPATCHER),
        Member("P-T01-01-1", "网格员甲", "T01-01", PersonRole.GRID_WORKER),
        Member("P-T01-01-2", "网格员乙", "T01-01", PersonRole.GRID_WORKER),
    ]
    return OrgDirectory(units, members, shifts)


def test_roster_picks_the_person_whose_shift_covers_the_local_time() -> None:
    org = _small_org(
        [
            Shift("T01-01", "P-T01-01-1", None, 480, 1200),
            Shift("T01-01", "P-T01-01-2", None, 1200, 480),
        ]
    )
    assert org.on_duty("T01-01", _at("2026-11-28T10:00+08:00")).id == "P-T01-01-1"
    assert org.on_duty("T01-01", _at("2026-11-28T23:30+08:00")).id == "P-T01-01-2"
    assert org.on_duty("T01-01", _at("2026-11-29T03:00+08:00")).id == "P-T01-01-2"  # past midnight


def test_roster_reads_shanghai_time_whatever_the_offset_given() -> None:
    org = _small_org([Shift("T01-01", "P-T01-01-1", None, 480, 1200)])
    # 01:00 UTC is 09:00 in Shanghai: inside the 08:00-20:00 shift.
    assert org.on_shift("T01-01", datetime(2026, 11, 28, 1, 0, tzinfo=UTC))[0].id == "P-T01-01-1"


def test_weekday_shift_applies_only_on_its_day_and_overnight_into_the_next() -> None:
    saturday_night = Shift("T01-01", "P-T01-01-1", 5, 1320, 360)  # Sat 22:00 - Sun 06:00
    org = _small_org([saturday_night])
    assert org.on_shift("T01-01", _at("2026-11-28T23:00+08:00"))  # Saturday
    assert org.on_shift("T01-01", _at("2026-11-29T05:00+08:00"))  # Sunday morning
    assert not org.on_shift("T01-01", _at("2026-11-29T23:00+08:00"))  # Sunday night
    assert not org.on_shift("T01-01", _at("2026-11-27T23:00+08:00"))  # Friday night


def test_roster_gap_falls_back_to_the_units_dispatcher_then_the_tier_above() -> None:
    org = _small_org([Shift("T01-01", "P-T01-01-1", None, 480, 1200)])
    night = _at("2026-11-28T22:00+08:00")
    # The station has no dispatcher: nobody on shift goes to the street's dispatcher.
    assert org.on_duty("T01-01", night).id == "P-T01-1"
    assert org.dispatcher_of("T01-01").id == "P-T01-1"
    assert org.dispatcher_of("T01").id == "P-T01-1"
    assert org.dispatcher_of("DISTRICT").id == "P-D-1"


def test_an_empty_organisation_says_nobody_is_available() -> None:
    org = OrgDirectory(
        [Unit("DISTRICT", "区城运中心", Tier.DISTRICT, UnitKind.CENTER, None, None, None)], [], []
    )
    with pytest.raises(NobodyAvailableError, match="DISTRICT"):
        org.on_duty("DISTRICT", _at("2026-11-28T10:00+08:00"))


def test_unknown_codes_raise_lookup_errors_that_name_them() -> None:
    org = _small_org([])
    with pytest.raises(UnknownUnitError, match="T99"):
        org.on_duty("T99", _at("2026-11-28T10:00+08:00"))
    with pytest.raises(UnknownPersonError, match="P-X"):
        org.channels_for("P-X")
    with pytest.raises(LookupError):  # what the notifier catches
        org.channels_for("P-X")


def test_channels_for_returns_the_contact_list_in_order() -> None:
    org = _small_org([])
    assert [c.target for c in org.channels_for("P-D-1")] == ["a@example.cn"]
    assert org.channels_for("P-T01-1") == []


def test_tree_navigation_finds_streets_stations_and_parents() -> None:
    org = _small_org([])
    assert [u.code for u in org.streets()] == ["T01"]
    assert [u.code for u in org.stations_of("T01")] == ["T01-01"]
    street = org.street_of("T01-01")
    assert street is not None and street.code == "T01"
    assert org.street_of("DISTRICT") is None
    assert [u.code for u in org.units(Tier.VILLAGE)] == ["T01-01"]


def test_demo_organisation_covers_every_hour_at_every_unit(demo: OrgDirectory) -> None:
    day = "2026-11-28"
    for unit in demo.units():
        for hour in range(24):
            assert demo.on_shift(unit.code, _at(f"{day}T{hour:02d}:30+08:00")), (unit.code, hour)


def test_demo_organisation_has_every_street_and_several_stations_each(demo: OrgDirectory) -> None:
    streets = demo.streets()
    assert len(streets) == 36
    assert all(3 <= len(demo.stations_of(s.code)) <= 6 for s in streets)
    assert len(demo.units(kind=UnitKind.DEPARTMENT)) == 13
    assert demo.person("P-T01-03-1").role is PersonRole.GRID_WORKER


def test_the_top_of_every_chain_is_the_centers_duty_leader_then_its_director(
    demo: OrgDirectory,
) -> None:
    morning, evening = _at("2026-12-03T09:00:00+08:00"), _at("2026-12-03T20:00:00+08:00")
    leader, director = demo.leaders(morning)
    assert (leader.role, director.role) == (PersonRole.DUTY_LEADER, PersonRole.DIRECTOR)
    assert leader.unit_code == director.unit_code == "DISTRICT"
    assert demo.leaders(evening)[0] != leader and demo.leaders(evening)[1] == director
    assert _small_org([]).leaders(morning) == []  # none named: chains end at the dispatcher


def supervisor_id(directory: OrgDirectory, at: datetime) -> str:
    person = directory.duty_supervisor(at)
    assert person is not None
    return person.id


def test_the_duty_supervisor_is_the_centers_supervisor_on_shift_else_a_leader(
    demo: OrgDirectory,
) -> None:
    """Who supervises (督办) a stalled ticket and decides a district unit's extension."""
    morning, evening = _at("2026-12-03T09:00:00+08:00"), _at("2026-12-03T20:00:00+08:00")
    supervisor = demo.duty_supervisor(morning)
    assert supervisor is not None and supervisor.role is PersonRole.SUPERVISOR
    assert supervisor.unit_code == "DISTRICT"
    units = [Unit("DISTRICT", "区城运中心", Tier.DISTRICT, UnitKind.CENTER, None, None, None)]
    people = [
        Member("P-S-1", "督办甲", "DISTRICT", PersonRole.SUPERVISOR),
        Member("P-S-2", "督办乙", "DISTRICT", PersonRole.SUPERVISOR),
        Member("P-L", "值班长", "DISTRICT", PersonRole.DUTY_LEADER),
        Member("P-D", "调度", "DISTRICT", PersonRole.DISPATCHER),
    ]
    evenings = [Shift("DISTRICT", "P-S-2", None, 16 * 60, 24 * 60)]
    rostered = OrgDirectory(units, people, evenings)
    assert supervisor_id(rostered, evening) == "P-S-2"
    assert supervisor_id(rostered, morning) == "P-S-1"
    no_supervisor = OrgDirectory(units, people[2:], [])
    assert supervisor_id(no_supervisor, morning) == "P-L"
    assert supervisor_id(OrgDirectory(units, people[3:], []), morning) == "P-D"
    assert supervisor_id(_small_org([]), morning) == "P-D-1"
