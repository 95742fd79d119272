"""A call as the hotline agent submits it, over HTTP (`POST /api/v1/tickets`) or by
`cityops submit`: one model, so both refuse the same input the same way (a blank text,
a field over its length limit, another kind's field), naming the field."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cityops.domain.calls import CODE, CallIntake, CallLink
from cityops.domain.limits import (
    SCENARIO,
    SCENARIO_ID,
    TEXT,
    UNIT_CODE,
    Address,
    Name,
    PersonId,
    Phone,
    Reason,
    TicketId,
)
from cityops.domain.models import Referral, TicketIntake
from cityops.domain.stages import CallKind, Source

# What the caller said: required, and more than blanks.
CallerText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1), TEXT]


class SubmitTicket(BaseModel):
    """A complaint from the hotline, a grid inspector or opinion monitoring."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: CallerText = Field(description="What the caller said")
    address: Address | None = None
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    lon: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    caller_name: Name | None = None
    caller_phone: Phone | None = None
    source: Literal[Source.HOTLINE, Source.GRID, Source.OPINION] = Source.HOTLINE
    hotline_id: TicketId | None = Field(default=None, description="The hotline's own number")
    service_code: Annotated[str, StringConstraints(pattern=SCENARIO), SCENARIO_ID] | None = Field(
        default=None, description="A scenario id, if known"
    )
    kind: CallKind = Field(
        default=CallKind.COMPLAINT,
        description="complaint: a work order; consultation, referral, suggestion: a call "
        "the hotline closes itself (answered / referred / recorded)",
    )
    answer: Reason | None = Field(default=None, description="consultation: the answer given")
    referral: Referral | None = Field(
        default=None, description="referral: the outside body and the reference given"
    )
    link: CallLink | None = None
    department: Annotated[str, StringConstraints(pattern=CODE), UNIT_CODE] | None = Field(
        default=None, description="suggestion: the unit whose inbox it goes to"
    )
    agent: PersonId | None = Field(
        default=None,
        description="Who took the call: the key's person when left out; another only with "
        "a key that may act for others",
    )

    @model_validator(mode="after")
    def _kind_has_its_fields(self) -> SubmitTicket:
        kind = self.kind
        needs = {CallKind.CONSULTATION: "answer", CallKind.REFERRAL: "referral"}
        for needed_by, name in needs.items():
            given = getattr(self, name) is not None
            if kind is needed_by and not given:
                raise ValueError(f"{name}: required for a {kind.value}")
            if kind is not needed_by and given:
                raise ValueError(f"{name}: only for a {needed_by.value}, not a {kind.value}")
        if self.department is not None and kind is not CallKind.SUGGESTION:
            raise ValueError(f"department: only for a suggestion, not a {kind.value}")
        if self.link is not None and kind is CallKind.COMPLAINT:
            raise ValueError("link: not for a complaint")
        if self.service_code is not None and kind is not CallKind.COMPLAINT:
            raise ValueError(f"service_code: only for a complaint, not a {kind.value}")
        return self

    def details(self) -> dict[str, Any]:
        """The fields of the call's kind, for CallIntake.details."""
        return self.model_dump(
            include={"kind", "answer", "referral", "link", "department"}, exclude_none=True
        )

    def intake(self, ticket_id: str, received_at: datetime) -> TicketIntake:
        return TicketIntake(
            ticket_id=ticket_id,
            source=self.source,
            text=self.text,
            address=self.address,
            lat=self.lat,
            lon=self.lon,
            caller_name=self.caller_name,
            caller_phone=self.caller_phone,
            received_at=received_at,
            external_id=self.hotline_id,
            service_code=self.service_code,
        )

    def call(self, intake: TicketIntake, agent: str | None) -> CallIntake:
        """A call that is no work order: its intake, its kind's fields and who took it."""
        return CallIntake.model_validate(
            {"intake": intake, "details": self.details(), "agent": agent}
        )


class KindQuestion(BaseModel):
    """What the caller said, for the kind the rules suggest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: CallerText = Field(description="What the caller said")
