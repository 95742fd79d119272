"""The one planning step of a call that is no work order: read the policy, let the rules
suggest a kind, and for a suggestion find the inbox that owes the reply. A local
activity, like plan_dispatch, so its result is a snapshot in the call's history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from temporalio import activity

from cityops.domain.calls import CallPlan, CallPlanRequest
from cityops.domain.models import RoutePlan, TicketIntake
from cityops.domain.stages import CallKind
from cityops.rules.calls import CallRules, default_call_rules
from cityops.rules.classify import classify
from cityops.rules.load import RuleSet, default_rules


class InboxRouter(Protocol):
    """Finds the owner of a suggestion's reply; org.routing.OrgRouter is the real one."""

    def inbox(self, unit_code: str | None, intake: TicketIntake, at: datetime) -> RoutePlan: ...


class CallActivities:
    def __init__(
        self,
        router: InboxRouter,
        rules: RuleSet | None = None,
        calls: CallRules | None = None,
    ) -> None:
        self._router = router
        self._rules = rules or default_rules()
        self._calls = calls or default_call_rules()

    def activities(self) -> list[Callable[..., Any]]:
        return [self.plan_call]

    @activity.defn(name="plan_call")
    async def plan_call(self, request: CallPlanRequest) -> CallPlan:
        intake = request.call.intake
        classification = classify(intake, self._rules)
        suggested = self._calls.suggest(classification, intake.text)
        inbox = None
        details = request.call.details
        if details.kind is CallKind.SUGGESTION:
            unit = details.department
            if unit is None and classification.scenario is not None:
                unit = classification.scenario.lead_department
            inbox = self._router.inbox(unit, intake, request.at)
        return CallPlan(policy=self._calls.policy, suggested=suggested, inbox=inbox)
