"""Linking a citizen's report to an open incident, and maintenance windows: pure rules,
no database, no Temporal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from cityops.domain.geo import distance_m, in_polygon
from cityops.domain.incidents import (
    LinkBasis,
    OpenReport,
    RepeatRule,
    Report,
    find_link,
    normalise_address,
    stepped_priority,
)
from cityops.domain.models import AlarmEvent
from cityops.domain.silences import (
    Circle,
    Polygon,
    Silence,
    SilenceSpec,
    SilenceState,
    protected_refusal,
    silencing,
)
from cityops.domain.stages import LinkKind, Priority, Source
from cityops.rules.incidents import IncidentRulesError, default_incident_rules, load_incident_rules
from cityops.rules.load import default_rules

AT = datetime(2026, 11, 5, 8, 30, tzinfo=UTC)
RULE = RepeatRule(radius_m=50, max_age=timedelta(days=30), step_up_after=1)


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("浦东新区张江镇碧波路690号", "碧波路690号"),
        ("碧波路 690 号门口", "碧波路690号"),
        ("上海市浦东新区花木街道锦绣路１００１弄", "锦绣路1001弄"),
        ("浦东新区沪东新村街道冬阳路30弄彩云苑30号楼", "冬阳路30弄彩云苑30号楼"),
        ("镇宁路5号", "镇宁路5号"),  # a road starting with 镇 is no town
        ("浦东新区潍坊新村街道笃行路", None),  # a whole road is no spot
        ("上海市浦东新区合庆镇", None),  # nor a whole town
        ("浦东新区洋泾街道", None),  # nor a whole street
        ("门口", None),
        (None, None),
    ],
)
def test_addresses_normalise_to_the_spot(address: str | None, key: str | None) -> None:
    assert normalise_address(address) == key


def _open(ticket: str, **kw: object) -> OpenReport:
    base: dict[str, object] = {
        "ticket_id": ticket,
        "source": Source.HOTLINE,
        "scenario_id": "PS03",
        "at": AT - timedelta(hours=1),
    }
    return OpenReport.model_validate({**base, **kw})


def test_a_second_call_at_the_same_address_is_a_repeat_call() -> None:
    report = Report(scenario_id="PS03", at=AT, address_key="碧波路690号")
    first = _open("HL1", address_key="碧波路690号", incident_id="IN1")
    decision = find_link(report, [first], RULE)
    assert decision is not None
    assert (decision.target.ticket_id, decision.basis, decision.kind) == (
        "HL1",
        LinkBasis.ADDRESS,
        LinkKind.REPEAT_CALL,
    )


def test_distance_links_within_the_radius_and_not_beyond() -> None:
    # 0.0004 degrees of latitude is about 44 m; 0.0006 about 67 m.
    near = _open("HL1", lat=31.2004, lon=121.6)
    far = _open("HL2", lat=31.2006, lon=121.6)
    report = Report(scenario_id="PS03", at=AT, lat=31.2, lon=121.6)
    decision = find_link(report, [far, near], RULE)
    assert decision is not None and decision.target.ticket_id == "HL1"
    assert decision.basis is LinkBasis.DISTANCE and 40 < (decision.distance_m or 0) < 50
    assert find_link(report, [far], RULE) is None


def test_other_scenario_or_too_old_does_not_link() -> None:
    report = Report(scenario_id="PS03", at=AT, address_key="碧波路690号")
    other = _open("HL1", scenario_id="CA01", address_key="碧波路690号")
    old = _open("HL2", address_key="碧波路690号", at=AT - timedelta(days=31))
    assert find_link(report, [other, old], RULE) is None


def test_a_sensor_report_makes_it_known_from_sensors_and_incidents_win() -> None:
    report = Report(scenario_id="PS01", at=AT, lat=31.2268, lon=121.5215)
    sensor = _open("AL1", scenario_id="PS01", source=Source.IOT, lat=31.22687, lon=121.52148)
    citizen = _open("HL9", scenario_id="PS01", lat=31.2268, lon=121.5215, incident_id="IN7")
    gas = RepeatRule(radius_m=300, max_age=timedelta(days=1))
    alone = find_link(report, [sensor], gas)
    assert alone is not None and alone.kind is LinkKind.KNOWN_FROM_SENSORS
    both = find_link(report, [sensor, citizen], gas)
    assert both is not None and both.target.ticket_id == "HL9"  # already an incident


def test_priority_steps_up_at_each_multiple_of_the_rule_and_stops_at_p1() -> None:
    every_third = RepeatRule(radius_m=80, max_age=timedelta(days=1), step_up_after=3)
    assert stepped_priority(Priority.P4, 2, every_third) is None
    assert stepped_priority(Priority.P4, 3, every_third) is Priority.P3
    assert stepped_priority(Priority.P3, 6, every_third) is Priority.P2
    assert stepped_priority(Priority.P1, 1, RULE) is None
    never = RepeatRule(radius_m=80, max_age=timedelta(days=1))
    assert stepped_priority(Priority.P3, 5, never) is None


def test_geometry() -> None:
    assert distance_m((31.2, 121.6), (31.2, 121.6)) == 0
    assert 1100 < distance_m((31.2, 121.6), (31.21, 121.6)) < 1120
    square = [(31.0, 121.0), (31.0, 121.1), (31.1, 121.1), (31.1, 121.0)]
    assert in_polygon((31.05, 121.05), square)
    assert not in_polygon((31.15, 121.05), square)


# ------------------------------------------------------------------------ silences


def _event(
    device: str = "MHC-T03-00021", lat: float = 31.1447, lon: float = 121.5095
) -> AlarmEvent:
    return AlarmEvent(
        event_id="e1",
        device_id=device,
        sensor_type="manhole_cover",
        metric="tilt_deg",
        status="firing",
        lat=lat,
        lon=lon,
        occurred_at=AT,
    )


def _silence(**kw: object) -> Silence:
    base: dict[str, object] = {
        "silence_id": "SI1",
        "created_at": AT - timedelta(days=1),
        "starts_at": AT - timedelta(hours=1),
        "ends_at": AT + timedelta(hours=1),
        "reason": "茉莉街道路开挖",
        "created_by": "P-T03-1",
    }
    return Silence.model_validate({**base, **kw})


PROTECTED = frozenset({"PS01", "PS02"})


def test_a_window_silences_by_device_prefix_area_and_scenario_only_while_it_lasts() -> None:
    event = _event()
    by_prefix = _silence(device_prefix="MHC-T03-")
    assert silencing([by_prefix], event, "PS03", AT, PROTECTED) is by_prefix
    assert silencing([by_prefix], _event("MHC-T04-1"), "PS03", AT, PROTECTED) is None
    circle = _silence(area=Circle(lat=31.1447, lon=121.5095, radius_m=100))
    assert silencing([circle], event, "PS03", AT, PROTECTED) is circle
    assert silencing([circle], _event(lat=31.16), "PS03", AT, PROTECTED) is None
    polygon = _silence(
        area=Polygon(points=[(31.14, 121.50), (31.14, 121.52), (31.15, 121.52), (31.15, 121.50)])
    )
    assert silencing([polygon], event, "PS03", AT, PROTECTED) is polygon
    scoped = _silence(device_prefix="MHC-", scenario_ids=["CA01"])
    assert silencing([scoped], event, "PS03", AT, PROTECTED) is None
    # The window: pending before, active inside, expired after, ended early by hand.
    assert by_prefix.state(AT - timedelta(hours=2)) is SilenceState.PENDING
    assert silencing([by_prefix], event, "PS03", AT + timedelta(hours=1), PROTECTED) is None
    assert by_prefix.state(AT + timedelta(hours=1)) is SilenceState.EXPIRED
    ended = _silence(device_prefix="MHC-T03-", ended_at=AT - timedelta(minutes=1))
    assert ended.state(AT) is SilenceState.ENDED
    assert silencing([ended], event, "PS03", AT, PROTECTED) is None


def test_gas_and_fire_are_never_silenced_without_a_supervisors_override() -> None:
    gas = _event("GAS-T03-1")
    area = _silence(area=Circle(lat=31.1447, lon=121.5095, radius_m=500))
    assert silencing([area], gas, "PS01", AT, PROTECTED) is None
    overridden = _silence(area=area.area, override_by="P-DISTRICT-SUP")
    assert silencing([overridden], gas, "PS01", AT, PROTECTED) is overridden
    spec = SilenceSpec(
        scenario_ids=["PS01"],
        starts_at=AT,
        ends_at=AT + timedelta(hours=1),
        reason="燃气管道改造",
        created_by="P-T03-1",
    )
    refusal = protected_refusal(spec, PROTECTED)
    assert refusal is not None and "PS01" in refusal and "override" in refusal
    assert protected_refusal(spec.model_copy(update={"override_by": "sup"}), PROTECTED) is None


def test_a_window_must_name_a_scope_and_end_after_it_starts() -> None:
    with pytest.raises(ValidationError, match="name a device"):
        SilenceSpec(starts_at=AT, ends_at=AT + timedelta(hours=1), reason="x", created_by="p")
    with pytest.raises(ValidationError, match="after starts_at"):
        SilenceSpec(device_id="D1", starts_at=AT, ends_at=AT, reason="x", created_by="p")


# ------------------------------------------------------------------------ the rule file


def test_incident_rules_name_only_known_scenarios_and_protect_gas_and_fire() -> None:
    rules = default_incident_rules()
    known = default_rules().scenario_ids
    assert set(rules.repeat_calls.scenarios) <= known
    assert rules.protected == {"PS01", "PS02"}
    for scenario_id in rules.protected:
        assert default_rules().scenario(scenario_id).priority is Priority.P1
    assert rules.repeat_rule("PS03").radius_m == 50
    assert rules.repeat_rule("PS03").step_up_after == 1
    assert rules.repeat_rule("TR01") == rules.repeat_calls.default


def test_a_bad_incident_rule_file_names_the_field(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "incidents.yaml"
    path.write_text(
        "repeat_calls: {default: {radius_m: -1, max_age: 1d}}\nsilences: {}\n", encoding="utf-8"
    )
    with pytest.raises(IncidentRulesError, match="radius_m"):
        load_incident_rules(path)
