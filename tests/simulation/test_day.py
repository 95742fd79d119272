"""A simulated day at --scale 0.05 through the real engine on the time-skipping server:
its invariants hold, it is byte-identical for a seed, and a stuck clock fails loudly."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest

from cityops.simulation import run
from cityops.simulation.day import simulate_day
from cityops.simulation.run import Simulation, SimulationStalled

DAY = date(2026, 12, 7)


def differences(first: object, second: object, path: str = "") -> list[str]:
    """The paths at which two JSON values differ, with both values (at most 20)."""
    if isinstance(first, dict) and isinstance(second, dict):
        found: list[str] = []
        for key in sorted(set(first) | set(second)):
            if key not in first or key not in second:
                found.append(f"{path}.{key}: only in {'b' if key in second else 'a'}")
            else:
                found += differences(first[key], second[key], f"{path}.{key}")
        return found[:20]
    if isinstance(first, list) and isinstance(second, list) and len(first) == len(second):
        return [
            d
            for i, (a, b) in enumerate(zip(first, second, strict=True))
            for d in differences(a, b, f"{path}[{i}]")
        ][:20]
    return [] if first == second else [f"{path}: {first!r} != {second!r}"]


async def test_a_day_twice_gives_the_same_report_and_its_invariants_hold(tmp_path: Path) -> None:
    # Both days run to their end even when one fails (a sibling left running when the
    # test has already failed kept pytest waiting on it).
    days = await asyncio.gather(
        simulate_day(DAY, 7, tmp_path / "a", scale=0.05, progress=lambda _: None),
        simulate_day(DAY, 7, tmp_path / "b", scale=0.05, progress=lambda _: None),
        return_exceptions=True,
    )
    for day in days:
        if isinstance(day, BaseException):
            raise day
    first, second = (day for day in days if not isinstance(day, BaseException))
    assert first.failures == [] and second.failures == []
    text = (tmp_path / "a" / "report.json").read_bytes()
    assert text == (tmp_path / "b" / "report.json").read_bytes()

    report = json.loads(text)
    assert report["day"] == "2026-12-07"
    arrivals = report["arrivals"]
    assert arrivals["calls"] == 124
    assert {"hotline", "iot", "video"} <= set(report["by_source"])
    assert report["tickets"] == report["register_tickets"]
    assert report["escalations"] > 0 and report["returns"] > 0 and report["reopens"] > 0
    outcomes = arrivals["alarm_event_outcomes"]
    assert outcomes["in_window"] >= 1  # a planned work
    assert outcomes["duplicate"] == arrivals["alarm_messages_resent"] > 0
    assert outcomes["rejected"] == arrivals["alarm_messages_garbled"] > 0  # dead letters
    assert report["dismissed"] > 0  # the dispatcher triaged, told by the triage notice
    assert report["notices"]["triage_request"] >= report["dismissed"]
    assert 0 < report["closed_loop_rate"] < 1
    # Calls that are no work order, as the register counts them (domain/call_counts.py).
    calls = report["call_records"]
    assert calls["by_kind"]["consultation"] == arrivals["calls_by_kind"]["consultation"] > 0
    assert calls["converted"] >= 1 and calls["consultations_rated"] > 0
    assert calls["suggestions_replied"] + calls["suggestions_open"] >= 1
    assert report["repeat_calls_linked"].get("repeat_call", 0) >= 1  # joins of an incident
    assert report["transfers"] > 0 and report["pauses"] > 0
    assert 0 < report["first_contact"]["contacted_on_time"] < report["first_contact"]["contacted"]
    photos = report["after_photos_refused"]
    assert photos["refused"] == photos["bad_far"] + photos["bad_old"] > 0
    assert report["grouped_follow_ups"]["handed_to_groups"] > 0
    assert "triage_check" not in report["people_actions"]  # no polling: notices drive it
    kpis = report["kpis"]  # the city-view KPIs, from the simulation's register
    assert kpis["received"] == report["work_orders"]
    assert kpis["closed_loop_rate"] == report["closed_loop_rate"]
    assert kpis["window"]["from"] == "2026-12-07T00:00:00+08:00"
    assert report["vital_signs"]["score"] is not None
    html = (tmp_path / "a" / "report.html").read_text("utf-8")
    assert "浦东模拟日 2026-12-07" in html and "plotly" in html
    actions = [
        json.loads(line)
        for line in (tmp_path / "a" / "simulation.log").read_text("utf-8").splitlines()
    ]
    accepts = [a for a in actions if a.get("what") == "accept"]
    assert accepts and all(a["ticket"] and a["workflow"] for a in accepts)
    assert any(a["stage"] == "awaiting_accept" for a in accepts)
    assert actions[-1]["event"] == "simulation_finished"


async def test_a_clock_that_does_not_come_back_fails_the_run_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    advance = Simulation._advance

    async def stuck_at_three(self: Simulation, minute: int) -> None:
        if minute == 3 * 60:
            await asyncio.Event().wait()  # as the test server did when a run was stranded
        await advance(self, minute)

    monkeypatch.setattr(run.Simulation, "_advance", stuck_at_three)
    with pytest.raises(SimulationStalled, match=r"moving the clock at 02:59 \(minute 179\)"):
        await simulate_day(
            DAY, 7, tmp_path, scale=0.05, minutes=240, stall_seconds=3, progress=lambda _: None
        )
    log = (tmp_path / "simulation.log").read_text("utf-8")
    assert "simulation_failed" in log
