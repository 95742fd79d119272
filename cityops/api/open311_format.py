"""Open311 GeoReport v2 wire shapes: the JSON models, the same documents as XML (the
spec's primary format), and errors in the spec's shape for both.

XML follows the spec's examples: a root element (``services``, ``service_requests``,
``errors``) holding one element per item (``service``, ``request``, ``error``); a
service definition is ``<service_definition>``. None is an empty element, booleans are
``true``/``false``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal
from xml.etree import ElementTree

from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

Format = Literal["json", "xml"]
XML_TYPE = "application/xml"


class Open311ErrorOut(BaseModel):
    code: int = Field(description="The HTTP status")
    description: str = Field(description="field: what is wrong")


class ServiceOut(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str
    group: str


class ServiceAttributeOut(BaseModel):
    code: str


class ServiceDefinitionOut(BaseModel):
    service_code: str
    attributes: list[ServiceAttributeOut]


class RequestReceiptOut(BaseModel):
    service_request_id: str
    service_notice: str
    account_id: str | None


class ServiceRequestOut(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str | None
    service_code: str | None
    description: str | None
    agency_responsible: str | None = Field(description="The unit handling it, by name")
    service_notice: str | None
    requested_datetime: str | None
    updated_datetime: str | None
    expected_datetime: str | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


_XML_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
}


def render(
    fmt: Format, root: str, body: Sequence[BaseModel] | BaseModel, status: int = 200
) -> Response:
    """A JSON list (or object) or the spec's XML document with the same content."""
    if fmt == "json":
        content: Any = (
            [item.model_dump(mode="json") for item in body]
            if not isinstance(body, BaseModel)
            else body.model_dump(mode="json")
        )
        return JSONResponse(content, status)
    element = ElementTree.Element(root)
    if not isinstance(body, BaseModel):
        for item in body:
            _fill(ElementTree.SubElement(element, _XML_ITEMS[root]), item.model_dump(mode="json"))
    else:
        _fill(element, body.model_dump(mode="json"))
    text = ElementTree.tostring(element, encoding="unicode")
    return Response(f'<?xml version="1.0" encoding="utf-8"?>\n{text}', status, media_type=XML_TYPE)


def _fill(element: ElementTree.Element, values: dict[str, Any]) -> None:
    for name, value in values.items():
        child = ElementTree.SubElement(element, name)
        if isinstance(value, list):
            for item in value:
                _fill(ElementTree.SubElement(child, name.removesuffix("s")), item)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        elif value is not None:
            child.text = str(value)


def error_response(
    status: int, description: str, fmt: Format = "json", headers: dict[str, str] | None = None
) -> Response:
    response = render(
        fmt, "errors", [Open311ErrorOut(code=status, description=description)], status
    )
    response.headers.update(headers or {})
    return response


def format_of(path: str) -> Format:
    """The format a path under the Open311 root asks for (errors answer in it)."""
    return "xml" if path.endswith(".xml") else "json"


def responses_doc(model: Any, *codes: int, ok: int = 200) -> dict[int | str, dict[str, Any]]:
    """`responses=` for an Open311 route: the answer as JSON or XML, errors in spec shape."""
    meaning = {
        400: "A parameter is wrong (the description names it)",
        401: "No api_key",
        403: "The api_key's role may not post requests",
        404: "No such service, request or jurisdiction",
        413: "The body is too large",
        503: "Temporal or the workers are unavailable: try again later",
    }
    xml = {XML_TYPE: {"schema": {"type": "string", "description": "The same, as GeoReport XML"}}}
    out: dict[int | str, dict[str, Any]] = {
        ok: {"model": model, "description": "The answer", "content": xml}
    }
    for code in codes:
        entry: dict[str, Any] = {
            "model": list[Open311ErrorOut],
            "description": meaning[code],
            "content": xml,
        }
        if code == 503:
            entry["headers"] = {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
            }
        out[code] = entry
    return out
