"""Messages of a hotline call that is no work order (CallWorkflow, workflows/call.py).

A call's kind is recorded by the hotline agent at submission. A complaint is a work
order (TicketWorkflow); the other three kinds are this module's: a consultation answered
on the spot, a referral to a named outside body, a suggestion or praise for a
department's inbox. Each kind carries its own details, a discriminated union on `kind`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from cityops.domain.limits import LINK as LINK_LIMIT
from cityops.domain.limits import SCENARIO, SCENARIO_ID, UNIT_CODE, Note, PersonId, Reason
from cityops.domain.models import (
    Acted,
    CallFacts,
    Candidate,
    HistoryEntry,
    Message,
    Referral,
    RoutePlan,
    TicketIntake,
)
from cityops.domain.stages import CallbackResult, CallKind, Stage, StepKind

LINK = r"^https?://\S{1,490}$"
CODE = r"^[A-Za-z0-9_-]{1,32}$"
CallLink = Annotated[str, StringConstraints(pattern=LINK), LINK_LIMIT]


class Consultation(Message):
    """A question answered on the spot: the answer given, and a link if one was read out."""

    kind: Literal[CallKind.CONSULTATION] = CallKind.CONSULTATION
    answer: Reason
    link: CallLink | None = None


class ReferralCall(Message):
    """A matter for a named outside body (a utility, a court, the consumer association,
    another city's hotline): the caller was given its reference."""

    kind: Literal[CallKind.REFERRAL] = CallKind.REFERRAL
    referral: Referral
    link: CallLink | None = None


class Suggestion(Message):
    """A suggestion or praise for a department, which owes the caller a reply. The agent
    may name the department (a unit code); otherwise the rules' reading of the text
    decides, and the district center when they cannot."""

    kind: Literal[CallKind.SUGGESTION] = CallKind.SUGGESTION
    department: Annotated[str, StringConstraints(pattern=CODE), UNIT_CODE] | None = None
    link: CallLink | None = None


CallDetails = Annotated[Consultation | ReferralCall | Suggestion, Field(discriminator="kind")]


class CallIntake(Message):
    """The CallWorkflow's input: the call as any ticket's intake, and what its kind adds."""

    intake: TicketIntake
    details: CallDetails
    agent: PersonId | None = Field(default=None, description="Who took the call")

    @model_validator(mode="after")
    def _suggestion_has_words(self) -> CallIntake:
        if self.details.kind is CallKind.SUGGESTION and not self.intake.text:
            raise ValueError("text: a suggestion needs the caller's words")
        return self

    @property
    def kind(self) -> CallKind:
        return self.details.kind


# --------------------------------------------------------------------------- plan


class ReplyStep(Message):
    """One step of a suggestion's reply chain, at a fraction of the reply budget (0.8 is
    80% used, 1.0 the deadline), like a ticket's escalation steps."""

    kind: StepKind
    at: float = Field(ge=0.0, le=10.0)
    repeat: int = Field(default=0, ge=0, le=10)
    every: float = Field(default=1.0, gt=0.0, le=10.0)

    def fire_points(self) -> list[float]:
        return [self.at + i * self.every for i in range(self.repeat + 1)]


class CallPolicy(Message):
    """rules/calls.yaml: how long a call stays open and how a suggestion's reply is chased."""

    open_for: timedelta = Field(
        description="consultation/referral: how long it may still be rated or converted"
    )
    reply_within: timedelta = Field(description="suggestion: the department's reply budget")
    working_time: bool = Field(description="reply_within counts CN working time")
    reply_chain: list[ReplyStep] = Field(min_length=1)

    def reply_points(self) -> list[tuple[float, StepKind]]:
        """Every step's fire points in order; the deadline (1.0) is always one of them."""
        points = sorted(
            {(at, step.kind) for step in self.reply_chain for at in step.fire_points()},
            key=lambda point: (point[0], _STEP_ORDER[point[1]]),
        )
        if not any(at == 1.0 for at, _ in points):
            points.append((1.0, StepKind.SUPERVISE))
            points.sort(key=lambda point: (point[0], _STEP_ORDER[point[1]]))
        return points


_STEP_ORDER = {StepKind.REMIND: 0, StepKind.URGE: 1, StepKind.ESCALATE: 2, StepKind.SUPERVISE: 3}


class KindSuggestion(Message):
    """What the rules make of a call's words; the agent decides."""

    kind: CallKind
    reason: str
    scenario_id: str | None = None


class KindAdvice(KindSuggestion):
    """What the agent at the phone is shown before submitting: the kind the rules
    suggest and the three likeliest scenarios with their probability, one of which the
    agent may pick as the service code (issue 18). Not snapshotted in a call's plan."""

    candidates: list[Candidate] = Field(default_factory=list)


class CallPlanRequest(Message):
    call: CallIntake
    at: AwareDatetime


class CallPlan(Message):
    """Snapshotted at intake by the `plan_call` local activity: a rule or roster edited
    later never changes a call in flight."""

    policy: CallPolicy
    suggested: KindSuggestion
    inbox: RoutePlan | None = Field(default=None, description="suggestion: owner and way up")


# --------------------------------------------------------------------------- updates


class RateInput(Acted):
    """Update: the caller's one-question rating of a consultation, at the end of the call."""

    result: CallbackResult
    by: PersonId
    note: Note = ""


class ReplyInput(Acted):
    """Update: the department's reply to a suggestion."""

    by: PersonId
    reply: Reason


class ConvertInput(Acted):
    """Update: a consultation or referral turns out to need action: it becomes a work
    order with the same number. A scenario id, when the agent knows it, skips the rules."""

    by: PersonId
    reason: Reason
    scenario_id: Annotated[str, StringConstraints(pattern=SCENARIO), SCENARIO_ID] | None = None


# --------------------------------------------------------------------------- results


class Conversion(Message):
    """Carried into the work order's run (memo `conversion`): what the call was and its
    history, so the ticket's status shows one history under one number."""

    kind: CallKind
    by: str
    reason: str
    at: datetime
    call_run_id: str
    facts: CallFacts
    history: list[HistoryEntry]


CONVERSION_MEMO = "conversion"


class CallOutcome(Message):
    ticket_id: str
    kind: CallKind
    stage: Stage
    at: datetime
