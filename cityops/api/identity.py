"""Who acts, and what they may see: the key's person and scope applied to a request.

- The acting person is the key's person. A body's ``by`` / ``person_id`` is accepted for
  compatibility but must name that person; naming someone else needs a key with
  ``act_for``, and then both are recorded (``acted_by``: "P-X on behalf of P-Y").
- A key sees the tickets of its scope: the district all, a street its street's, a station
  its station's. Anything outside is answered as if it did not exist (404), so a key
  cannot probe other streets' ticket numbers. Where a ticket lies is read from the
  register's row of it (its latest route's street and station), not asked of the
  workflow, so a scope check costs no workflow query and a station's list pages in SQL.
- A sensor gateway never reads what a citizen said (text, phone, the call's facts).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from cityops.api.context import AppContext
from cityops.api.keys import Caller, Role, ScopeKind
from cityops.domain.models import TicketStatus
from cityops.register.read import station_workflows, ticket_place

M = TypeVar("M", bound=BaseModel)
ACTED_BY = "acted_by"
PERSON_FIELDS = ("person_id", "by")


@dataclass(frozen=True)
class Acting:
    """The person whose action it is, and who did it for them (None: they did it)."""

    person: str
    acted_by: str | None = None


def acting(caller: Caller, named: str | None, field: str = "by") -> Acting:
    """The acting person: the key's, or (act_for) the one the body names. 403 when the
    body names someone else without act_for, or when the key is bound to no person."""
    if caller.person is None and not caller.act_for:
        raise HTTPException(
            403,
            "this key is bound to no person, so it may not act on tickets: create one with "
            "`cityops apikey create --person …`",
        )
    if named is None or named == caller.person:
        if caller.person is None:  # a system key that acts only for others
            raise HTTPException(422, f"{field}: name the person this key acts for")
        return Acting(caller.person)
    if not caller.act_for:
        raise HTTPException(
            403,
            f"{field}: {named!r} is not this key's person ({caller.person}); acting for "
            "someone else needs a key with act_for",
        )
    return Acting(named, caller.who)


def named_person(
    description: str = "Your person id (the key's; optional). Another person's only with a "
    "key that may act for others: both are recorded",
) -> Any:
    """The body field that names the acting person: optional, the key's person if left out."""
    return Field(default=None, min_length=1, max_length=64, description=description)


def person_field(model: type[BaseModel]) -> str | None:
    """The field of an action's message that names the acting person, if it has one."""
    return next((name for name in PERSON_FIELDS if name in model.model_fields), None)


def body_model(model: type[BaseModel], person: str | None = None) -> type[BaseModel]:
    """The request body of an action: the message without `acted_by` (the server sets
    it) and with the person field (`person`, else person_id or by) optional: the key's
    person when left out."""
    person = person or person_field(model)
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name == ACTED_BY:
            continue
        if name == person:
            fields[name] = (str | None, named_person())
        else:
            fields[name] = (info.annotation, info)
    config = ConfigDict(frozen=True, extra="forbid")
    built: type[BaseModel] = create_model(
        f"{model.__name__}Body", __config__=config, __doc__=model.__doc__, **fields
    )
    return built


def message_from(body: BaseModel, model: type[M], caller: Caller, person: str | None = None) -> M:
    """The workflow's message for a request body: the acting person (in `person`, else
    person_id or by) and acted_by filled in from the key. A message-level check failing
    is a 422 like the body's own."""
    values = body.model_dump()
    name = person or person_field(model)
    if name is not None:
        who = acting(caller, values.get(name), name)
        values[name] = who.person
        if ACTED_BY in model.model_fields:
            values[ACTED_BY] = who.acted_by
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from exc


# --------------------------------------------------------------------------- scope


def in_scope(caller: Caller, status: TicketStatus) -> bool:
    return caller.scope.covers(status.street_code, status.station_code)


def not_found(ticket_id: str) -> HTTPException:
    return HTTPException(404, f"no ticket {ticket_id}")


async def scoped_status(context: AppContext, caller: Caller, ticket_id: str) -> None:
    """404 unless the ticket lies in the caller's scope (a district key is not asked).
    Read from the register's row of the ticket (its latest route's street and station,
    written by the workflow with every history entry), not by a workflow query: the
    action that follows asks the workflow once. A ticket the register does not know
    yet (still at intake) is the district's only, as a ticket with no street is."""
    if caller.scope.kind is ScopeKind.DISTRICT:
        return
    place = await asyncio.to_thread(ticket_place, context.engine, ticket_id)
    if place is None or not caller.scope.covers(*place):
        raise not_found(ticket_id)


def shown_to(caller: Caller, status: TicketStatus) -> TicketStatus:
    """The status as this caller may read it: a sensor gateway gets no citizen's words
    (the text, the phone, the call, the reasons people gave, repeat calls' words)."""
    if caller.role is not Role.SENSOR_GATEWAY:
        return status
    classification = status.classification
    if classification is not None and classification.secondary is not None:
        secondary = classification.secondary.model_copy(update={"text": ""})
        classification = classification.model_copy(update={"secondary": secondary})
    incident = status.incident
    if incident is not None and incident.latest_calls:
        calls = [
            call.model_copy(update={"text": None, "caller_phone_masked": None})
            for call in incident.latest_calls
        ]
        incident = incident.model_copy(update={"latest_calls": calls})
    return status.model_copy(
        update={
            "incident": incident,
            "text": None,
            "caller_phone_masked": None,
            "call": None,
            "classification": classification,
            "pending_extension": None,
            "pending_reconsideration": None,
            "history": [entry.model_copy(update={"detail": ""}) for entry in status.history],
        }
    )


def street_filter(caller: Caller, asked: str | None) -> str | None:
    """The street a list is limited to: the asked one, within the caller's scope. Asking
    for a street outside it is 403 (the key's scope is named, nothing else)."""
    own = caller.scope.street
    if own is None:
        return asked
    if asked is not None and asked != own:
        raise HTTPException(403, f"street: this key sees {caller.scope} only")
    return own


async def station_workflows_of(
    context: AppContext,
    caller: Caller,
    *,
    stage: str | None,
    scenario: str | None,
    source: str | None,
    limit: int,
) -> list[str]:
    """The workflow ids a station key's list shows, newest first: the register's tickets
    of its station, filtered and limited in SQL (so a page holds `limit` of them)."""
    assert caller.scope.kind is ScopeKind.STATION and caller.scope.code is not None
    return await asyncio.to_thread(
        station_workflows,
        context.engine,
        caller.scope.code,
        stage=stage,
        scenario=scenario,
        source=source,
        limit=limit,
    )
