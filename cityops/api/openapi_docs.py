"""What the OpenAPI document says about statuses and bodies, in one place, so every
route lists the statuses it really answers (schemathesis checks it: tests/api).

``responses(401, 403, 503)`` builds a route's ``responses=``; ``json_body(type)`` the
``openapi_extra`` of a route that reads its body by hand (to answer item by item
instead of refusing the whole), with the body's schemas added to the document's
components by ``install(app)``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, TypeAdapter

REF_TEMPLATE = "#/components/schemas/{model}"
_COMPONENTS: dict[str, Any] = {}


class ErrorOut(BaseModel):
    """Every error but a validation error: a sentence saying what went wrong."""

    detail: str


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """422: `loc` names the field, e.g. ["body", 2, "lat"] or ["query", "limit"]."""

    detail: list[ValidationIssue]


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the same request again",
        "schema": {"type": "integer"},
    }
}
_MEANING = {
    400: "The request is malformed",
    401: "No API key, or an unknown or revoked one",
    403: "The key's role may not do this",
    404: "No such ticket, incident or thing",
    409: "The ticket refused the action (wrong person, wrong stage, closed); the message says why",
    410: "The link has expired",
    413: "The body is too large",
    422: "A field is malformed; `loc` names it",
    503: "Temporal or the workers are unavailable: send the same request again later",
}


def responses(
    *codes: int, html: bool = False, worded_422: bool = False
) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route answering these error statuses (JSON, or HTML pages).
    `worded_422`: the route's own 422 is a sentence ({"detail": "from: …"}) besides
    FastAPI's list for a malformed parameter."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"description": _MEANING[code]}
        if html:
            entry["content"] = {"text/html": {"schema": {"type": "string"}}}
        else:  # JSON even on a route whose own answer is HTML (FastAPI would say text/html)
            body: Any = ErrorOut
            if code == 422:
                body = ValidationErrorOut | ErrorOut if worded_422 else ValidationErrorOut
            entry["content"] = {"application/json": {"schema": schema_of(body)}}
        if code == 503:
            entry["headers"] = _RETRY_AFTER
        out[code] = entry
    return out


def schema_of(kind: Any) -> dict[str, Any]:
    """A JSON schema for `kind` whose named parts live in the document's components."""
    schema = TypeAdapter(kind).json_schema(ref_template=REF_TEMPLATE)
    _COMPONENTS.update(schema.pop("$defs", {}))
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        _COMPONENTS[kind.__name__] = schema
        return {"$ref": REF_TEMPLATE.format(model=kind.__name__)}
    return schema


def json_body(kind: Any, description: str) -> dict[str, Any]:
    """`openapi_extra` for a route reading a JSON body of this type by hand."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema_of(kind)}},
        }
    }


def install(app: FastAPI) -> None:
    """Add the hand-read bodies' schemas to the app's OpenAPI document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in _COMPONENTS.items():
                schemas.setdefault(name, schema)
            for path, operations in document.get("paths", {}).items():
                if path.startswith("/open311/"):  # its errors are 400/404, Open311-shaped
                    for operation in operations.values():
                        operation.get("responses", {}).pop("422", None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
