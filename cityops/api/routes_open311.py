"""Open311 GeoReport v2 (JSON format), so existing Open311 clients can report problems.

- ``GET  /open311/v2/services.json``: the 57 scenarios as services (no key needed).
- ``GET  /open311/v2/services/{code}.json``: a service definition (no extra attributes).
- ``POST /open311/v2/requests.json``: form-encoded or JSON; ``api_key`` (form field or
  X-API-Key header) of a hotline_agent key; a ``service_code`` names the scenario, so
  the text is not classified. Answers ``[{"service_request_id", "service_notice",
  "account_id"}]``.
- ``GET  /open311/v2/requests/{id}.json`` and ``GET /open311/v2/requests.json``: public,
  as in GeoReport, but only for requests that came in through Open311.

Errors follow the spec: an HTTP 4xx with ``[{"code": 400, "description": "field: problem"}]``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from cityops.api.auth import authorize, presented_key
from cityops.api.context import AppContext, get_context
from cityops.api.keys import Role
from cityops.domain.models import TicketIntake, TicketStatus
from cityops.domain.stages import Source, Stage
from cityops.service import tickets
from cityops.service.tickets import TicketError, TicketNotFound, TicketRow

router = APIRouter(prefix="/open311/v2", tags=["open311"])
Context = Annotated[AppContext, Depends(get_context)]
TICKET_NUMBER = re.compile(r"^[A-Za-z0-9]{1,64}$")
OPEN_STAGES_DONE = frozenset(stage.value for stage in Stage if stage.is_final)


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description

    def response(self) -> JSONResponse:
        return JSONResponse([{"code": self.status, "description": self.description}], self.status)


@router.get("/services.json")
async def services(context: Context) -> list[dict[str, Any]]:
    rules = context.rules
    return [
        {
            "service_code": sid,
            "service_name": rules.scenario(sid).name_zh,
            "description": f"{rules.scenario(sid).name_en} ({category.name_en})",
            "metadata": False,
            "type": "realtime",
            "keywords": ",".join(list(rules.rule(sid).text.keywords)[:8]),
            "group": category.name_zh,
        }
        for category in rules.categories
        for sid in category.scenario_ids
    ]


@router.get("/services/{service_code}.json", response_model=None)
async def service_definition(service_code: str, context: Context) -> dict[str, Any] | JSONResponse:
    if service_code not in context.rules.scenario_ids:
        return Open311Error(404, f"service_code: unknown service {service_code!r}").response()
    return {"service_code": service_code, "attributes": []}


@router.post("/requests.json", status_code=201, response_model=None)
async def post_request(request: Request, context: Context) -> list[dict[str, Any]] | JSONResponse:
    try:
        fields = await _fields(request)
        key = presented_key(request) or (fields.get("api_key") or None)
        try:
            authorize(context, key, frozenset({Role.HOTLINE_AGENT}))
        except HTTPException as exc:  # keep the Open311 error shape
            raise Open311Error(exc.status_code, f"api_key: {exc.detail}") from exc
        intake = _intake(fields, context)
        result = await tickets.submit(
            context.client, intake, context.settings.task_queue, context.engine
        )
    except Open311Error as error:
        return error.response()
    except TicketError as exc:
        return Open311Error(503, str(exc)).response()
    return [{"service_request_id": result.ticket_id, "service_notice": "", "account_id": None}]


@router.get("/requests/{ticket_id}.json", response_model=None)
async def get_request(ticket_id: str, context: Context) -> list[dict[str, Any]] | JSONResponse:
    if not TICKET_NUMBER.match(ticket_id):
        return Open311Error(404, f"service_request_id: no request {ticket_id!r}").response()
    try:
        status = await tickets.status(context.client, ticket_id)
    except TicketNotFound:
        status = None
    except TicketError as exc:
        return Open311Error(503, str(exc)).response()
    if status is None or status.source is not Source.OPEN311:
        return Open311Error(404, f"service_request_id: no request {ticket_id!r}").response()
    return [_request_from_status(status)]


@router.get("/requests.json", response_model=None)
async def list_requests(
    context: Context,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
) -> list[dict[str, Any]] | JSONResponse:
    try:
        query = _list_query(service_request_id, service_code, start_date, end_date, status)
        rows = await tickets.list_tickets(context.client, query, limit=1000)
    except Open311Error as error:
        return error.response()
    except TicketError as exc:
        return Open311Error(400, str(exc)).response()
    return [_request_from_row(row, context) for row in rows]


# --------------------------------------------------------------------------- helpers


async def _fields(request: Request) -> dict[str, str]:
    """Form fields (what Open311 clients send) or a JSON object."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        try:
            data = json.loads(raw or b"{}")
        except ValueError as exc:
            raise Open311Error(400, f"body: not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise Open311Error(400, "body: must be a JSON object")
        return {str(k): str(v) for k, v in data.items() if v is not None}
    parsed = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=False)
    return {key: values[0] for key, values in parsed.items()}


def _float(fields: dict[str, str], name: str) -> float | None:
    if name not in fields:
        return None
    try:
        return float(fields[name])
    except ValueError as exc:
        raise Open311Error(400, f"{name}: not a number: {fields[name]!r}") from exc


def _intake(fields: dict[str, str], context: AppContext) -> TicketIntake:
    code = fields.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, "service_code: required")
    if code not in context.rules.scenario_ids:
        raise Open311Error(400, f"service_code: unknown service {code!r} (see services.json)")
    lat, lon = _float(fields, "lat"), _float(fields, "long")
    address = fields.get("address_string") or fields.get("address_id")
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat/long: give both or neither")
    if lat is None and not address:
        raise Open311Error(400, "location: lat and long, address_string or address_id required")
    name = " ".join(p for p in (fields.get("last_name"), fields.get("first_name")) if p) or None
    received = datetime.now(UTC)
    try:
        return TicketIntake(
            ticket_id=tickets.new_ticket_id(received),
            source=Source.OPEN311,
            text=fields.get("description"),
            address=address,
            lat=lat,
            lon=lon,
            caller_name=name,
            caller_phone=fields.get("phone"),
            received_at=received,
            service_code=code,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        field = {
            "text": "description",
            "lon": "long",
            "address": "address_string",
            "caller_phone": "phone",
            "caller_name": "first_name",
        }.get(str(error["loc"][0]), str(error["loc"][0]))
        raise Open311Error(400, f"{field}: {error['msg']}") from exc


def _list_query(
    ids: str | None, code: str | None, start: str | None, end: str | None, status: str | None
) -> str:
    clauses = [f"TicketSource = '{Source.OPEN311.value}'"]
    if ids:
        wanted = [part.strip() for part in ids.split(",") if part.strip()]
        if not wanted or not all(TICKET_NUMBER.match(w) for w in wanted):
            raise Open311Error(400, "service_request_id: comma-separated request ids")
        clauses.append("TicketId IN (" + ", ".join(f"'{w}'" for w in wanted) + ")")
    if code:
        if not re.match(r"^[A-Z]{2}\d{2}$", code):
            raise Open311Error(400, f"service_code: not a service code: {code!r}")
        clauses.append(f"TicketScenario = '{code}'")
    for name, value, op in (("start_date", start, ">="), ("end_date", end, "<=")):
        if value:
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError as exc:
                raise Open311Error(400, f"{name}: not a W3C datetime: {value!r}") from exc
            if moment.tzinfo is None:
                raise Open311Error(400, f"{name}: needs a time zone offset")
            clauses.append(f"StartTime {op} '{moment.astimezone(UTC).isoformat()}'")
    if status == "open":
        clauses.append("ExecutionStatus = 'Running'")
    elif status == "closed":
        clauses.append("ExecutionStatus != 'Running'")
    elif status:
        raise Open311Error(400, f"status: open or closed, not {status!r}")
    return " AND ".join(clauses)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _request_from_status(status: TicketStatus) -> dict[str, Any]:
    history = status.history
    return {
        "service_request_id": status.ticket_id,
        "status": "closed" if status.stage.is_final else "open",
        "status_notes": status.stage.value,
        "service_name": status.scenario_name,
        "service_code": status.scenario_id,
        "description": status.text,
        "agency_responsible": status.street_code,
        "service_notice": "",
        "requested_datetime": _iso(history[0].at) if history else None,
        "updated_datetime": _iso(history[-1].at) if history else None,
        "expected_datetime": _iso(status.resolve_deadline),
        "address": status.address,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def _request_from_row(row: TicketRow, context: AppContext) -> dict[str, Any]:
    code = row.attributes.get("TicketScenario")
    stage = str(row.attributes.get("TicketStage", ""))
    deadline = row.attributes.get("TicketResolveDeadline")
    return {
        "service_request_id": row.ticket_id,
        "status": "closed" if stage in OPEN_STAGES_DONE or row.status != "running" else "open",
        "status_notes": stage,
        "service_name": context.rules.scenario(code).name_zh
        if code in context.rules.scenario_ids
        else None,
        "service_code": code,
        "agency_responsible": row.attributes.get("TicketStreet"),
        "service_notice": "",
        "requested_datetime": _iso(row.started_at),
        "updated_datetime": _iso(row.closed_at or row.started_at),
        "expected_datetime": _iso(deadline) if isinstance(deadline, datetime) else None,
    }
