"""The markdown a supervisor reads in the Temporal UI's workflow details. Pure.

The caller's name and phone, and any phone-like number in the complaint or a note, are
masked: details are encrypted like every payload, but they are for watching work, not
for reading callers' contacts. Times are Shanghai time with the zone marked, as
everywhere people read them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from cityops.domain.incidents import SENSOR_SOURCES
from cityops.domain.masking import LINE_BREAKS, redact_text
from cityops.domain.models import HistoryEntry, TicketIncidents, TicketStatus
from cityops.domain.stages import LinkKind
from cityops.domain.zones import UTC8, ZONE_MARK, shown

_MAX_HISTORY = 12


def render_details(
    status: TicketStatus, *, names: Sequence[str | None] = (), phones: Sequence[str | None] = ()
) -> str:
    def private(text: str | None) -> str:
        return markdown_cell(redact_text(text, names=names, phones=phones))

    scenario = (
        f"{status.scenario_id} {status.scenario_name}" if status.scenario_id else "待分类 (triage)"
    )
    if status.call is not None and status.scenario_id is None:
        scenario = f"call: {status.call.kind.value}"  # no work order, no scenario
    lines = [
        f"**{status.ticket_id}** · {scenario} · {status.street_code or '—'}",
        "",
        "| | |",
        "|---|---|",
        f"| stage | `{status.stage.value}` |",
        f"| priority | {status.priority.value if status.priority else '—'} |",
        f"| assignee | {status.assignee_name or '—'} ({status.assignee_id or '—'}) |",
        f"| tier | {status.tier.value if status.tier else '—'} |",
    ]
    if status.waiting_on:
        lines.append(f"| waiting on | {status.waiting_on} |")
    if status.triage_deadline is not None and status.scenario_id is None:
        lines.append(f"| triage by | {_time(status.triage_deadline)} |")
    lines += [
        f"| accept by | {_time(status.accept_deadline)} |",
        f"| resolve by | {_time(status.resolve_deadline)} |",
    ]
    if status.verify_deadline is not None and status.stage.value == "verifying":
        lines.append(f"| verify by | {_time(status.verify_deadline)} |")
    if status.pause_deadline is not None:
        lines.append(f"| paused until | {_time(status.pause_deadline)} |")
    lines += [
        f"| SLA | {status.sla_colour}{' · **OVERDUE**' if status.overdue else ''} |",
        *_stall_row(status),
        *_calendar_row(status),
        f"| escalations / reopens | {status.escalations} / {status.reopens} |",
        f"| place | {private(status.address) or '—'} |",
    ]
    if status.bound_unit:
        lines.append(f"| district ruling | {status.bound_unit} handles it |")
    if status.text:
        lines.append(f"| complaint | {private(status.text)[:200]} |")
    if status.call is not None:
        lines += _call_lines(status, private)
    lines += _incident_lines(status, private)
    if status.classification is not None:
        c = status.classification
        why = ", ".join(m.rule for m in c.matched[:6]) or c.reason
        lines.append(f"| why | {c.confidence:.2f}: {why} (rules {c.rules_version}) |")
        lines += _classification_lines(status, private)
    if status.split_from is not None:
        lines.append(f"| split from | {status.split_from} |")
    lines += ["", f"**History** {ZONE_MARK}", ""]
    lines += [_entry(entry, private) for entry in status.history[-_MAX_HISTORY:]]
    return "\n".join(lines)


def _entry(entry: HistoryEntry, private: Callable[[str | None], str]) -> str:
    who = f" by {entry.who}" if entry.who else ""
    detail = f": {private(entry.detail)}" if entry.detail else ""
    if entry.count > 1 and entry.last_at is not None:
        detail += f" (×{entry.count}, {_clock(entry.at)} – {_clock(entry.last_at)})"
    return f"- {_clock(entry.at)} `{entry.event}`{who}{detail}"


def _clock(at: datetime) -> str:
    return f"{at.astimezone(UTC8):%m-%d %H:%M:%S}"


def _classification_lines(status: TicketStatus, private: Callable[[str | None], str]) -> list[str]:
    """The top candidates the engine gave, and the caller's other problem and its fate."""
    c = status.classification
    assert c is not None
    lines = []
    if c.candidates:
        top = ", ".join(f"{x.scenario_id} {x.name_zh} {x.probability:.0%}" for x in c.candidates)
        lines.append(f"| candidates | {top} |")
    if c.secondary is not None:
        s = c.secondary
        fate = (
            f"split into **{status.split.new_ticket_id}** by {status.split.by}"
            if status.split is not None
            else "not split (dispatcher: split it into its own ticket)"
        )
        lines.append(
            f"| secondary | {s.scenario.id} {s.scenario.name_zh}: {private(s.text)[:80]} · {fate} |"
        )
    return lines


def calendar_warning(status: TicketStatus) -> str | None:
    """The sentence shown wherever the ticket's deadlines are, while they are unsure."""
    last = status.calendar_unconfirmed_after
    if last is None:
        return None
    return (
        f"calendar not confirmed after {last:%Y-%m-%d}: beyond it the deadline counts "
        "Monday to Friday only and may move once the State Council's schedule is listed"
    )


def stall_line(status: TicketStatus) -> str | None:
    """What a stalled ticket says wherever its status is shown."""
    if status.stalled_since is None:
        return None
    clock = status.stalled_clock.value if status.stalled_clock else "wait"
    told = f"; 督办 daily: {status.stall_supervisor}" if status.stall_supervisor else ""
    return f"STALLED since {shown(status.stalled_since)} ({clock} chain pressed its top){told}"


def _stall_row(status: TicketStatus) -> list[str]:
    line = stall_line(status)
    return [f"| stalled | ⚠ **{line}** |"] if line else []


def _calendar_row(status: TicketStatus) -> list[str]:
    warning = calendar_warning(status)
    return [f"| calendar | ⚠ **{warning}** |"] if warning else []


def _time(value: datetime | None) -> str:
    return shown(value) if value is not None else "—"


def _call_lines(status: TicketStatus, private: Callable[[str | None], str]) -> list[str]:
    call = status.call
    assert call is not None
    lines = [f"| kind | {call.kind.value} |"]
    if call.answer:
        lines.append(f"| answer | {private(call.answer)[:200]} |")
    if call.referral:
        lines.append(f"| referred to | {call.referral.body}: {call.referral.reference} |")
    if call.reply_deadline:
        lines.append(f"| reply by | {_time(call.reply_deadline)} |")
    if call.reply:
        lines.append(f"| reply | {private(call.reply)[:200]} |")
    if call.rating:
        lines.append(f"| rating | {call.rating.value} |")
    return lines


# How a ticket joined its incident at intake, as people read it (docs/incidents.md).
_JOINED = {
    LinkKind.REPEAT_CALL: "a repeat call",
    LinkKind.KNOWN_FROM_SENSORS: "already known from sensors",
}


def incident_line(part: TicketIncidents) -> str:
    """Its incidents, how it joined, and the ticket it waits on (or was linked to)."""
    how = _JOINED.get(part.link) if part.link else None
    line = ", ".join(part.incident_ids) + (f" ({how})" if how else "")
    if part.primary_ticket_id:
        line += f", {'waits on' if part.waiting_on_primary else 'primary'} {part.primary_ticket_id}"
    return line


def reported_too(status: TicketStatus) -> bool:
    """Whether the calls a ticket heard of are residents reporting what a sensor or camera
    found first (on an alarm or video ticket, or every call kept known from sensors),
    rather than citizens calling again about a citizen's report (a citizen 催办)."""
    part = status.incident
    if part is None:
        return False
    kinds = {call.kind for call in part.latest_calls}
    return status.source in SENSOR_SOURCES or kinds == {LinkKind.KNOWN_FROM_SENSORS}


def stepped_up(part: TicketIncidents) -> str:
    return f", stepped up from {part.stepped_up_from.value}" if part.stepped_up_from else ""


# In a details table (the Temporal UI renders the details as markdown): what would end a
# cell, open a link or an HTML tag, or start code.
_MARKDOWN_CELL = str.maketrans(
    {"|": "\\|", "`": "\\`", "[": "\\[", "]": "\\]", "<": "&lt;", ">": "&gt;"}
)


def one_line(text: str) -> str:
    """Untrusted text on one line, with no control character: for a terminal."""
    return LINE_BREAKS.sub(" ", text)


def markdown_cell(text: str) -> str:
    """Untrusted text as one cell of the details' markdown table."""
    return one_line(text).translate(_MARKDOWN_CELL)


def incident_rows(
    status: TicketStatus, said: Callable[[str], str], when: Callable[[datetime | None], str]
) -> list[tuple[str, str]]:
    """Its incident (docs/incidents.md), as (label, value) rows for the UI's details and
    `cityops status`: which, how it joined, the open ticket it waits on, the citizens who
    called again (or residents reporting what a sensor found first) with the step-up they
    caused, and the latest calls (`said` renders a caller's words for the channel)."""
    part = status.incident
    if part is None or not part.incident_ids:
        return []
    rows = [("incident", incident_line(part))]
    if part.repeat_calls:
        if reported_too(status):
            label = "residents"
            count = f"{part.repeat_calls} reporting it too, {_JOINED[LinkKind.KNOWN_FROM_SENSORS]}"
        else:
            label, count = "called again", f"{part.repeat_calls} time(s)"
        rows.append((label, count + stepped_up(part)))
        for call in part.latest_calls:
            words = f": {said(call.text)}" if call.text else ""
            who = call.caller_phone_masked or "—"
            rows.append(("", f"{when(call.at)} · {call.ticket_id} · {who}{words}"))
    return rows


def _incident_lines(status: TicketStatus, private: Callable[[str | None], str]) -> list[str]:
    rows = incident_rows(status, lambda text: private(text)[:80], _time)
    return [f"| {label} | {value} |" if label else f"| | {value} |" for label, value in rows]
