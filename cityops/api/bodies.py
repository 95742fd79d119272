"""Request bodies read by hand (alarm batches, Alertmanager groups): size-capped, JSON,
and the statuses that say what was wrong with them as a whole."""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError

MAX_BODY_BYTES = 16 * 1024 * 1024
RETRY_AFTER_SECONDS = 5


async def json_body(request: Request, limit: int = MAX_BODY_BYTES) -> Any:
    """The body as JSON. Over `limit` bytes: 413; not UTF-8 JSON: 422 at ["body"]."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the body is over {limit // (1024 * 1024)} MiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the body is over {limit // (1024 * 1024)} MiB")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestValidationError(
            [{"loc": ["body"], "msg": f"not valid JSON: {str(exc)[:200]}", "type": "json_invalid"}]
        ) from exc


def unavailable(message: str) -> HTTPException:
    """503 with Retry-After: Temporal or the workers are down; the same request may be
    sent again (repeats are recognised)."""
    return HTTPException(503, message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
