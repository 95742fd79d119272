"""The supervisor's city view over HTTP.

- ``GET /api/v1/kpis?from=&to=&street=``: the KPI JSON of `cityops kpi --format json`;
- ``GET /api/v1/vital-signs?street=&at=``: the vital signs of `cityops vitals --format json`;
- ``GET /dashboard?street=&from=&to=``: the report's page, refreshing itself every minute;
- ``GET /metrics``: Prometheus text (vital signs, ticket counts by street, scenario, stage).

The JSON routes need a supervisor's key; a street or station key gets its street's
figures only (asking for another street is 403). The dashboard and /metrics are read without a
key, like a ticket's page: they show figures, ticket numbers and places, never a
citizen's words or contact. A bad parameter is a 422 whose detail names it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.responses import HTMLResponse

from cityops.api.auth import require
from cityops.api.context import AppContext, get_context
from cityops.api.identity import street_filter
from cityops.api.keys import Caller, Role
from cityops.api.metrics import render_metrics
from cityops.api.openapi_docs import responses
from cityops.report.render import plotly_js, render
from cityops.service import cityview
from cityops.service.cityview import CityViewInputError

router = APIRouter(tags=["city view"])
Supervisor = Annotated[Caller, Depends(require(Role.SUPERVISOR))]
Context = Annotated[AppContext, Depends(get_context)]
FromQ = Annotated[
    str | None,
    Query(alias="from", max_length=40, description="Window start, ISO 8601 (Shanghai time)"),
]
ToQ = Annotated[str | None, Query(alias="to", max_length=40, description="Window end")]
StreetQ = Annotated[str | None, Query(max_length=40, description="Street/town code")]
DASHBOARD_REFRESH_S = 60


def _TEXT(media_type: str) -> dict[str, Any]:
    return {media_type: {"schema": {"type": "string"}}}


def _now() -> datetime:
    return datetime.now(UTC)


def _bad(exc: CityViewInputError) -> HTTPException:
    return HTTPException(422, detail=str(exc))


@router.get("/api/v1/kpis", responses=responses(401, 403, 422, worded_422=True))
async def get_kpis(
    caller: Supervisor,
    context: Context,
    start: FromQ = None,
    end: ToQ = None,
    street: StreetQ = None,
) -> dict[str, Any]:
    """KPIs of the tickets received in [from, to) (docs/kpis.md)."""
    try:
        window = cityview.window_of(start, end, _now())
        code = cityview.check_street(context.engine, street_filter(caller, street))
    except CityViewInputError as exc:
        raise _bad(exc) from exc
    return await asyncio.to_thread(cityview.kpis, context.engine, window, code)


@router.get("/api/v1/vital-signs", responses=responses(401, 403, 422, worded_422=True))
async def get_vital_signs(
    caller: Supervisor,
    context: Context,
    street: StreetQ = None,
    at: Annotated[str | None, Query(max_length=40, description="Instant (default now)")] = None,
) -> dict[str, Any]:
    """The city's vital signs (城市生命体征), or one street's."""
    try:
        instant = cityview.parse_instant(at, "at").astimezone(UTC) if at else _now()
        code = cityview.check_street(context.engine, street_filter(caller, street))
    except CityViewInputError as exc:
        raise _bad(exc) from exc
    return await asyncio.to_thread(cityview.vitals, context.engine, instant, code)


@router.get("/dashboard", response_class=HTMLResponse, responses=responses(422, worded_422=True))
async def dashboard(
    context: Context, start: FromQ = None, end: ToQ = None, street: StreetQ = None
) -> HTMLResponse:
    """The supervisor's dashboard: the report's figures, refreshed every minute."""
    try:
        window = cityview.window_of(start, end, _now())
        code = cityview.check_street(context.engine, street)
    except CityViewInputError as exc:
        raise _bad(exc) from exc
    figures = await asyncio.to_thread(cityview.report_figures, context.engine, window, code)
    title = "城运中心监督看板 Supervisor dashboard" + (f" · {code}" if code else "")
    page = render(
        figures,
        ticket_url=f"{context.settings.public_url.rstrip('/')}/tickets",
        plotly_js_url="/dashboard/plotly.min.js",
        refresh_seconds=DASHBOARD_REFRESH_S,
        title=title,
        generated_at=_now(),
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get(
    "/dashboard/plotly.min.js",
    response_class=Response,
    responses={200: {"description": "plotly.js", "content": _TEXT("application/javascript")}},
)
async def dashboard_plotly() -> Response:
    """plotly's JavaScript from the installed package: the dashboard needs no CDN."""
    return Response(
        plotly_js(),
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text format", "content": _TEXT("text/plain")}},
)
async def metrics(context: Context) -> Response:
    """Prometheus exposition (docs/kpis.md has a scrape config)."""
    body, content_type = await asyncio.to_thread(render_metrics, context.engine, _now())
    return Response(body, media_type=content_type)
