"""The day's report and the simulation's own invariants.

report.json holds only what the seed decides: counts, rates and times in minutes of the
simulated day. Run-time facts (wall-clock duration, the date the day ran on) go to the
log, so two runs of one seed write byte-identical files."""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cityops.config import get_settings
from cityops.db.engine import get_engine
from cityops.domain.call_counts import CallCounts
from cityops.domain.models import TicketStatus
from cityops.domain.stages import CallKind, Stage
from cityops.register.kpis import KpiWindow
from cityops.report.render import render
from cityops.service import cityview
from cityops.simulation import invariants as inv
from cityops.simulation.run import Simulation


@dataclass
class DayResult:
    report: dict[str, Any]
    failures: list[str] = field(default_factory=list)
    html: str = ""


DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MINUTE = timedelta(minutes=1)


def relabel(text: str, run_day: date, day: date) -> str:
    """Dates of the run (the server's future) as the requested day's: the report speaks
    of the day asked for, whatever date it ran on (docs/simulation.md, the date mapping)."""
    if run_day == day:
        return text
    shift = day - run_day
    return DATE.sub(lambda m: (date.fromisoformat(m.group()) + shift).isoformat(), text)


def city_view(simulation: Simulation) -> dict[str, Any]:
    """The city-view figures (KPIs, vital signs, the league, charts' data) of the day,
    computed from the simulation's register as `cityops report` computes them."""
    start = simulation.at(simulation.first).astimezone(UTC)
    end = simulation.at(simulation.end).astimezone(UTC)
    # To the simulated minute: the test server's clock runs at real pace between the
    # driver's moves, so an action's seconds (and every duration and median from them)
    # depend on how fast the machine was; its minute does not.
    figures = cityview.report_figures(
        get_engine(simulation.database_url), KpiWindow(start, end, end), resolution=MINUTE
    )
    # One object, dates relabelled, keys sorted: what report.json and the page both show.
    text = relabel(
        json.dumps(figures, ensure_ascii=False, sort_keys=True, default=str),
        simulation.start.date(),
        simulation.load.day,
    )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _rate(numerator: int, denominator: int) -> float | None:  # as register/kpis.py rounds
    return None if denominator == 0 else round(numerator / denominator, 4)


def _clock(simulation: Simulation, instant: datetime | None) -> str | None:
    """An instant as the simulated day's local time, to the minute (with the zone)."""
    if instant is None:
        return None
    minute = simulation.minute_of(instant)
    day, rest = divmod(minute, 24 * 60)
    return f"D+{day} {rest // 60:02d}:{rest % 60:02d} (UTC+8)"


def build(simulation: Simulation, read: dict[str, TicketStatus]) -> DayResult:
    load, ledger = simulation.load, simulation.ledger
    statuses = {t: inv.at_midnight(s, simulation.moved.get(t, [])) for t, s in read.items()}
    calls = [call for call in load.calls if simulation.in_window(call.minute)]
    register = inv.Register.read(get_engine(simulation.database_url))
    window_start = simulation.at(simulation.first).astimezone(UTC)
    call_figures = register.calls(window_start, simulation.at(simulation.end).astimezone(UTC))
    failures = [
        *inv.calls_accounted(simulation, calls, statuses, register),
        *inv.events_accounted(simulation, statuses, register),
        *inv.open_tickets_wait_on_a_clock(simulation, statuses),
        *inv.no_notice_lost(simulation),
        *inv.register_agrees(simulation, statuses, register),
        *inv.calls_in_register(calls, call_figures),
        *inv.bad_photos_refused(simulation),
    ]

    stages = Counter(status.stage.value for status in statuses.values())
    work_orders = {t: s for t, s in statuses.items() if inv.is_work_order(s)}
    closed = sum(1 for s in work_orders.values() if s.stage is Stage.CLOSED)
    counts = inv.engine_counts(simulation, statuses)

    to_accept: dict[str, list[int]] = defaultdict(list)
    for ticket_id, track in simulation.tracks.items():
        street = statuses[ticket_id].street_code or track.street_code or "-"
        if track.accepted_minute is not None:
            to_accept[street].append(track.accepted_minute - track.received_minute)
    medians = {street: float(statistics.median(times)) for street, times in to_accept.items()}
    slowest = [
        {"street": street, "median_minutes_to_accept": medians[street],
         "accepted": len(to_accept[street])}
        for street in sorted(medians, key=lambda s: (-medians[s], s))[:5]
    ]  # fmt: skip

    overdue = sorted(
        (
            {
                "ticket": t,
                "stage": s.stage.value,
                "street": s.street_code,
                "scenario": s.scenario_id,
                "resolve_deadline": _clock(simulation, s.resolve_deadline),
            }
            for t, s in work_orders.items()
            if s.overdue and not s.stage.is_final
        ),
        key=lambda row: (row["resolve_deadline"] or "", row["ticket"]),
    )[:20]

    messages = Counter(fate.sent_as for fate in ledger.event_fates)
    by_source = Counter(s.source.value for s in statuses.values())
    report: dict[str, Any] = {
        "day": load.day.isoformat(),
        "arrivals": {
            "calls": len(calls),
            "calls_by_kind": dict(sorted(Counter(c.kind.value for c in calls).items())),
            "repeat_calls": sum(1 for c in calls if c.repeat_of is not None),
            "calls_sent_twice": sum(1 for c in calls if c.resent),
            "alarm_messages": ledger.events,
            "alarm_messages_resent": messages["resent"],
            "alarm_messages_garbled": messages["garbled"],
            "alarm_event_outcomes": dict(sorted(ledger.event_outcomes.items())),
            "alarm_episodes": len(load.episodes),
            "storm_devices": sum(1 for e in load.episodes if e.storm),
            "planned_works": len(load.works),
        },
        "tickets": len(statuses),
        "by_source": dict(sorted(by_source.items())),
        "stage_at_end_of_day": dict(sorted(stages.items())),
        "work_orders": len(work_orders),
        "dismissed": stages.get(Stage.DISMISSED.value, 0),
        "call_records": _call_records(call_figures),
        "repeat_calls_linked": inv.joins(calls, simulation),
        "closed_loop_rate": _rate(closed, len(work_orders)),
        "resolved": sum(1 for t in work_orders if simulation.tracks[t].resolved_minutes),
        "escalations": counts["escalations"],
        "returns": counts["returns"],
        "transfers": counts["transfers"],
        "district_rulings": counts["district_rulings"],
        "reopens": counts["reopens"],
        "extensions": counts["extensions"],
        "pauses": counts["pauses"],
        "paused_at_midnight": sum(1 for s in work_orders.values() if s.paused),
        "first_contact": _first_contact(work_orders),
        "after_photos_refused": dict(sorted(ledger.photos.items())),
        "notices": dict(sorted(ledger.notices.items())),
        "grouped_follow_ups": {
            "handed_to_groups": sum(
                1 for h in simulation.inbox.handed.values() if h.at < simulation.at(simulation.end)
            ),
            "waiting_in_a_group_at_midnight": simulation.held_in_groups,
        },
        "people_actions": dict(sorted(ledger.actions.items())),
        "actions_no_longer_wanted": dict(sorted(ledger.actions_skipped.items())),
        "refused_actions": dict(sorted(ledger.refused_actions.items())),
        "slowest_streets": slowest,
        "top_overdue": overdue,
        "register_tickets": len(register.stages),
        "invariants_failed": failures,
    }
    # The city-view KPIs, computed from the register, agree with the engine's own state.
    view = city_view(simulation)
    kpis = view["kpis"]
    others = kpis["non_work_orders"]
    registered = (kpis["received"], others["dismissed"], kpis["closed"])
    engine_side = (len(work_orders), report["dismissed"], closed)
    if registered != engine_side or kpis["closed_loop_rate"] != report["closed_loop_rate"]:
        failures.append(
            f"the register's KPIs (work orders, dismissed, closed {registered}, "
            f"closed-loop rate {kpis['closed_loop_rate']}) disagree with the engine "
            f"({engine_side}, {report['closed_loop_rate']})"
        )
    by_kind = report["arrivals"]["calls_by_kind"]
    converted = call_figures.converted
    records = {
        "consultation": by_kind.get("consultation", 0) - converted,
        "referral": by_kind.get("referral", 0),
        "suggestion": by_kind.get("suggestion", 0),
    }
    if {kind: others[kind] for kind in records} != records:
        failures.append(
            f"the register's KPIs count non-work orders {others}; the agents recorded "
            f"{records} (converted consultations are work orders)"
        )
    report["kpis"] = view["kpis"]
    report["vital_signs"] = view["vital_signs"]
    page = render(
        view,
        ticket_url=f"{get_settings().public_url.rstrip('/')}/tickets",
        title=f"浦东模拟日 {load.day} 城市运行体征报告 Simulated Pudong day",
    )
    return DayResult(report, failures, relabel(page, simulation.start.date(), load.day))


def _call_records(counts: CallCounts) -> dict[str, Any]:
    """The call figures from the register (domain/call_counts.py) for the call records."""
    return {
        "by_kind": {
            kind.value: counts.by_kind.get(kind, 0)
            for kind in CallKind
            if kind is not CallKind.COMPLAINT
        },
        "answered_on_the_spot": counts.consultations_answered_on_the_spot,
        "answered_on_the_spot_rate": counts.answered_on_the_spot_rate,
        "converted": counts.converted,
        "referral_rate": counts.referral_rate,
        "consultations_rated": counts.consultations_rated,
        "consultation_satisfaction_rate": counts.consultation_satisfaction_rate,
        "suggestions_replied": counts.suggestions_replied,
        "suggestions_open": counts.suggestions_open,
        "suggestions_escalated": counts.suggestions_escalated,
    }


def _first_contact(work_orders: dict[str, TicketStatus]) -> dict[str, Any]:
    """Hotline work orders that were accepted: the assignee's first contact with the
    caller, by its own clock (rules/sla.yaml first_contact_within)."""
    due = [s for s in work_orders.values() if s.contact_deadline is not None]
    made = [s for s in due if s.contacted_at is not None]
    on_time = [
        s
        for s in made
        if s.contacted_at is not None
        and s.contact_deadline is not None
        and s.contacted_at <= s.contact_deadline
    ]
    return {
        "clock_started": len(due),
        "contacted": len(made),
        "contacted_on_time": len(on_time),
        "on_time_rate": _rate(len(on_time), len(made)),
    }


def summary(report: dict[str, Any]) -> str:
    kpis, signs, calls = report["kpis"], report["vital_signs"], report["call_records"]
    by_source = ", ".join(f"{k} {v}" for k, v in report["by_source"].items())
    slow = ", ".join(
        f"{row['street']} {row['median_minutes_to_accept']} min"
        for row in report["slowest_streets"]
    )
    return "\n".join(
        [
            f"Pudong, {report['day']}: {report['arrivals']['calls']} calls, "
            f"{report['arrivals']['alarm_messages']} alarm messages",
            f"tickets {report['tickets']} ({by_source}); work orders {report['work_orders']}, "
            f"dismissed {report['dismissed']}",
            f"closed-loop rate {kpis['closed_loop_rate']}, accepted on time "
            f"{kpis['accepted_on_time_rate']}, resolved on time {kpis['resolved_on_time_rate']} "
            f"(city-view KPIs from the register); vital score {signs.get('score')}",
            f"escalations {report['escalations']}, returns {report['returns']}, transfers "
            f"{report['transfers']}, reopens {report['reopens']}, extensions "
            f"{report['extensions']}, pauses {report['pauses']}, overdue now "
            f"{kpis['overdue_now']}",
            f"call records {calls['by_kind']}, answered on the spot "
            f"{calls['answered_on_the_spot_rate']}, converted {calls['converted']}; "
            f"first contact on time {report['first_contact']['on_time_rate']}",
            f"slowest streets (median minutes to accept): {slow or '-'}",
            "invariants: "
            + (
                "all hold"
                if not report["invariants_failed"]
                else "; ".join(report["invariants_failed"])
            ),
        ]
    )


def write(result: DayResult, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(
        json.dumps(result.report, ensure_ascii=False, indent=2, sort_keys=True) + "\n", "utf-8"
    )
    (out / "report.html").write_text(result.html, "utf-8")
