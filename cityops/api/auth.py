"""Who may call what: an API key per role, sent as ``X-API-Key: <key>`` or
``Authorization: Bearer <key>``. No key or an unknown key is 401; a known key of a
role the route does not allow is 403. A supervisor may call every route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from cityops.api.context import AppContext, get_context
from cityops.api.keys import Caller, Role

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="cityops"'}
# Declared so the OpenAPI document names both ways of sending a key (either will do).
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")
BEARER = HTTPBearer(auto_error=False, description="The same API key as a bearer token")


def presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def authorize(context: AppContext, key: str | None, roles: frozenset[Role]) -> Caller:
    if not key:
        raise HTTPException(401, "an API key is required (X-API-Key header)", headers=_CHALLENGE)
    caller = context.keys.check(key)
    if caller is None:
        raise HTTPException(401, "unknown or revoked API key", headers=_CHALLENGE)
    if caller.role is not Role.SUPERVISOR and caller.role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles | {Role.SUPERVISOR}))
        raise HTTPException(403, f"role {caller.role.value} may not do this (allowed: {allowed})")
    return caller


def require(*roles: Role) -> Callable[..., Caller]:
    """A dependency admitting callers of these roles (and supervisors)."""
    allowed = frozenset(roles)

    def dependency(
        request: Request,
        context: Annotated[AppContext, Depends(get_context)],
        _header: Annotated[str | None, Security(API_KEY_HEADER)],
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
    ) -> Caller:
        return authorize(context, presented_key(request), allowed)

    return dependency
