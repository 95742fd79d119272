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

from cityops.domain.models import (
    Classification,
    DeadlinesRequest,
    DeadlinesResult,
    DispatchPlan,
    PlanRequest,
    RoutePlan,
    ScenarioRef,
    TicketIntake,
)
from cityops.rules.calendar import (
    RED_AT,
    WorkingHours,
    add_working_time,
    instant_at_fraction,
    working_time_between,
)
from cityops.rules.calendar_coverage import unconfirmed_after
from cityops.rules.calendar_loader import project_working_hours
from cityops.rules.classify import classify
from cityops.rules.handling import HandlingRules, default_handling_rules
from cityops.rules.load import RulesError, RuleSet, default_rules


class Router(Protocol):
    """Turns a classified ticket into a route; org.routing provides the real one."""

    def route(self, scenario: ScenarioRef, intake: TicketIntake) -> RoutePlan: ...


class DispatchActivities:
    """Async on purpose: each is pure CPU work of well under a millisecond on in-memory
    rules and organisation, cheaper on the event loop than a thread hop."""

    def __init__(
        self,
        router: Router,
        rules: RuleSet | None = None,
        handling: HandlingRules | None = None,
        hours: WorkingHours | None = None,
    ) -> None:
        self._router = router
        self._hours = hours or project_working_hours()
        self._rules = rules or default_rules()
        self._handling = handling or default_handling_rules()

    def activities(self) -> list[Callable[..., Any]]:
        """All three, for a worker's activity list."""
        return [self.classify_ticket, self.plan_dispatch, self.compute_deadlines]

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
            recovery_patience=self._handling.closure.recovery_patience,
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
