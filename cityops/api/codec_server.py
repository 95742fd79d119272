"""The codec server: the Temporal UI and CLI decrypt payloads here, supervisors only.

Mounted on the API at ``/codec`` (its own small app, so its CORS applies to it alone):

- ``POST /codec/decode`` and ``POST /codec/encode`` take and give ``Payloads`` as protobuf
  JSON (``{"payloads": [{"metadata": {...}, "data": "…"}]}``), as the Temporal UI and
  ``temporal … --codec-endpoint`` send them, with ``X-Namespace``.
- Credentials: a supervisor's API key (``X-API-Key`` or ``Authorization: Bearer``, what
  ``temporal --codec-auth`` sends) or the session cookie set by ``/codec/login``, which the
  UI sends when its data-encoder setting "Include cross-origin credentials" is on. A
  session holds for one shift (8 h) at most, and only while its key is live: each request
  looks the key up, so revoking it (``cityops apikey revoke``) ends the session at once.
  Anyone else gets 401/403 with a plain-text body: the UI cannot read it as payloads, so it
  keeps showing the ciphertext.
- CORS: only the Temporal UI's origins (``CITYOPS_CODEC_ORIGINS``; default the local UI),
  with credentials.

Every decode by a supervisor is logged (who, namespace, how many payloads).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from html import escape
from urllib.parse import parse_qs

import structlog
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, PlainTextResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from cityops.api.auth import authorize, presented_key
from cityops.api.context import AppContext
from cityops.api.keys import Caller, Role, ScopeKind
from cityops.config import Settings
from cityops.privacy.codec import EncryptionCodec
from cityops.privacy.keys import KeyRingError

log = structlog.get_logger(__name__)

COOKIE = "cityops_codec"
SESSION_SECONDS = 8 * 3600  # one shift
MAX_BODY = 4 * 1024 * 1024  # a history page of payloads; more is refused, not parsed
_SUPERVISOR_ONLY: frozenset[Role] = frozenset()  # authorize() always admits supervisors
_HEADERS = ["Content-Type", "X-Namespace", "Authorization", "X-API-Key"]


def _whole_district(caller: Caller) -> Caller:
    """The codec decodes any ticket's payloads: only a key of the whole district may."""
    if caller.scope.kind is not ScopeKind.DISTRICT:
        raise HTTPException(
            403, f"the codec server decodes every ticket: this key sees {caller.scope} only"
        )
    return caller


def session_token(key_id: str, secret: str, now: float | None = None) -> str:
    expires = int((now or time.time()) + SESSION_SECONDS)
    payload = f"{key_id}.{expires}"
    return f"{payload}.{_sign(payload, secret)}"


def session_key_id(token: str, secret: str, now: float | None = None) -> str | None:
    """The supervisor key id a session cookie was issued to, or None when forged/expired."""
    key_id, _, rest = token.partition(".")
    expires, _, signature = rest.partition(".")
    if not key_id or not expires.isdigit() or not signature:
        return None
    if not hmac.compare_digest(signature, _sign(f"{key_id}.{expires}", secret)):
        return None
    return key_id if int(expires) > (now or time.time()) else None


def _sign(payload: str, secret: str) -> str:
    return hmac.new(f"codec|{secret}".encode(), payload.encode(), hashlib.sha256).hexdigest()


def create_codec_app(settings: Settings, context: Callable[[], AppContext | None]) -> FastAPI:
    """The /codec app; `context` gives the API's context once the API has started."""
    app = FastAPI(title="cityops codec server", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.ui_origins(),
        allow_credentials=True,
        allow_methods=["POST"],
        allow_headers=_HEADERS,
        max_age=600,
    )

    def ready() -> AppContext:
        current = context()
        if current is None:
            raise HTTPException(503, "the API is still starting")
        return current

    def supervisor(request: Request, current: AppContext) -> Caller:
        """A supervisor's key, or a live session cookie; HTTPException otherwise."""
        key = presented_key(request)
        cookie = request.cookies.get(COOKIE)
        if not key and cookie:
            key_id = session_key_id(cookie, settings.secret)
            if key_id is None:
                raise HTTPException(401, "the codec session has expired: sign in again")
            # The session lives no longer than its key: asked on every request (one read
            # by primary key), so a revoked or expired key ends the session at once.
            live = current.keys.live(key_id)
            if live is None or live.role is not Role.SUPERVISOR:
                raise HTTPException(
                    401, "the key this codec session was signed in with is revoked or expired"
                )
            return _whole_district(live)
        return _whole_district(authorize(current, key, _SUPERVISOR_ONLY))

    async def convert(request: Request, direction: str) -> Response:
        try:
            current = ready()
            caller = supervisor(request, current)
        except HTTPException as refused:
            # Plain text, not JSON: the UI then keeps the payloads as they are (ciphertext).
            return PlainTextResponse(
                str(refused.detail), refused.status_code, headers=refused.headers
            )
        body = await request.body()
        if len(body) > MAX_BODY:
            return PlainTextResponse(f"more than {MAX_BODY} bytes", 413)
        payloads = Payloads()
        try:
            json_format.Parse(body or b"{}", payloads, ignore_unknown_fields=True)
        except json_format.ParseError as exc:
            return PlainTextResponse(f"not Payloads JSON: {exc}"[:300], 400)
        codec = EncryptionCodec(current.ring)
        try:
            if direction == "decode":
                converted = await codec.decode(payloads.payloads)
            else:
                converted = await codec.encode(payloads.payloads)
        except KeyRingError as exc:
            return PlainTextResponse(str(exc), 422)
        namespace = request.headers.get("x-namespace", "")[:200]
        log.info(
            f"codec_{direction}",
            key_id=caller.key_id,
            namespace=namespace,
            payloads=len(converted),
        )
        answer = json_format.MessageToJson(Payloads(payloads=converted), indent=None)
        return Response(answer, media_type="application/json", headers=_NO_STORE)

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        return await convert(request, "decode")

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        return await convert(request, "encode")

    @app.get("/login", response_class=HTMLResponse)
    async def login_page() -> HTMLResponse:
        return HTMLResponse(_page(""), headers=_NO_STORE)

    @app.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> HTMLResponse:
        body = await request.body()
        if len(body) > 4096:
            return HTMLResponse(_page("too long"), 413)
        key = parse_qs(body.decode("utf-8", "replace")).get("key", [""])[0].strip()
        try:
            caller = _whole_district(authorize(ready(), key, _SUPERVISOR_ONLY))
        except HTTPException as refused:
            return HTMLResponse(_page(str(refused.detail)), refused.status_code)
        page = HTMLResponse(_page("", signed_in=True), headers=_NO_STORE)
        # Over HTTPS (here, or at the proxy CITYOPS_PUBLIC_URL names) the UI may be another
        # site: SameSite=None needs Secure. Plain HTTP: same site only (localhost ports).
        https = request.url.scheme == "https" or settings.public_url.startswith("https://")
        page.set_cookie(
            COOKIE,
            session_token(caller.key_id, settings.secret),
            max_age=SESSION_SECONDS,
            path="/codec",
            httponly=True,
            secure=https,
            samesite="none" if https else "lax",
        )
        log.info("codec_signed_in", key_id=caller.key_id)
        return page

    @app.post("/logout", response_class=HTMLResponse)
    async def logout() -> HTMLResponse:
        page = HTMLResponse(_page("signed out"), headers=_NO_STORE)
        page.delete_cookie(COOKIE, path="/codec")
        return page

    return app


_NO_STORE = {"Cache-Control": "no-store"}


def _page(message: str, *, signed_in: bool = False) -> str:
    state = (
        "<p id=state>已登录：Temporal UI 现在可显示明文 · signed in: the Temporal UI can decode "
        "(data encoder: this server's /codec, “Include cross-origin credentials” on).</p>"
        if signed_in
        else "<p id=state>未登录 · not signed in</p>"
    )
    error = f"<p id=error style='color:#cf222e'>{escape(message)}</p>" if message else ""
    return (
        "<!doctype html><html lang=zh-CN><meta charset=utf-8><title>cityops codec</title>"
        "<body style='font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto'>"
        "<h1>解密服务 · codec server</h1>"
        "<p>仅限值班长（supervisor）· supervisors only. Every decode is logged.</p>"
        f"{state}{error}"
        "<form method=post action=login><label>API key <input name=key type=password "
        "autocomplete=off maxlength=200 required></label> <button>登录 sign in</button></form>"
        "<form method=post action=logout><button>退出 sign out</button></form></body></html>"
    )
