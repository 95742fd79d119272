"""IncidentLinks: a ticket's part in its incidents. Pure state, no Temporal.

A ticket may belong to incidents from its start (a citizen's report linked at intake) or
join one later (an alarm ticket the intake grouped into a storm after it started, or one
a citizen reported: `IncidentJoined`). An open ticket hears of citizens who call again
about it (`RepeatCall`): it keeps the count, the latest few calls (masked phone, the start
of the text) and every caller's ticket, so its closure closes them too. A repeat caller's
own ticket waits on its primary and closes with the primary's outcome (`PrimaryClosed`).

Bounded on purpose: the latest `KEPT` calls and their first 200 characters; the callers'
tickets are kept whole (a workflow id each) because each must be told of the closure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cityops.domain.incidents import (
    REPEAT_TEXT_KEPT,
    IncidentJoined,
    PrimaryClosed,
    RepeatCall,
)
from cityops.domain.masking import mask_phone
from cityops.domain.models import RepeatCallEntry, TicketIncidents, TicketIntake
from cityops.domain.stages import LinkKind, Priority

KEPT = 5  # the latest repeat calls a ticket shows
# The link kinds whose ticket waits on its primary rather than being dispatched itself.
WAITS_ON_PRIMARY = (LinkKind.REPEAT_CALL, LinkKind.KNOWN_FROM_SENSORS)


@dataclass
class Caller:
    """A repeat caller's ticket, told when this one closes."""

    ticket_id: str
    workflow_id: str
    run_id: str | None
    told: bool = False


@dataclass
class IncidentLinks:
    incident_ids: list[str] = field(default_factory=list)
    link: LinkKind | None = None
    primary_ticket_id: str | None = None
    unpublished: bool = False  # an incident came after the start: TicketIncident to upsert
    waiting_on_primary: bool = False
    primary_outcome: PrimaryClosed | None = None
    calls: int = 0
    latest: list[RepeatCallEntry] = field(default_factory=list)
    callers: dict[str, Caller] = field(default_factory=dict)
    stepped_up_from: Priority | None = None
    priority: Priority | None = None  # the stepped-up priority, once a call stepped it up

    @classmethod
    def of(cls, intake: TicketIntake) -> IncidentLinks:
        link = intake.incident
        if link is None:
            return cls()
        return cls(
            incident_ids=[link.incident_id],
            link=link.kind,
            primary_ticket_id=link.primary_ticket_id,
        )

    # ------------------------------------------------------------------ incidents

    def join(self, joined: IncidentJoined) -> bool:
        """Another incident for this ticket; False when it already had it."""
        if joined.incident_id in self.incident_ids:
            return False
        self.incident_ids.append(joined.incident_id)
        self.unpublished = True
        return True

    def group_key(self) -> str | None:
        """What its follow-up notices are grouped by: the first incident it joined (the same
        key the dispatch plan gives a ticket linked at intake), so every ticket of one
        incident groups with the others, whichever way it was linked."""
        return f"incident:{self.incident_ids[0]}" if self.incident_ids else None

    # ------------------------------------------------------------------ the repeat caller's side

    def waits_on_primary(self, intake: TicketIntake) -> bool:
        """A repeat call whose primary was found at submission: it waits on that ticket."""
        link = intake.incident
        return (
            link is not None
            and link.kind in WAITS_ON_PRIMARY
            and link.primary_ticket_id is not None
            and link.primary_ticket_id != intake.ticket_id
            and link.primary_workflow_id is not None
        )

    @staticmethod
    def call_of(
        intake: TicketIntake, workflow_id: str, run_id: str | None, at: datetime
    ) -> RepeatCall:
        """What this ticket tells its primary: its number, where it is, the caller's masked
        phone and the start of the text."""
        link = intake.incident
        assert link is not None
        return RepeatCall(
            ticket_id=intake.ticket_id,
            incident_id=link.incident_id,
            kind=link.kind,
            at=at,
            workflow_id=workflow_id,
            run_id=run_id,
            caller_phone_masked=mask_phone(intake.caller_phone),
            text=_cut(intake.text),
        )

    def closed_with(self, outcome: PrimaryClosed) -> None:
        if self.primary_outcome is None:
            self.primary_outcome = outcome

    # ------------------------------------------------------------------ the primary's side

    def take_call(self, call: RepeatCall) -> bool:
        """Record a repeat call; False for one already taken (a signal sent again)."""
        if call.ticket_id in self.callers:
            return False
        self.callers[call.ticket_id] = Caller(call.ticket_id, call.workflow_id, call.run_id)
        self.calls += 1
        self.latest = [
            *self.latest,
            RepeatCallEntry(
                ticket_id=call.ticket_id,
                at=call.at,
                kind=call.kind,
                caller_phone_masked=call.caller_phone_masked,
                text=_cut(call.text),
            ),
        ][-KEPT:]
        if call.incident_id not in self.incident_ids:
            self.incident_ids.append(call.incident_id)  # opened around this ticket just now
            self.unpublished = True
        return True

    def step_up(self, current: Priority, to: Priority) -> None:
        if self.stepped_up_from is None:
            self.stepped_up_from = current
        self.priority = to

    def untold(self) -> list[Caller]:
        """The callers' tickets not yet told of this one's closure; marks them told."""
        callers = [caller for caller in self.callers.values() if not caller.told]
        for caller in callers:
            caller.told = True
        return callers

    # ------------------------------------------------------------------ showing

    def summary(self) -> TicketIncidents | None:
        if not self.incident_ids and not self.calls:
            return None
        return TicketIncidents(
            incident_ids=list(self.incident_ids),
            link=self.link,
            primary_ticket_id=self.primary_ticket_id,
            waiting_on_primary=self.waiting_on_primary and self.primary_outcome is None,
            repeat_calls=self.calls,
            latest_calls=list(self.latest),
            stepped_up_from=self.stepped_up_from,
        )

    def call_note(self, call: RepeatCall) -> str:
        """The 催办 text the assignee reads: the count, the caller, the start of the words."""
        who = call.caller_phone_masked or "市民"
        said = f"：{call.text}" if call.text else ""
        kind = "再次来电" if call.kind is LinkKind.REPEAT_CALL else "来电反映（传感器已报警）"
        return f"第{self.calls}位市民{kind}（工单 {call.ticket_id}，{who}）{said}"


def _cut(text: str | None) -> str | None:
    if not text:
        return None
    return text if len(text) <= REPEAT_TEXT_KEPT else text[: REPEAT_TEXT_KEPT - 1] + "…"
