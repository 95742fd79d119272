"""The fast, deterministic-in-spirit steps a ticket takes before anyone is told:
classify, plan the dispatch, compute deadlines. Run as local activities, so they
cost no server round trip, and their results are recorded in history: a rule
edited later never changes a ticket already in flight.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from temporalio import activity
from temporalio.exceptions import ApplicationError

from cityops.domain.incidents import StepUp, StepUpRequest, stepped_priority
from cityops.domain.models import (
    Assignment,
    Classification,
    DeadlinesRequest,
    DeadlinesResult,
    DispatchPlan,
    DistrictSupervisor,
    NewTicketPlan,
    NewTicketRequest,
    NextWorkingDayRequest,
    PlanRequest,
    RoutePlan,
    ScenarioRef,
    SupervisorRequest,
    TicketIntake,
    TriagePlan,
    TriageRequest,
    WaitBudget,
)
from cityops.domain.stages import Clock
from cityops.rules.calendar import (
    RED_AT,
    YELLOW_AT,
    WorkingHours,
    add_working_time,
    instant_at_fraction,
    is_working_day,
    working_time_between,
)
from cityops.rules.calendar_coverage import unconfirmed_after
from cityops.rules.calendar_loader import project_working_hours
from cityops.rules.classify import classify
from cityops.rules.handling import HandlingRules, default_handling_rules
from cityops.rules.incidents import IncidentRules, default_incident_rules
from cityops.rules.load import RulesError, RuleSet, default_rules
from cityops.rules.schema import Grouping


class Router(Protocol):
    """Turns a classified ticket into a route; org.routing provides the real one."""

    def route(self, scenario: ScenarioRef, intake: TicketIntake) -> RoutePlan: ...

    def triage(self, intake: TicketIntake, at: datetime) -> RoutePlan:
        """Who triages an unclassified ticket at `at`: the district center's dispatcher on
        duty, with the center's duty leader and director above."""
        ...

    def district_supervisor(self, at: datetime) -> Assignment:
        """The district center's duty supervisor (督办) at `at`."""
        ...


class DispatchActivities:
    """Async on purpose: each is pure CPU work of well under a millisecond on in-memory
    rules and organisation, cheaper on the event loop than a thread hop."""

    def __init__(
        self,
        router: Router,
        rules: RuleSet | None = None,
        handling: HandlingRules | None = None,
        hours: WorkingHours | None = None,
        incidents: IncidentRules | None = None,
    ) -> None:
        self._router = router
        self._incidents = incidents or default_incident_rules()
        self._hours = hours or project_working_hours()
        self._rules = rules or default_rules()
        self._handling = handling or default_handling_rules()

    def activities(self) -> list[Callable[..., Any]]:
        """All of them, for a worker's activity list."""
        return [
            self.classify_ticket,
            self.plan_new_ticket,
            self.plan_dispatch,
            self.compute_deadlines,
            self.plan_triage,
            self.next_working_day_budget,
            self.plan_step_up,
            self.district_supervisor,
        ]

    @activity.defn(name="classify_ticket")
    async def classify_ticket(self, intake: TicketIntake) -> Classification:
        return classify(intake, self._rules)

    @activity.defn(name="plan_dispatch")
    async def plan_dispatch(self, request: PlanRequest) -> DispatchPlan:
        scenario = request.classification.scenario
        if scenario is None:
            raise ApplicationError(
                "cannot dispatch an unclassified ticket", type="Unclassified", non_retryable=True
            )
        try:
            settings = self._rules.settings(scenario.id)
        except RulesError as exc:
            raise ApplicationError(str(exc), type="UnknownScenario", non_retryable=True) from exc
        route = self._router.route(scenario, request.intake)
        return DispatchPlan(
            classification=request.classification,
            scenario=scenario,
            route=route,
            sla=self._handling.sla_for(
                scenario.priority,
                accept_within=settings.accept_within,
                resolve_within=settings.resolve_within,
                first_contact_within=settings.first_contact_within,
            ),
            escalation=self._handling.chain(settings.escalation_chain),
            recovery_hold=settings.recovery_hold,
            photo_radius_m=self._handling.closure.photo_radius_m,
            pause_within=self._handling.pause.within,
            pause_longest=self._handling.pause.longest,
            recovery_patience=self._handling.closure.recovery_patience,
            on_recovery=settings.on_recovery,
            verify_waits=self._handling.verify_waits(settings.verify_within),
            incident_key=incident_key(scenario.id, settings.grouping, request.intake, route),
            notice_group_window=self._handling.notices.group_window,
        )

    @activity.defn(name="plan_new_ticket")
    async def plan_new_ticket(self, request: NewTicketRequest) -> NewTicketPlan:
        """classify_ticket, plan_dispatch and the accept clock's compute_deadlines in one
        local activity: a new ticket reaches its first notice with one, not three. The
        accept clock's instants cover its deadline and every point its chain names (the
        yellow and red marks, each step's firings); the workflow uses those it needs."""
        classification = await self.classify_ticket(request.intake)
        if classification.needs_triage:
            return NewTicketPlan(classification=classification)
        plan = await self.plan_dispatch(
            PlanRequest(intake=request.intake, classification=classification, at=request.at)
        )
        fractions = [RED_AT, YELLOW_AT]
        for step in plan.escalation.for_clock(Clock.ACCEPT):
            fractions.extend(f for f in step.fire_points() if f not in fractions)
        accept = DeadlinesRequest(
            start=request.accept_start,
            budget=plan.sla.accept_within,
            fractions=fractions,
            working_time=plan.sla.working_time,
        )
        return NewTicketPlan(
            classification=classification,
            plan=plan,
            accept=accept,
            accept_instants=await self.compute_deadlines(accept),
        )

    @activity.defn(name="plan_triage")
    async def plan_triage(self, request: TriageRequest) -> TriagePlan:
        triage = self._handling.triage
        return TriagePlan(
            route=self._router.triage(request.intake, request.at),
            within=triage.within,
            working_time=triage.working_time,
            escalation=self._handling.chain(triage.chain),
        )

    @activity.defn(name="plan_step_up")
    async def plan_step_up(self, request: StepUpRequest) -> StepUp:
        """A repeat call about an open ticket: the priority its scenario's rule steps it up
        to at this count (rules/incidents.yaml `step_up_after`) and that priority's SLA."""
        rule = self._incidents.repeat_rule(request.scenario_id)
        stepped = stepped_priority(request.priority, request.repeat_calls, rule)
        if stepped is None:
            return StepUp()
        return StepUp(priority=stepped, sla=self._handling.sla_for(stepped))

    @activity.defn(name="district_supervisor")
    async def district_supervisor(self, request: SupervisorRequest) -> DistrictSupervisor:
        """Who supervises (督办) for the district center at the instant, and how often a
        stalled ticket is supervised again (sla.yaml `stalled`)."""
        return DistrictSupervisor(
            person=self._router.district_supervisor(request.at),
            supervise_every=self._handling.stalled.supervise_every,
        )

    @activity.defn(name="next_working_day_budget")
    async def next_working_day_budget(self, request: NextWorkingDayRequest) -> WaitBudget:
        """The 12345 callback rule: due by the end of the next working day."""
        deadline = end_of_next_working_day(request.start, self._hours)
        return WaitBudget(
            budget=working_time_between(request.start, deadline, self._hours), deadline=deadline
        )

    @activity.defn(name="compute_deadlines")
    async def compute_deadlines(self, request: DeadlinesRequest) -> DeadlinesResult:
        """The instants, and whether the deadline lies where the calendar is unconfirmed
        (the ticket's details then say so): computed here, with the holiday table the
        instants were computed with, and recorded in history with them."""
        instants = self._instants(request)
        unconfirmed = None
        if request.working_time and RED_AT in request.fractions:
            deadline = instants[request.fractions.index(RED_AT)]
            unconfirmed = unconfirmed_after(deadline, self._hours)
        return DeadlinesResult(instants=instants, unconfirmed_after=unconfirmed)

    def _instants(self, request: DeadlinesRequest) -> list[datetime]:
        instants = [
            instant_at_fraction(request.start, request.budget, f, request.working_time, self._hours)
            for f in request.fractions
        ]
        if not request.pauses:
            return instants
        if not request.working_time:
            paused = sum((p.end - p.start for p in request.pauses), timedelta())
            return [i + paused for i in instants]
        paused = sum(
            (working_time_between(p.start, p.end, self._hours) for p in request.pauses),
            timedelta(),
        )
        return [add_working_time(i, paused, self._hours) for i in instants]


def end_of_next_working_day(start: datetime, hours: WorkingHours) -> datetime:
    """The end of the last working period of the first working day after start's day."""
    day = start.astimezone(hours.zone).date() + timedelta(days=1)
    while not is_working_day(day, hours):
        day += timedelta(days=1)
    last = max(period.end for period in hours.periods)
    return datetime.combine(day, last, tzinfo=hours.zone).astimezone(start.tzinfo)


def incident_key(
    scenario_id: str, grouping: Grouping | None, intake: TicketIntake, route: RoutePlan
) -> str | None:
    """The incident a ticket's follow-up notices are grouped by: the one the intake linked
    it to (a repeat call, a report of what a sensor saw), else for an alarm the scenario's
    grouping (the key the intake links alarm incidents by: device, site, street or
    station). None: the ticket stands alone."""
    if intake.incident is not None:
        return f"incident:{intake.incident.incident_id}"
    alarm = intake.alarm
    if grouping is None or alarm is None:
        return None
    value = {
        "device": alarm.device_id,
        "site": alarm.site or alarm.device_id,
        "street": route.street_code,
        "station": route.station_code,
    }[grouping.by]
    return f"{scenario_id}/{grouping.by}:{value}" if value else None
