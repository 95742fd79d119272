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
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from cityops.activities.store import TicketRow
from cityops.config import get_settings
from cityops.db.audit import AlarmEventRow, AlarmOutcome
from cityops.db.engine import get_engine
from cityops.domain.models import TicketStatus
from cityops.domain.stages import Stage
from cityops.register.kpis import KpiWindow
from cityops.report.render import render
from cityops.service import cityview
from cityops.simulation.run import Simulation

KNOWN_OUTCOMES = {outcome.value for outcome in AlarmOutcome}


@dataclass
class DayResult:
    report: dict[str, Any]
    failures: list[str] = field(default_factory=list)
    html: str = ""


DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


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
    figures = cityview.report_figures(
        get_engine(simulation.database_url), KpiWindow(start, end, end)
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


def _open_deadline(status: TicketStatus) -> datetime | None:
    if status.stage in (Stage.AWAITING_ACCEPT, Stage.ESCALATED):
        return status.accept_deadline
    if status.stage in (Stage.ACCEPTED, Stage.REOPENED):
        return status.resolve_deadline
    return status.accept_deadline or status.resolve_deadline or status.contact_deadline


def build(simulation: Simulation, statuses: dict[str, TicketStatus]) -> DayResult:
    load, ledger = simulation.load, simulation.ledger
    calls = [call for call in load.calls if simulation.in_window(call.minute)]
    failures: list[str] = []

    # Every arrival is accounted for.
    if ledger.calls != len(calls) or len(ledger.call_tickets) != len(calls):
        failures.append(f"calls: {len(calls)} made, {len(ledger.call_tickets)} ticketed")
    events_sent = sum(ledger.event_outcomes.values())
    if events_sent != ledger.events:
        failures.append(f"alarm events: {ledger.events} sent, {events_sent} with an outcome")
    unknown = set(ledger.event_outcomes) - KNOWN_OUTCOMES
    if unknown:
        failures.append(f"alarm events with unknown outcomes: {sorted(unknown)}")

    # Every ticket ends the day in a known stage, with a deadline if it is waiting.
    stages = Counter(status.stage.value for status in statuses.values())
    waiting_without_clock = sorted(
        ticket_id
        for ticket_id, status in statuses.items()
        if not status.stage.is_final and _open_deadline(status) is None
    )
    if waiting_without_clock:
        failures.append(
            f"{len(waiting_without_clock)} open tickets wait with no deadline, e.g. "
            + ", ".join(f"{t} ({statuses[t].stage.value})" for t in waiting_without_clock[:5])
        )

    # No notice lost: every notice a ticket's run sent during the day (its send_notice
    # activities), and every one a notice group sent for it, reached the phones, named
    # someone, and was read by a simulated person.
    lost = sorted(
        ticket_id
        for ticket_id, sent in simulation.sent.items()
        if ledger.notices_read[ticket_id] != sent
    )
    if lost:
        failures.append(
            f"{len(lost)} tickets or notice groups whose notices were not all read, e.g. "
            + ", ".join(
                f"{t} (sent {simulation.sent[t]}, read {ledger.notices_read[t]})" for t in lost[:5]
            )
        )
    if any(not notice.recipients for notice in simulation.inbox.notices):
        failures.append("notices without recipients")

    # The register agrees with the engine.
    with Session(get_engine(simulation.database_url)) as session:
        register_stage = dict(session.exec(select(TicketRow.ticket_id, TicketRow.stage)).all())
        register_events = Counter(
            dict(
                session.exec(
                    select(AlarmEventRow.outcome, func.count()).group_by(AlarmEventRow.outcome)
                ).all()
            )
        )
    register_count = len(register_stage)
    dispatched = {t for t, s in statuses.items() if s.assignee_id is not None}
    missing = sorted(dispatched - set(register_stage))
    if missing:
        failures.append(
            f"{len(missing)} dispatched tickets missing from the register: {missing[:5]}"
        )
    disagree = sorted(
        t
        for t, s in statuses.items()
        if s.stage.is_final and t in register_stage and register_stage[t] != s.stage.value
    )
    if disagree:
        failures.append(
            f"{len(disagree)} finished tickets whose register row shows another stage, e.g. "
            + ", ".join(
                f"{t} ({register_stage[t]} vs {statuses[t].stage.value})" for t in disagree[:5]
            )
        )
    if register_events != ledger.event_outcomes:
        failures.append(
            f"alarm events: the register counts {dict(sorted(register_events.items()))}, "
            f"the simulation sent {dict(sorted(ledger.event_outcomes.items()))}"
        )

    work_orders = {t: s for t, s in statuses.items() if s.stage is not Stage.DISMISSED}
    closed = sum(1 for s in work_orders.values() if s.stage is Stage.CLOSED)

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

    by_source = Counter(s.source.value for s in statuses.values())
    report: dict[str, Any] = {
        "day": load.day.isoformat(),
        "arrivals": {
            "calls": len(calls),
            "alarm_events": ledger.events,
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
        "closed_loop_rate": _rate(closed, len(work_orders)),
        "resolved": sum(1 for t in work_orders if simulation.tracks[t].resolved_minutes),
        "escalations": sum(s.escalations for s in statuses.values()),
        "returns": sum(s.returns for s in statuses.values()),
        "reopens": sum(s.reopens for s in statuses.values()),
        "extensions": sum(s.extensions for s in statuses.values()),
        "notices": dict(sorted(ledger.notices.items())),
        "people_actions": dict(sorted(ledger.actions.items())),
        "refused_actions": dict(sorted(ledger.refused_actions.items())),
        "slowest_streets": slowest,
        "top_overdue": overdue,
        "register_tickets": register_count,
        "invariants_failed": failures,
    }
    # The city-view KPIs, computed from the register, agree with the engine's own state.
    view = city_view(simulation)
    kpis = view["kpis"]
    registered = (kpis["received"], kpis["non_work_orders"]["received"], kpis["closed"])
    engine_side = (len(work_orders), report["dismissed"], closed)
    if registered != engine_side or kpis["closed_loop_rate"] != report["closed_loop_rate"]:
        failures.append(
            f"the register's KPIs (work orders, non-work orders, closed {registered}, "
            f"closed-loop rate {kpis['closed_loop_rate']}) disagree with the engine "
            f"({engine_side}, {report['closed_loop_rate']})"
        )
    report["kpis"] = view["kpis"]
    report["vital_signs"] = view["vital_signs"]
    page = render(
        view,
        ticket_url=f"{get_settings().public_url.rstrip('/')}/tickets",
        title=f"浦东模拟日 {load.day} 城市运行体征报告 Simulated Pudong day",
    )
    return DayResult(report, failures, relabel(page, simulation.start.date(), load.day))


def summary(report: dict[str, Any]) -> str:
    kpis, signs = report["kpis"], report["vital_signs"]
    by_source = ", ".join(f"{k} {v}" for k, v in report["by_source"].items())
    slow = ", ".join(
        f"{row['street']} {row['median_minutes_to_accept']} min"
        for row in report["slowest_streets"]
    )
    return "\n".join(
        [
            f"Pudong, {report['day']}: {report['arrivals']['calls']} calls, "
            f"{report['arrivals']['alarm_events']} alarm events",
            f"tickets {report['tickets']} ({by_source}); work orders {report['work_orders']}, "
            f"dismissed {report['dismissed']}",
            f"closed-loop rate {kpis['closed_loop_rate']}, accepted on time "
            f"{kpis['accepted_on_time_rate']}, resolved on time {kpis['resolved_on_time_rate']} "
            f"(city-view KPIs from the register); vital score {signs.get('score')}",
            f"escalations {report['escalations']}, returns {report['returns']}, reopens "
            f"{report['reopens']}, extensions {report['extensions']}, overdue now "
            f"{kpis['overdue_now']}",
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
