"""One problem, one incident: a citizen's complaint is linked at submission.

`plan_link` reads the register (pure rules decide, `domain/incidents.find_link`): a
complaint of the same scenario at the same place as an open report joins that report's
incident, as a repeat call or, when a sensor or camera reported it, as 'known from
sensors'; otherwise it opens an incident of its own. The plan is known before the
ticket starts, so the ticket carries its incident (`TicketIntake.incident`, the
`TicketIncident` search attribute) from its first moment. `record_link` writes it after
the start; both are idempotent, so a resubmitted hotline number changes nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import Engine

from cityops.db.incidents import (
    NewReport,
    incident_for,
    incident_of,
    join_incident,
    open_incident,
    open_reports,
    place_incident_id,
    primary_ticket,
)
from cityops.domain.incidents import LinkDecision, RepeatRule, Report, find_link
from cityops.domain.models import IncidentLink, TicketIntake
from cityops.domain.stages import LinkKind
from cityops.rules.incidents import IncidentRules, default_incident_rules


@dataclass(frozen=True)
class LinkPlan:
    """What submission will do with a complaint's incident."""

    link: IncidentLink
    report: NewReport
    rule: RepeatRule
    decision: LinkDecision | None  # None: it opens an incident of its own
    already_linked: bool = False  # a resubmission: the register has it already

    @property
    def is_repeat(self) -> bool:
        return self.link.primary_ticket_id is not None


def _report(intake: TicketIntake, scenario_id: str) -> NewReport:
    return NewReport(
        ticket_id=intake.ticket_id,
        scenario_id=scenario_id,
        source=intake.source,
        at=intake.received_at,
        lat=intake.lat,
        lon=intake.lon,
        address=intake.address,
    )


def plan_link(
    engine: Engine,
    intake: TicketIntake,
    scenario_id: str,
    rules: IncidentRules | None = None,
) -> LinkPlan:
    """Decide, reading only, which incident a complaint belongs to."""
    rule = (rules or default_incident_rules()).repeat_rule(scenario_id)
    report = _report(intake, scenario_id)
    existing = incident_of(engine, intake.ticket_id)
    if existing is not None:  # resubmitted: keep what the first submission decided
        kind = LinkKind(existing.role) if existing.role in set(LinkKind) else LinkKind.NEW
        return LinkPlan(
            IncidentLink(incident_id=existing.incident_id, kind=kind),
            report,
            rule,
            None,
            already_linked=True,
        )
    candidates = [
        other
        for other in open_reports(engine, scenario_id, intake.received_at, rule.max_age)
        if other.ticket_id != intake.ticket_id
    ]
    decision = find_link(
        Report(
            scenario_id=scenario_id,
            at=intake.received_at,
            lat=intake.lat,
            lon=intake.lon,
            address_key=report.address_key,
        ),
        candidates,
        rule,
    )
    if decision is None:
        link = IncidentLink(
            incident_id=place_incident_id(scenario_id, intake.ticket_id, intake.received_at),
            kind=LinkKind.NEW,
        )
    else:
        link = IncidentLink(
            incident_id=incident_for(decision),
            kind=decision.kind,
            primary_ticket_id=primary_ticket(engine, decision, intake.received_at),
        )
    return LinkPlan(link, report, rule, decision)


def record_link(engine: Engine, plan: LinkPlan) -> str:
    """Write the plan to the register (idempotent); the incident id."""
    if plan.already_linked:
        return plan.link.incident_id
    if plan.decision is None:
        return open_incident(engine, plan.report, plan.rule.max_age)
    incident_id, _ = join_incident(engine, plan.decision, plan.report, plan.rule.max_age)
    return incident_id


async def plan_link_async(engine: Engine, intake: TicketIntake, scenario_id: str) -> LinkPlan:
    return await asyncio.to_thread(plan_link, engine, intake, scenario_id)


async def record_link_async(engine: Engine, plan: LinkPlan) -> str:
    return await asyncio.to_thread(record_link, engine, plan)


def with_link(intake: TicketIntake, plan: LinkPlan) -> TicketIntake:
    return intake.model_copy(update={"incident": plan.link})
