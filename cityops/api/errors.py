"""Error answers that depend on where they happen: under the Open311 root every error,
an unknown path or a wrong method included, is in GeoReport's shape (JSON, or XML for a
``.xml`` path); elsewhere FastAPI's ``{"detail": …}``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cityops.api.open311_format import error_response, format_of
from cityops.api.routes_open311 import ROOT

BODY_NOT_PARSED = "There was an error parsing the body"
# How much of a refused value a 422 echoes back: enough to recognise it, never the value
# itself when it is huge.
ECHO_CHARS = 200
ECHO_ITEMS = 20
ECHO_DEPTH = 4


def plain_text(value: str, limit: int = ECHO_CHARS) -> str:
    """Text that any JSON or HTML answer can carry: at most `limit` characters (then …),
    a lone surrogate written as its escape (\\ud800) instead of failing the encoder."""
    if len(value) > limit:
        value = value[:limit] + "…"
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def echo(value: Any, depth: int = 0) -> Any:
    """A refused input as JSON can carry it: NaN and infinities as text, long text cut,
    large containers and deep nesting summarised. Never raises."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return plain_text(value)
    if depth >= ECHO_DEPTH:
        return "…"
    if isinstance(value, Mapping):
        items = list(value.items())
        shown = {plain_text(str(k), 64): echo(v, depth + 1) for k, v in items[:ECHO_ITEMS]}
        if len(items) > ECHO_ITEMS:
            shown["…"] = f"{len(items) - ECHO_ITEMS} more"
        return shown
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        listed = [echo(v, depth + 1) for v in list(value)[:ECHO_ITEMS]]
        if len(value) > ECHO_ITEMS:
            listed.append(f"… {len(value) - ECHO_ITEMS} more")
        return listed
    return plain_text(str(value))


def safe_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """pydantic's errors as FastAPI answers them (loc, msg, type, input, ctx), made safe
    to encode: the validation-error answer itself can never fail (a NaN coordinate, a
    lone surrogate, a huge body echoed back)."""
    safe: list[dict[str, Any]] = []
    for error in errors:
        item: dict[str, Any] = {
            "type": plain_text(str(error.get("type", "value_error")), 64),
            "loc": [
                part if isinstance(part, int) else plain_text(str(part), 64)
                for part in error.get("loc", ())
            ],
            "msg": plain_text(str(error.get("msg", "")), 500),
        }
        if "input" in error:
            item["input"] = echo(error["input"])
        if error.get("ctx"):
            item["ctx"] = {
                plain_text(str(k), 64): echo(v if isinstance(v, int | float | str) else str(v))
                for k, v in error["ctx"].items()
            }
        safe.append(item)
    return safe


def validation_response(exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": safe_errors(exc.errors())})


def _open311(request: Request) -> bool:
    path = request.url.path
    return path == ROOT or path.startswith(ROOT + "/")


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and exc.detail == BODY_NOT_PARSED and not _open311(request):
            # FastAPI's answer to a body that is not JSON: a malformed body is 422 here.
            return validation_response(
                RequestValidationError(
                    [{"loc": ["body"], "msg": "not valid JSON", "type": "json_invalid"}]
                )
            )
        if isinstance(exc.detail, str):
            exc.detail = plain_text(exc.detail, 2000)
        if not _open311(request):
            return await http_exception_handler(request, exc)
        description = str(exc.detail)
        if exc.status_code == 404:
            description = f"path: no Open311 resource at {request.url.path[:200]}"
        return error_response(
            exc.status_code, description, format_of(request.url.path), dict(exc.headers or {})
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if not _open311(request):
            return validation_response(exc)
        first = safe_errors(exc.errors()[:1])[0]
        name = str(first["loc"][-1]) if first["loc"] else "request"
        if name == "format":
            return error_response(404, "format: json or xml", "json")
        return error_response(400, f"{name}: {first['msg']}", format_of(request.url.path))
