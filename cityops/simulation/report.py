"""The day's report and the simulation's own invariants.

report.json holds only what the seed decides: counts, rates and times in minutes of the
simulated day. Run-time facts (wall-clock duration, the date the day ran on) go to the
log, so two runs of one seed write byte-identical files."""

from __future__ import annotations

import html
import json
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from cityops.activities.store import TicketRow
from cityops.db.audit import AlarmEventRow, AlarmOutcome
from cityops.db.engine import get_engine
from cityops.domain.models import TicketStatus
from cityops.domain.stages import Stage
from cityops.simulation.run import Simulation

KNOWN_OUTCOMES = {outcome.value for outcome in AlarmOutcome}


@dataclass
class DayResult:
    report: dict[str, Any]
    failures: list[str] = field(default_factory=list)


def _rate(numerator: int, denominator: int) -> float | None:
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
    # activities) reached the phones, named someone, and was read by a simulated person.
    lost = sorted(
        ticket_id
        for ticket_id, sent in simulation.sent.items()
        if ledger.notices_read[ticket_id] != sent
    )
    if lost:
        failures.append(
            f"{len(lost)} tickets whose notices were not all read, e.g. "
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
    accepted_or_escalated = [
        t
        for t, s in work_orders.items()
        if simulation.tracks[t].accepted_minute is not None or s.escalations > 0
    ]
    accepted_on_time = sum(
        1
        for t in accepted_or_escalated
        if simulation.tracks[t].accepted_minute is not None and work_orders[t].escalations == 0
    )
    resolved = [t for t in work_orders if simulation.tracks[t].resolved_minutes]
    due = [t for t, s in work_orders.items() if s.resolve_deadline is not None]

    def resolved_in_time(ticket_id: str) -> bool:
        deadline = work_orders[ticket_id].resolve_deadline
        resolved_at = simulation.tracks[ticket_id].resolved_minutes
        return (
            bool(resolved_at)
            and deadline is not None
            and (resolved_at[0] <= simulation.minute_of(deadline))
        )

    resolved_on_time = sum(1 for t in due if resolved_in_time(t))

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
        "accepted_on_time_rate": _rate(accepted_on_time, len(accepted_or_escalated)),
        "resolved_on_time_rate": _rate(resolved_on_time, len(due)),
        "resolved": len(resolved),
        "escalations": sum(s.escalations for s in statuses.values()),
        "returns": sum(s.returns for s in statuses.values()),
        "reopens": sum(s.reopens for s in statuses.values()),
        "extensions": sum(s.extensions for s in statuses.values()),
        "overdue_now": sum(1 for s in work_orders.values() if s.overdue and not s.stage.is_final),
        "notices": dict(sorted(ledger.notices.items())),
        "people_actions": dict(sorted(ledger.actions.items())),
        "refused_actions": dict(sorted(ledger.refused_actions.items())),
        "slowest_streets": slowest,
        "top_overdue": overdue,
        "register_tickets": register_count,
        "invariants_failed": failures,
    }
    return DayResult(report, failures)


def summary(report: dict[str, Any]) -> str:
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
            f"closed-loop rate {report['closed_loop_rate']}, accepted on time "
            f"{report['accepted_on_time_rate']}, "
            f"resolved on time {report['resolved_on_time_rate']}",
            f"escalations {report['escalations']}, returns {report['returns']}, reopens "
            f"{report['reopens']}, extensions {report['extensions']}, overdue now "
            f"{report['overdue_now']}",
            f"slowest streets (median minutes to accept): {slow or '-'}",
            "invariants: "
            + (
                "all hold"
                if not report["invariants_failed"]
                else "; ".join(report["invariants_failed"])
            ),
        ]
    )


def write(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True) + "\n", "utf-8"
    )
    (out / "report.html").write_text(render_html(report), "utf-8")


def render_html(report: dict[str, Any]) -> str:
    def table(rows: list[dict[str, Any]]) -> str:
        if not rows:
            return "<p>—</p>"
        head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values()) + "</tr>"
            for row in rows
        )
        return f"<table><tr>{head}</tr>{body}</table>"

    figures = [
        {"figure": key, "value": report[key]}
        for key in (
            "tickets", "work_orders", "dismissed", "closed_loop_rate", "accepted_on_time_rate",
            "resolved_on_time_rate", "escalations", "returns", "reopens", "extensions",
            "overdue_now",
        )
    ]  # fmt: skip
    sources = [{"source": k, "tickets": v} for k, v in report["by_source"].items()]
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>浦东模拟日 {html.escape(report["day"])}</title>
<style>body{{font-family:"Noto Sans CJK SC",sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px}}</style></head><body>
<h1>浦东城运模拟日 {html.escape(report["day"])}</h1>
<h2>概况 Figures</h2>{table(figures)}
<h2>来源 By source</h2>{table(sources)}
<h2>最慢的街镇 Slowest streets</h2>{table(report["slowest_streets"])}
<h2>超时工单 Top overdue</h2>{table(report["top_overdue"])}
<h2>不变量 Invariants</h2><p>{html.escape("; ".join(report["invariants_failed"]) or "all hold")}</p>
</body></html>
"""
