"""Each KPI against the figures computed by hand from tests/register/fixtures.py.

Window: 1 December 2026, 00:00-24:00 Shanghai, as of its end. Received in the window:
A B C D E F H I (E dismissed: no work order); G was received the day before and is still
open (paused); I's second resolution comes after the window; J comes after; K closed before.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from cityops.domain.stages import Source, Stage
from cityops.register.kpis import KpiWindow, compute_kpis
from cityops.register.records import fold
from tests.register.fixtures import DAY, Ticket, at, records

Kpis = dict[str, Any]
WINDOW = KpiWindow(DAY, DAY + timedelta(days=1), DAY + timedelta(days=1))


@pytest.fixture(scope="module")
def kpis() -> Kpis:
    return compute_kpis(records(), WINDOW)


def test_received_counts_work_orders_by_source_and_dismissed_calls_apart(kpis: Kpis) -> None:
    assert kpis["received"] == 7  # A B C D F H I
    assert kpis["by_source"] == {
        "hotline": 4, "grid": 1, "opinion": 0, "iot": 1, "video": 1, "open311": 0
    }  # fmt: skip
    assert kpis["non_work_orders"] == {
        "received": 1, "dismissed": 1, "consultation": 0, "referral": 0, "suggestion": 0
    }  # fmt: skip


def test_proactive_discovery_rate_is_sensor_camera_and_grid_finds_over_received(
    kpis: Kpis,
) -> None:
    assert kpis["proactive_discovery_rate"] == round(3 / 7, 4)  # B iot, D grid, H video


def test_closed_loop_rate_counts_verified_closures_only(kpis: Kpis) -> None:
    assert kpis["closed"] == 2 and kpis["closed_loop_rate"] == round(2 / 7, 4)  # A B
    assert kpis["closed_unfixed"] == 1  # H: ruled closed, never proven


def test_accepted_on_time_is_against_the_first_accept_deadline(kpis: Kpis) -> None:
    # Dispatched A B C D H I; B was accepted at 10:50 after its 10:30 deadline (escalated).
    assert kpis["accepted_on_time_rate"] == round(5 / 6, 4)
    assert kpis["median_minutes_to_accept"] == 14.5  # 9, 10, 10, 19, 19, 50


def test_resolved_on_time_counts_only_tickets_that_are_due(kpis: Kpis) -> None:
    # Due: A B H (resolved), D (deadline 14:10 passed), I (reopened, 19:30 passed);
    # C is not due (extended to 5 December). On time: A, B (second fix within the
    # reopened deadline), H.
    assert kpis["denominators"]["resolve_due"] == 5
    assert kpis["resolved_on_time_rate"] == 0.6
    assert kpis["median_minutes_to_resolve"] == 71.0  # A 71, B 480, H 60 (I withdrawn)


def test_reopen_return_extension_and_satisfaction_rates(kpis: Kpis) -> None:
    assert kpis["reopen_rate"] == 0.5  # B, I of the resolved A B H I
    assert kpis["return_rate"] == round(1 / 6, 4)  # C of six dispatched
    assert kpis["extension_rate"] == round(1 / 6, 4)  # C of six accepted
    assert kpis["satisfaction_rate"] == 0.5  # A satisfied, I unsatisfied


def test_open_and_overdue_now_count_every_open_ticket_whenever_received(kpis: Kpis) -> None:
    assert kpis["open_now"] == 5  # C D F G I
    assert kpis["triage_now"] == 1  # F
    assert kpis["overdue_now"] == 2  # D and I; G is past its deadline but paused


def test_breakdowns_carry_the_same_fields_by_the_latest_place(kpis: Kpis) -> None:
    streets = kpis["by_street"]
    assert sorted(streets) == ["T01", "T02", "T03", "unknown"]  # C moved to T03 by its return
    t01 = streets["T01"]
    assert (t01["received"], t01["closed_loop_rate"], t01["open_now"], t01["overdue_now"]) == (
        3, round(2 / 3, 4), 2, 1
    )  # fmt: skip
    assert streets["T03"]["return_rate"] == 1.0
    assert streets["unknown"]["non_work_orders"]["dismissed"] == 1
    assert set(t01) == {k for k in kpis if not k.startswith("by_") and k != "window"} | {
        "by_source"
    }
    dimensions = kpis["by_dimension"]
    assert [dimensions[d]["received"] for d in ("safe", "clean", "orderly")] == [1, 1, 4]
    assert kpis["by_scenario"]["CA04"]["closed_unfixed"] == 1
    assert kpis["by_category"]["CA"]["received"] == 3  # B CA01, D and H CA04
    assert kpis["by_station"]["T02-02"]["overdue_now"] == 1


def test_a_street_filter_scopes_every_figure(kpis: Kpis) -> None:
    t01 = compute_kpis(records(), WINDOW, street="T01")
    assert t01["received"] == kpis["by_street"]["T01"]["received"] == 3
    assert list(t01["by_street"]) == ["T01"] and t01["window"]["street"] == "T01"


def test_a_zero_denominator_is_null_and_the_answer_is_json(kpis: Kpis) -> None:
    empty = compute_kpis([], WINDOW)
    assert empty["received"] == 0 and all(
        empty[rate] is None for rate in ("closed_loop_rate", "satisfaction_rate")
    )
    text = json.dumps(kpis, ensure_ascii=False)
    assert json.loads(text) == kpis
    assert kpis["window"]["from"] == "2026-12-01T00:00:00+08:00"


def test_a_citizen_report_joining_a_sensor_incident_counts_as_proactive() -> None:
    sensor = Ticket("M", Source.IOT, at("08:00")).place("PS01", "T01", "T01-01")
    citizen = Ticket("L", Source.HOTLINE, at("08:10")).place("PS01", "T01", "T01-01")
    early = Ticket("N", Source.HOTLINE, at("07:50")).place("PS01", "T01", "T01-01")
    rows = [*sensor.records, *citizen.records, *early.records]
    links = {"M": "IN1", "L": "IN1", "N": "IN1"}
    linked = compute_kpis(rows, WINDOW, incidents=links)
    # M and L (the sensor came first); N called before the sensor fired.
    assert linked["proactive_discovery_rate"] == round(2 / 3, 4)
    assert compute_kpis(rows, WINDOW)["proactive_discovery_rate"] == round(1 / 3, 4)


def test_a_past_window_reads_the_register_as_it_stood_at_its_end() -> None:
    i = fold([r for r in records() if r.ticket_id == "I"], WINDOW.as_of)
    assert i is not None and i.stage is Stage.REOPENED and i.resolved_at is None
    later = fold([r for r in records() if r.ticket_id == "I"], at("12:00", day=1))
    assert later is not None and later.stage is Stage.VERIFYING


def test_a_window_must_run_forward() -> None:
    with pytest.raises(ValueError, match="from"):
        KpiWindow(DAY, DAY, DAY)


def test_calls_that_are_no_work_order_are_counted_apart_unless_converted() -> None:
    answered = Ticket("Q1", Source.HOTLINE, at("09:00")).add(
        "answered", Stage.ANSWERED, at("09:05")
    )
    referred = Ticket("Q2", Source.HOTLINE, at("09:10")).add(
        "referred", Stage.REFERRED, at("09:12")
    )
    suggestion = Ticket("Q3", Source.HOTLINE, at("09:20")).add(
        "recorded", Stage.RECORDED, at("09:21")
    )
    converted = Ticket("Q4", Source.HOTLINE, at("09:30")).add(
        "answered", Stage.ANSWERED, at("09:31")
    )
    converted.add("converted", Stage.CONVERTED, at("10:00")).place("CA01", "T01", "T01-01")
    converted.add("received", Stage.INTAKE, at("10:00")).dispatch(at("10:01"))
    rows = [r for t in (answered, referred, suggestion, converted) for r in t.records]
    figures = compute_kpis(rows, WINDOW)
    assert figures["non_work_orders"] == {
        "received": 3, "dismissed": 0, "consultation": 1, "referral": 1, "suggestion": 1
    }  # fmt: skip
    assert figures["received"] == 1 and figures["open_now"] == 1  # Q4, now a work order
    assert figures["by_street"]["T01"]["received"] == 1
