"""Incidents (one problem, every report of it) and maintenance windows over HTTP.

``GET /api/v1/incidents[/{id}]``: alarm storms and citizens' reports alike
(docs/incidents.md). ``/api/v1/silences``: planned works that keep alarms from opening
tickets; a window naming gas or fire needs a supervisor's key and ``override_by``.

A window is made and ended in the name of the key's person (``created_by``, ``override_by``
and ``by`` may be left out; given, they must name that person). A street or station key
sees the incidents of its street.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query

from cityops.api.auth import require
from cityops.api.context import AppContext, get_context
from cityops.api.identity import body_model, message_from, street_filter
from cityops.api.keys import Caller, Role
from cityops.api.openapi_docs import responses
from cityops.db.incidents import incident_view, list_incident_views
from cityops.db.silences import add_silence, end_silence, get_silence, list_silences
from cityops.domain.incidents import Incident
from cityops.domain.silences import Silence, SilenceSpec, protected_refusal
from cityops.rules.incidents import default_incident_rules

router = APIRouter(prefix="/api/v1", tags=["incidents"])
Context = Annotated[AppContext, Depends(get_context)]
AnyRole = Annotated[Caller, Depends(require(*Role))]
Planner = Annotated[Caller, Depends(require(Role.RESPONDER))]  # and supervisors
ID = r"^[A-Z0-9]{4,64}$"
SilenceBody = body_model(SilenceSpec, "created_by")
IncidentId = Annotated[str, Path(min_length=1, max_length=64)]
SilenceId = Annotated[str, Path(min_length=1, max_length=32)]


@router.get("/incidents", response_model=list[Incident], responses=responses(401, 403, 422))
async def get_incidents(
    context: Context,
    caller: AnyRole,
    street: Annotated[str | None, Query(max_length=8, description="e.g. T01")] = None,
    scenario: Annotated[str | None, Query(max_length=8, pattern=r"^[A-Z]{2}\d{2}$")] = None,
    open_only: Annotated[bool, Query(alias="open")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[Incident]:
    return list_incident_views(
        context.engine,
        datetime.now(UTC),
        street_code=street_filter(caller, street),
        scenario_id=scenario,
        open_only=open_only,
        limit=limit,
    )


@router.get(
    "/incidents/{incident_id}", response_model=Incident, responses=responses(401, 403, 404, 422)
)
async def get_incident(incident_id: IncidentId, context: Context, caller: AnyRole) -> Incident:
    found = incident_view(context.engine, incident_id, datetime.now(UTC))
    own = caller.scope.street
    if found is None or (own is not None and found.street_code != own):
        raise HTTPException(404, f"no incident {incident_id}")
    return found


@router.post(
    "/silences",
    status_code=201,
    response_model=Silence,
    responses=responses(401, 403, 422, worded_422=True),
)
async def post_silence(
    context: Context,
    caller: Planner,
    body: Annotated[SilenceBody, Body()],  # type: ignore[valid-type]
) -> Silence:
    """A maintenance window. Alarm events inside it are recorded and counted but open no
    ticket. Gas and fire (rules/incidents.yaml) only with `override_by` and a supervisor's
    key."""
    _own_name(caller, body.created_by, "created_by")  # type: ignore[attr-defined]
    _own_name(caller, body.override_by, "override_by")  # type: ignore[attr-defined]
    spec = message_from(body, SilenceSpec, caller, "created_by")
    refusal = protected_refusal(spec, default_incident_rules().protected)
    if refusal is not None:
        raise HTTPException(422, refusal)
    if spec.override_by is not None and caller.role is not Role.SUPERVISOR:
        raise HTTPException(403, "override_by: only a supervisor's key may override")
    silence = add_silence(context.engine, spec, datetime.now(UTC), caller.scope.street)
    context.alarms.windows.invalidate()
    return silence


@router.get("/silences", response_model=list[Silence], responses=responses(401, 403, 422))
async def get_silences(
    context: Context,
    caller: AnyRole,
    all_: Annotated[bool, Query(alias="all", description="Include windows that are over")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[Silence]:
    """Windows, latest start first. A street or station key sees its street's windows and
    the district's (they silence its alarms too), not other streets'."""
    return list_silences(
        context.engine,
        include_over=all_,
        at=datetime.now(UTC),
        limit=limit,
        street_code=caller.scope.street,
    )


@router.get(
    "/silences/{silence_id}", response_model=Silence, responses=responses(401, 403, 404, 422)
)
async def get_one_silence(silence_id: SilenceId, context: Context, caller: AnyRole) -> Silence:
    return _visible_silence(context, caller, silence_id)


def _visible_silence(context: AppContext, caller: Caller, silence_id: str) -> Silence:
    """The window, if the key may see it: another street's is 404 like an unknown one."""
    found = get_silence(context.engine, silence_id)
    own = caller.scope.street
    if found is None or (own is not None and found.street_code not in (None, own)):
        raise HTTPException(404, f"no window {silence_id}")
    return found


@router.post(
    "/silences/{silence_id}/end",
    response_model=Silence,
    responses=responses(401, 403, 404, 422),
)
async def post_end_silence(
    silence_id: SilenceId,
    context: Context,
    caller: Planner,
    by: Annotated[str | None, Body(embed=True, min_length=1, max_length=64)] = None,
) -> Silence:
    """End a window now: later events open tickets again (in the key's person's name).
    A street or station key ends its street's windows only: the district's is 403."""
    window = _visible_silence(context, caller, silence_id)
    if caller.scope.street is not None and window.street_code is None:
        raise HTTPException(
            403,
            f"window {silence_id} was made for the whole district: this key sees "
            f"{caller.scope} only, so a district key ends it",
        )
    ended = end_silence(context.engine, silence_id, _own_name(caller, by, "by"), datetime.now(UTC))
    if ended is None:
        raise HTTPException(404, f"no window {silence_id}")
    context.alarms.windows.invalidate()
    return ended


def _own_name(caller: Caller, named: str | None, field: str) -> str:
    """A window is made, allowed and ended in one's own name: no acting for others (the
    window's record has room for one name)."""
    if caller.person is None:
        raise HTTPException(403, "this key is bound to no person, so it may not plan windows")
    if named is not None and named != caller.person:
        raise HTTPException(403, f"{field}: {named!r} is not this key's person ({caller.person})")
    return caller.person
