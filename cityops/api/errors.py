"""Error answers that depend on where they happen: under the Open311 root every error,
an unknown path or a wrong method included, is in GeoReport's shape (JSON, or XML for a
``.xml`` path); elsewhere FastAPI's ``{"detail": …}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cityops.api.open311_format import error_response, format_of
from cityops.api.routes_open311 import ROOT

BODY_NOT_PARSED = "There was an error parsing the body"


def _open311(request: Request) -> bool:
    path = request.url.path
    return path == ROOT or path.startswith(ROOT + "/")


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and exc.detail == BODY_NOT_PARSED and not _open311(request):
            # FastAPI's answer to a body that is not JSON: a malformed body is 422 here.
            return await request_validation_exception_handler(
                request,
                RequestValidationError(
                    [{"loc": ["body"], "msg": "not valid JSON", "type": "json_invalid"}]
                ),
            )
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
            return await request_validation_exception_handler(request, exc)
        first = exc.errors()[0]
        name = str(first["loc"][-1]) if first.get("loc") else "request"
        if name == "format":
            return error_response(404, "format: json or xml", "json")
        return error_response(400, f"{name}: {first['msg']}", format_of(request.url.path))
