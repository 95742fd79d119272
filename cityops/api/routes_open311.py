"""Open311 GeoReport v2, in XML and JSON (``.xml`` / ``.json`` on every route), so
existing Open311 clients can report problems and follow them.

- ``GET  /open311/v2/services.{format}``: the 57 scenarios as services (no key needed).
- ``GET  /open311/v2/services/{code}.{format}``: a service definition (no attributes).
- ``POST /open311/v2/requests.{format}``: form-encoded (or JSON); ``api_key`` (form
  field or X-API-Key header) of a hotline_agent key; the ``service_code`` names the
  scenario, so the text is not classified. A point outside the jurisdiction is refused.
- ``GET  /open311/v2/requests/{id}.{format}`` and ``GET /open311/v2/requests.{format}``:
  public, as in GeoReport, for requests that came in through Open311. The list takes
  comma lists of ids, service codes and statuses; without dates it covers the last 90
  days, and a window may not span more; it answers at most 1,000 requests.

``jurisdiction_id`` is checked on every route (``CITYOPS_OPEN311_JURISDICTION``). Every
error under the root, unknown paths included, is ``[{"code", "description"}]`` (or the
``<errors>`` document for ``.xml``): app.py installs the handlers (``open311_error``).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from cityops.api.auth import authorize, presented_key
from cityops.api.bodies import RETRY_AFTER_SECONDS
from cityops.api.context import AppContext, get_context
from cityops.api.keys import Role
from cityops.api.open311_format import (
    Format,
    RequestReceiptOut,
    ServiceDefinitionOut,
    ServiceOut,
    ServiceRequestOut,
    error_response,
    render,
    responses_doc,
)
from cityops.db.open311 import Open311RequestRow, find_requests, get_request, record_request
from cityops.domain.limits import (
    NAME,
    Address,
    ApiKey,
    Email,
    Open311Id,
    Phone,
    ScenarioId,
    Text,
    Url,
    first_problem,
)
from cityops.domain.models import TicketIntake, TicketStatus
from cityops.domain.stages import Source, Stage
from cityops.service import tickets
from cityops.service.tickets import TicketError, TicketNotFound, TicketRow, TicketUnavailable

ROOT = "/open311/v2"
router = APIRouter(prefix=ROOT, tags=["open311"])
Context = Annotated[AppContext, Depends(get_context)]
FormatParam = Annotated[Format, Path(description="json or xml")]
Jurisdiction = Annotated[
    str | None, Query(max_length=64, description="This endpoint's jurisdiction, if given")
]
TICKET_NUMBER = re.compile(r"^[A-Za-z0-9]{1,64}$")
SERVICE_CODE = re.compile(r"^[A-Z]{2}\d{2}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
WINDOW = timedelta(days=90)
MAX_REQUESTS = 1000
# Requests named by id at once: 40 ticket numbers, comma-separated, fit in this.
MAX_IDS_TEXT = 800
MAX_FORM_BYTES = 1024 * 1024
FINAL_STAGES = frozenset(stage.value for stage in Stage if stage.is_final)


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description

    def response(self, fmt: Format) -> Response:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if self.status == 503 else None
        return error_response(self.status, self.description, fmt, headers)


# A coordinate as Open311 sends it: a decimal number as text.
CoordinateText = Annotated[str, StringConstraints(max_length=40)]
GivenName = Annotated[str, StringConstraints(max_length=32), NAME]


class RequestForm(BaseModel):
    """POST requests: form-encoded as GeoReport clients send it (JSON is taken too). Every
    field is checked against its length limit (docs/api.md, "Length limits") before
    anything else: 400 naming the field."""

    model_config = ConfigDict(extra="allow")

    api_key: ApiKey | None = Field(default=None, description="Or the X-API-Key header")
    jurisdiction_id: Open311Id | None = None
    service_code: ScenarioId = Field(description="A service_code from services.json, e.g. PS03")
    lat: CoordinateText | None = Field(default=None, description="WGS84 latitude; with long")
    long: CoordinateText | None = Field(default=None, description="WGS84 longitude; with lat")
    address_string: Address | None = None
    address_id: Open311Id | None = None
    email: Email | None = None
    device_id: Open311Id | None = None
    account_id: Open311Id | None = None
    first_name: GivenName | None = None
    last_name: GivenName | None = None
    phone: Phone | None = None
    description: Text | None = None
    media_url: Url | None = None


_FORM_SCHEMA = RequestForm.model_json_schema()
_POST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {"schema": _FORM_SCHEMA},
            "application/json": {"schema": _FORM_SCHEMA},
        },
    }
}


def _check_jurisdiction(context: AppContext, jurisdiction_id: str | None) -> None:
    if jurisdiction_id and jurisdiction_id != context.settings.open311_jurisdiction:
        raise Open311Error(
            404,
            f"jurisdiction_id: this endpoint serves only "
            f"{context.settings.open311_jurisdiction!r}, not {jurisdiction_id[:64]!r}",
        )


@router.get(
    "/services.{format}", response_model=None, responses=responses_doc(list[ServiceOut], 400, 404)
)
async def services(
    format: FormatParam,
    context: Context,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """The scenarios as Open311 services; `group` is the category."""
    try:
        _check_jurisdiction(context, jurisdiction_id)
    except Open311Error as error:
        return error.response(format)
    rules = context.rules
    return render(
        format,
        "services",
        [
            ServiceOut(
                service_code=sid,
                service_name=rules.scenario(sid).name_zh,
                description=f"{rules.scenario(sid).name_en} ({category.name_en})",
                metadata=False,
                type="realtime",
                keywords=",".join(list(rules.rule(sid).text.keywords)[:8]),
                group=category.name_zh,
            )
            for category in rules.categories
            for sid in category.scenario_ids
        ],
    )


@router.get(
    "/services/{service_code}.{format}",
    response_model=None,
    responses=responses_doc(ServiceDefinitionOut, 400, 404),
)
async def service_definition(
    service_code: Annotated[str, Path(max_length=16)],
    format: FormatParam,
    context: Context,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """A service's definition: our services ask no extra attributes."""
    try:
        _check_jurisdiction(context, jurisdiction_id)
        if service_code not in context.rules.scenario_ids:
            raise Open311Error(404, f"service_code: unknown service {service_code!r}")
    except Open311Error as error:
        return error.response(format)
    return render(
        format, "service_definition", ServiceDefinitionOut(service_code=service_code, attributes=[])
    )


@router.post(
    "/requests.{format}",
    status_code=201,
    response_model=None,
    responses=responses_doc(list[RequestReceiptOut], 400, 401, 403, 404, 413, 503, ok=201),
    openapi_extra=_POST_BODY,
)
async def post_request(format: FormatParam, request: Request, context: Context) -> Response:
    """Create a service request: answers its `service_request_id` (our ticket number)."""
    try:
        fields = await _fields(request)
        key = presented_key(request) or (fields.get("api_key") or None)
        try:
            authorize(context, key, frozenset({Role.HOTLINE_AGENT}))
        except HTTPException as exc:  # keep the Open311 error shape
            raise Open311Error(exc.status_code, f"api_key: {exc.detail}") from exc
        _check_form(fields)
        _check_jurisdiction(context, fields.get("jurisdiction_id"))
        intake = _intake(fields, context)
        result = await tickets.submit(
            context.client,
            intake,
            context.settings.task_queue,
            context.engine,
            geography=context.geography,
        )
        if result.created:
            row = _register_row(intake, fields, context)
            await asyncio.to_thread(record_request, context.engine, row)
    except Open311Error as error:
        return error.response(format)
    except TicketError as exc:
        return Open311Error(503, str(exc)).response(format)
    receipt = RequestReceiptOut(
        service_request_id=result.ticket_id, service_notice="", account_id=None
    )
    return render(format, "service_requests", [receipt], status=201)


@router.get(
    "/requests/{service_request_id}.{format}",
    response_model=None,
    responses=responses_doc(list[ServiceRequestOut], 400, 404, 503),
)
async def get_request_route(
    service_request_id: Annotated[str, Path(max_length=64)],
    format: FormatParam,
    context: Context,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """One request, as the list shows it, with its stage in `status_notes`."""
    try:
        _check_jurisdiction(context, jurisdiction_id)
        row = (
            await asyncio.to_thread(get_request, context.engine, service_request_id)
            if TICKET_NUMBER.match(service_request_id)
            else None
        )
        if row is None:
            raise Open311Error(404, f"service_request_id: no request {service_request_id!r}")
        try:
            status = await tickets.status(context.client, row.ticket_id, workers=context.workers)
        except TicketNotFound as exc:
            raise Open311Error(404, f"service_request_id: no request {row.ticket_id!r}") from exc
        except TicketUnavailable as exc:
            raise Open311Error(503, str(exc)) from exc
        except TicketError as exc:
            raise Open311Error(404, str(exc)) from exc
    except Open311Error as error:
        return error.response(format)
    return render(format, "service_requests", [_from_status(row, status, context)])


@router.get(
    "/requests.{format}",
    response_model=None,
    responses=responses_doc(list[ServiceRequestOut], 400, 404, 503),
)
async def list_requests(
    format: FormatParam,
    context: Context,
    service_request_id: Annotated[
        str | None,
        Query(max_length=MAX_IDS_TEXT, description="Comma list (at most 40); overrides the rest"),
    ] = None,
    service_code: Annotated[
        str | None, Query(max_length=100, description="Comma list, e.g. PS03,CA01")
    ] = None,
    start_date: Annotated[str | None, Query(max_length=40, description="W3C datetime")] = None,
    end_date: Annotated[str | None, Query(max_length=40, description="W3C datetime")] = None,
    status: Annotated[
        str | None, Query(max_length=20, description="open, closed or open,closed")
    ] = None,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """Requests, newest first: the last 90 days unless dated, at most 1,000."""
    try:
        _check_jurisdiction(context, jurisdiction_id)
        statuses = _comma(status, "status", re.compile(r"^(open|closed)$"), 2)
        if service_request_id:
            ids = _comma(service_request_id, "service_request_id", TICKET_NUMBER, 40)
            rows = await asyncio.to_thread(find_requests, context.engine, ticket_ids=ids)
        else:
            codes = _comma(service_code, "service_code", SERVICE_CODE, 100)
            start, end = _window(start_date, end_date)
            rows = await asyncio.to_thread(
                find_requests,
                context.engine,
                service_codes=codes,
                start=start,
                end=end,
                limit=MAX_REQUESTS,
            )
        live = await _live_rows([row.ticket_id for row in rows], context)
    except Open311Error as error:
        return error.response(format)
    out = [_from_row(row, live.get(row.ticket_id), context) for row in rows]
    if statuses:
        out = [request for request in out if request.status in statuses]
    return render(format, "service_requests", out)


# --------------------------------------------------------------------------- reading


async def _fields(request: Request) -> dict[str, str]:
    """Form fields (what Open311 clients send) or a JSON object."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise Open311Error(413, "body: over 1 MiB")
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise Open311Error(413, "body: over 1 MiB")
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        try:
            data = json.loads(raw or b"{}")
        except ValueError as exc:
            raise Open311Error(400, f"body: not valid JSON ({str(exc)[:100]})") from exc
        if not isinstance(data, dict):
            raise Open311Error(400, "body: must be a JSON object")
        return {str(k): str(v) for k, v in data.items() if v is not None}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Open311Error(400, "body: not UTF-8") from exc
    parsed = parse_qs(text, keep_blank_values=False)
    return {key: values[0] for key, values in parsed.items()}


def _check_form(fields: dict[str, str]) -> None:
    """Every known field within its limit, and text that is Unicode: else 400 naming it."""
    try:
        RequestForm.model_validate(fields)
    except ValidationError as exc:
        field, problem = first_problem(exc)
        if exc.errors()[0]["type"] == "missing":
            problem = "required"
        raise Open311Error(400, f"{field}: {problem}") from exc


def _coordinate(fields: dict[str, str], name: str, bound: float) -> float | None:
    text = fields.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise Open311Error(400, f"{name}: not a number: {text[:40]!r}") from exc
    if not math.isfinite(value) or not -bound <= value <= bound:
        raise Open311Error(400, f"{name}: must lie between -{bound:g} and {bound:g}")
    return value


def _intake(fields: dict[str, str], context: AppContext) -> TicketIntake:
    code = fields.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, "service_code: required")
    if code not in context.rules.scenario_ids:
        raise Open311Error(400, f"service_code: unknown service {code[:16]!r} (see services.json)")
    lat, lon = _coordinate(fields, "lat", 90), _coordinate(fields, "long", 180)
    address = fields.get("address_string") or fields.get("address_id")
    if len(fields.get("address_id") or "") > 64:
        raise Open311Error(400, "address_id: at most 64 characters")
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat/long: give both or neither")
    if lat is None and not address:
        raise Open311Error(400, "location: lat and long, address_string or address_id required")
    outside = context.geography.outside(lat, lon)
    if outside is not None:
        raise Open311Error(400, f"lat/long: {outside}, outside this jurisdiction")
    email = fields.get("email")
    if email and (len(email) > 254 or not EMAIL.match(email)):
        raise Open311Error(400, "email: not an e-mail address")
    media_url = fields.get("media_url")
    if media_url and not re.match(r"^https?://\S+$", media_url):
        raise Open311Error(400, "media_url: an http(s) URL")
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
            caller_email=email or None,
            media_url=media_url or None,
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
            "caller_email": "email",
        }.get(str(error["loc"][0]), str(error["loc"][0]))
        raise Open311Error(400, f"{field}: {error['msg']}") from exc


def _register_row(
    intake: TicketIntake, fields: dict[str, str], context: AppContext
) -> Open311RequestRow:
    assert intake.service_code is not None
    return Open311RequestRow(
        ticket_id=intake.ticket_id,
        jurisdiction_id=context.settings.open311_jurisdiction,
        service_code=intake.service_code,
        description=intake.text,
        address=fields.get("address_string"),
        address_id=fields.get("address_id"),
        lat=intake.lat,
        lon=intake.lon,
        media_url=intake.media_url,
        requested_at=intake.received_at,
    )


def _comma(text: str | None, name: str, pattern: re.Pattern[str], most: int) -> list[str]:
    if not text:
        return []
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or len(parts) > most or not all(pattern.match(p) for p in parts):
        raise Open311Error(400, f"{name}: a comma list of at most {most} valid values")
    return parts


def _moment(name: str, text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Open311Error(400, f"{name}: not a W3C datetime: {text!r}") from exc
    if moment.tzinfo is None:
        raise Open311Error(400, f"{name}: needs a time zone offset (e.g. Z or +08:00)")
    return moment.astimezone(UTC)


def _window(start_text: str | None, end_text: str | None) -> tuple[datetime, datetime]:
    """GeoReport: the last 90 days by default; a window may not span more than 90 days."""
    start, end = _moment("start_date", start_text), _moment("end_date", end_text)
    if start is None and end is None:
        end = datetime.now(UTC)
    if start is None:
        assert end is not None
        start = end - WINDOW
    if end is None:
        end = min(datetime.now(UTC), start + WINDOW)
    if end < start:
        raise Open311Error(400, "end_date: before start_date")
    if end - start > WINDOW:
        raise Open311Error(400, "start_date/end_date: may not span more than 90 days")
    return start, end


async def _live_rows(ticket_ids: list[str], context: AppContext) -> dict[str, TicketRow]:
    """The tickets' current state from the visibility store, 100 ids per query."""
    live: dict[str, TicketRow] = {}
    for first in range(0, len(ticket_ids), 100):
        chunk = ticket_ids[first : first + 100]
        query = (
            f"TicketSource = '{Source.OPEN311.value}' AND TicketId IN ("
            + ", ".join(f"'{ticket_id}'" for ticket_id in chunk)
            + ")"
        )
        try:
            rows = await tickets.list_tickets(context.client, query, limit=len(chunk))
        except TicketUnavailable as exc:
            raise Open311Error(503, str(exc)) from exc
        except TicketError as exc:
            raise Open311Error(400, str(exc)) from exc
        live.update((row.ticket_id, row) for row in rows)
    return live


# --------------------------------------------------------------------------- writing


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _service_name(code: str | None, context: AppContext) -> str | None:
    return context.rules.scenario(code).name_zh if code in context.rules.scenario_ids else None


def _base(row: Open311RequestRow) -> dict[str, Any]:
    return {
        "service_request_id": row.ticket_id,
        "description": row.description,
        "service_notice": "",
        "requested_datetime": _iso(row.requested_at),
        "address": row.address,
        "address_id": row.address_id,
        "zipcode": None,
        "lat": row.lat,
        "long": row.lon,
        "media_url": row.media_url,
    }


def _from_status(
    row: Open311RequestRow, status: TicketStatus, context: AppContext
) -> ServiceRequestOut:
    history = status.history
    code = status.scenario_id or row.service_code
    return ServiceRequestOut(
        **_base(row),
        status="closed" if status.stage.is_final else "open",
        status_notes=status.stage.value,
        service_name=_service_name(code, context),
        service_code=code,
        agency_responsible=context.geography.unit_name(status.street_code),
        updated_datetime=_iso(history[-1].at) if history else _iso(row.requested_at),
        expected_datetime=_iso(status.resolve_deadline),
    )


def _from_row(
    row: Open311RequestRow, live: TicketRow | None, context: AppContext
) -> ServiceRequestOut:
    attributes = live.attributes if live else {}
    stage = str(attributes.get("TicketStage") or "received")
    closed = live is not None and (stage in FINAL_STAGES or live.status != "running")
    code = str(attributes.get("TicketScenario") or row.service_code)
    deadline = attributes.get("TicketResolveDeadline")
    street = attributes.get("TicketStreet")
    return ServiceRequestOut(
        **_base(row),
        status="closed" if closed else "open",
        status_notes=stage,
        service_name=_service_name(code, context),
        service_code=code,
        agency_responsible=context.geography.unit_name(str(street) if street else None),
        updated_datetime=_iso(live.closed_at or live.started_at) if live else None,
        expected_datetime=_iso(deadline) if isinstance(deadline, datetime) else None,
    )
