"""The indicator catalogue: real indicators for every scenario and alarm metric, validated
with errors that name the file and field; their values, colours and scores on the
hand-made register of tests/register/fixtures.py."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from cityops.domain.stages import Source, Stage
from cityops.register.records import fold_all
from cityops.rules.indicators import INDICATORS_DIR, default_indicators, load_indicators
from cityops.rules.load import RuleFileError, default_rules
from cityops.vitals.compute import AlarmRecord, vital_signs
from tests.register.fixtures import ALARMS, DAY, Ticket, at, records

AT = DAY + timedelta(days=1)  # the end of 1 December 2026, Shanghai


def test_the_catalogue_has_at_least_150_indicators_covering_every_scenario() -> None:
    indicators = default_indicators()
    assert len(indicators) >= 150
    assert len({i.id for i in indicators}) == len(indicators)
    scenario_ids = {r.id for r in default_rules().rules}
    per_scenario = Counter(s for i in indicators for s in i.compute.scenario_ids())
    assert set(per_scenario) == scenario_ids and set(per_scenario.values()) == {3}
    assert {i.dimension.value for i in indicators} == {"safe", "clean", "orderly"}
    # Each scenario indicator has the scenario's dimension, as the catalogue says.
    for indicator in indicators:
        scenario = getattr(indicator.compute, "scenario", None)
        if scenario:
            assert indicator.dimension is default_rules().scenario(scenario).dimension
    kinds = Counter(i.compute.kind for i in indicators)
    assert kinds["alarms_firing"] >= 40 and kinds["alarm_peak"] >= 10 and kinds["kpi"] >= 15


def _broken(tmp_path: Path, mutate: object) -> Path:
    directory = tmp_path / "indicators"
    shutil.copytree(INDICATORS_DIR, directory)
    path = directory / "alarms.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutate(data["indicators"][0])  # type: ignore[operator]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return directory


@pytest.mark.parametrize(
    ("mutate", "field", "problem"),
    [
        (lambda i: i["thresholds"].update(yellow=9, red=1), "thresholds", "yellow must not"),
        (lambda i: i["compute"].update(kind="guess"), "compute", "does not match any"),
        (lambda i: i.update(dimension="tidy"), "dimension", "Input should be"),
        (lambda i: i["compute"].update(window="soon"), "compute.alarms_firing.window", "not a"),
        (lambda i: i.pop("unit"), "unit", "Field required"),
    ],
)
def test_a_broken_indicator_names_the_file_the_indicator_and_the_field(
    tmp_path: Path, mutate: object, field: str | None, problem: str
) -> None:
    with pytest.raises(RuleFileError) as caught:
        load_indicators(_broken(tmp_path, mutate))
    message = str(caught.value)
    assert "alarms.yaml" in message and "alarm.gas_detector.lel_percent.firing" in message
    assert problem in message
    if field:
        assert f"field {field}" in message


def test_an_unknown_scenario_and_a_duplicate_id_are_refused(tmp_path: Path) -> None:
    directory = tmp_path / "indicators"
    shutil.copytree(INDICATORS_DIR, directory)
    path = directory / "scenarios.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["indicators"][0]["compute"]["scenario"] = "ZZ99"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"scenarios\.yaml.*field compute\.scenario.*ZZ99"):
        load_indicators(directory)
    data["indicators"][0]["compute"]["scenario"] = "PS01"
    data["indicators"][1]["id"] = data["indicators"][0]["id"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RuleFileError, match="duplicate id"):
        load_indicators(directory)


def _alarms() -> list[AlarmRecord]:
    streets = {"B": "T01"}
    return [
        AlarmRecord(device, sensor, metric, status, when, value, None, streets.get(ticket or ""))
        for _, device, sensor, metric, value, status, when, ticket in ALARMS
    ]


@pytest.fixture(scope="module")
def signs() -> dict[str, object]:
    tickets = fold_all(records(), AT)
    return vital_signs(default_indicators(), tickets, _alarms(), AT, streets=["T01", "T02", "S01"])


def _row(signs: dict[str, object], indicator: str) -> dict[str, object]:
    rows = signs["indicators"]
    assert isinstance(rows, list)
    return next(r for r in rows if r["id"] == indicator)


def test_indicator_values_are_computed_from_the_register_and_the_alarm_log(
    signs: dict[str, object],
) -> None:
    expect = {
        "CA04.open_now": (1, "green"),  # D (H is closed unfixed)
        "CA04.overdue_now": (1, "green"),  # P3: yellow at 3 in the district
        "EN01.overdue_now": (1, "green"),
        "PS06.open_now": (1, "green"),  # G, a P2 scenario: yellow from 3 in the district
        "PS03.open_now": (0, "green"),  # A closed
        "CA01.new_24h": (1, "green"),
        "alarm.gas_detector.lel_percent.firing": (1, "yellow"),  # GAS-1 never resolved
        "alarm.gas_detector.lel_percent.peak": (30.0, "red"),  # red from 25 %LEL
        "alarm.water_level.depth_cm.firing": (0, "green"),  # WL-1 resolved
        "alarm.water_level.depth_cm.peak": (12.0, "green"),
        "alarm.smart_bin.fill_percent.refiring": (1, "yellow"),  # BIN-1 fired three times
        "alarm.smart_bin.fill_percent.peak": (99.0, "yellow"),
        # Orderly work orders of the last 7 days: C D H I and K (closed the day before).
        "service.orderly.closed_loop_rate": (0.2, "red"),
    }
    got = {key: (_row(signs, key)["value"], _row(signs, key)["status"]) for key in expect}
    assert got == expect
    assert _row(signs, "alarm.pipe_pressure.pressure_mpa.peak")["status"] == "no_data"


def test_scores_lose_10_per_red_and_3_per_yellow_for_the_district_and_each_street(
    signs: dict[str, object],
) -> None:
    dimensions = signs["dimensions"]
    assert isinstance(dimensions, dict)
    for row in dimensions.values():
        assert row["score"] == max(0, 100 - 10 * row["red"] - 3 * row["yellow"])
    assert signs["score"] == round(sum(r["score"] for r in dimensions.values()) / 3, 1)
    streets = signs["streets"]
    assert isinstance(streets, dict)
    assert streets["S01"]["score"] == 100.0 and streets["S01"]["red"] == 0  # nothing there
    assert streets["T01"]["score"] < 100.0


def test_a_street_view_uses_the_street_thresholds() -> None:
    tickets = fold_all(records(), AT)
    t02 = vital_signs(default_indicators(), tickets, _alarms(), AT, street="T02")
    row = _row(t02, "CA04.overdue_now")  # D: one overdue P3 is yellow for one street
    assert (row["value"], row["status"]) == (1.0, "yellow")
    assert _row(t02, "alarm.gas_detector.lel_percent.peak")["status"] == "no_data"
    assert "streets" not in t02 and t02["street"] == "T02"


def test_stalled_tickets_count_while_they_are_supervised_daily() -> None:
    """A ticket whose chain pressed the director in vain is `stalled` in the register until
    someone acts (`stall_ended`): the city view's vital signs count it meanwhile."""
    gas = Ticket("S1", Source.IOT, at("09:00")).place("PS01", "T01", "T01-01").dispatch(at("09:00"))
    gas.add("stalled", Stage.ESCALATED, at("09:35"))
    gas.add("stall_supervised", Stage.ESCALATED, at("09:35"))
    leak = (
        Ticket("S2", Source.HOTLINE, at("09:00")).place("PS03", "T02", None).dispatch(at("09:01"))
    )
    leak.add("stalled", Stage.ESCALATED, at("09:36"))
    leak.add("stall_ended", Stage.ESCALATED, at("12:00"))
    records = [*gas.records, *leak.records]

    def stalled(when: datetime, street: str | None = None) -> tuple[object, object]:
        tickets = fold_all(records, when)
        signs = vital_signs(default_indicators(), tickets, [], when, street=street)
        row = _row(signs, "service.safe.stalled_now")
        return row["value"], row["status"]

    assert stalled(at("09:30")) == (0.0, "green")
    assert stalled(at("10:00")) == (2.0, "yellow")  # both stalled; red from 3
    assert stalled(at("13:00")) == (1.0, "yellow")  # S2 was acted on
    assert stalled(at("13:00"), street="T02") == (0.0, "green")
    assert [t.stalled for t in fold_all(records, at("13:00"))] == [True, False]
