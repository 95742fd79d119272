"""Privacy over HTTP: the masked phone on the ticket page, the logged reveal, and the codec
server exactly as the Temporal UI and `temporal --codec-endpoint` call it."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload

from cityops.activities.store import save_record
from cityops.api.keys import Role, create_key, revoke_key
from cityops.domain.models import TicketIntake, TicketRecord
from cityops.domain.stages import Source, Stage
from cityops.privacy.codec import ENCODING, EncryptionCodec
from cityops.privacy.keys import load_keyring
from cityops.privacy.register import erase_phone, reveals_of
from tests.api.stack import Api
from tests.api.test_tickets_api import _dispatched, _submit

PHONE, NAME = "13900001234", "王先生"
UI = "http://localhost:8233"  # the UI origin the default settings allow


def stored_ticket(api: Api, phone: str = PHONE) -> str:
    """A ticket whose caller the register holds, as the worker's store writes it."""
    ticket_id = f"HL{uuid.uuid4().hex[:10].upper()}"
    at = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
    intake = TicketIntake(
        ticket_id=ticket_id, source=Source.HOTLINE, text="井盖不见了", caller_phone=phone,
        caller_name=NAME, received_at=at,
    )  # fmt: skip
    record = TicketRecord(
        ticket_id=ticket_id, workflow_id=f"ticket-{ticket_id}", stage=Stage.AWAITING_ACCEPT,
        intake=intake, event="dispatched", at=at,
    )  # fmt: skip
    save_record(api.engine, record, load_keyring())
    return ticket_id


async def test_the_ticket_page_shows_the_phone_masked(api: Api) -> None:
    ticket_id = (await _submit(api))["ticket_id"]
    await _dispatched(api, ticket_id)
    page = await api.http.get(f"/tickets/{ticket_id}")
    assert page.status_code == 200
    assert "139****1234" in page.text and PHONE not in page.text


async def test_revealing_the_phone_needs_a_key_and_a_reason_and_is_recorded(api: Api) -> None:
    ticket_id = stored_ticket(api)
    path = f"/api/v1/tickets/{ticket_id}/reveal-phone"
    body = {"by": "P-T01-3", "reason": "上门前电话确认地址"}
    assert (await api.http.post(path, json=body)).status_code == 401
    refused = await api.http.post(path, json=body, headers=api.as_role(Role.SENSOR_GATEWAY))
    assert refused.status_code == 403
    responder = api.as_person(Role.RESPONDER, "P-T01-3")
    short = await api.http.post(path, json={"by": "P-T01-3", "reason": "x"}, headers=responder)
    assert short.status_code == 422
    assert reveals_of(api.engine, ticket_id) == []  # refusals reveal and record nothing

    shown = await api.http.post(path, json=body, headers=responder)
    assert shown.status_code == 200, shown.text
    assert shown.json() == {"ticket_id": ticket_id, "caller_phone": PHONE, "caller_name": NAME}
    assert shown.headers["cache-control"] == "no-store"
    [logged] = reveals_of(api.engine, ticket_id)
    responder_key_id = responder["X-API-Key"].split("_")[1]
    assert (logged.person_id, logged.reason, logged.via) == (
        "P-T01-3",
        "上门前电话确认地址",
        f"api:{responder_key_id}",
    )

    missing = await api.http.post(
        "/api/v1/tickets/HLNOSUCH/reveal-phone", json=body, headers=responder
    )
    assert missing.status_code == 404


async def test_after_erasure_the_phone_is_gone(api: Api) -> None:
    phone = f"139{uuid.uuid4().int % 10**8:08d}"
    ticket_id = stored_ticket(api, phone)
    erase_phone(api.engine, load_keyring(), phone, requested_by="P-D-1", reason="市民申请")
    gone = await api.http.post(
        f"/api/v1/tickets/{ticket_id}/reveal-phone",
        json={"by": "P-T01-3", "reason": "回访核实情况"},
        headers=api.as_person(Role.RESPONDER, "P-T01-3"),
    )
    assert gone.status_code == 410


# --------------------------------------------------------------------------- codec server


async def encrypted_body() -> str:
    """A payloads JSON as the UI posts it: the encrypted workflow input of a ticket."""
    plain = Payload(
        metadata={"encoding": b"json/plain"},
        data=json.dumps({"caller_phone": PHONE, "caller_name": NAME}, ensure_ascii=False).encode(),
    )
    [sealed] = await EncryptionCodec(load_keyring()).encode([plain])
    return json.dumps({"payloads": [json_format.MessageToDict(sealed)]})


def ui_headers(**extra: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Namespace": "default", "Origin": UI} | extra


def decoded_texts(answer: dict[str, list[dict[str, str]]]) -> str:
    return "".join(base64.b64decode(p["data"]).decode() for p in answer["payloads"])


async def test_decode_refuses_without_supervisor_credentials_in_a_body_the_ui_cannot_use(
    api: Api,
) -> None:
    body = await encrypted_body()
    anonymous = await api.http.post("/codec/decode", content=body, headers=ui_headers())
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("text/plain")
    with pytest.raises(json.JSONDecodeError):
        json.loads(anonymous.text)  # the UI's r.json() fails: it keeps the ciphertext
    assert anonymous.headers["access-control-allow-origin"] == UI  # the UI can read the refusal
    responder = await api.http.post(
        "/codec/decode", content=body, headers=ui_headers(**{"X-API-Key": api.keys[Role.RESPONDER]})
    )
    assert responder.status_code == 403
    assert PHONE not in anonymous.text + responder.text


async def test_a_supervisor_key_decodes_by_header_or_bearer_as_the_cli_sends_it(api: Api) -> None:
    body = await encrypted_body()
    key = api.keys[Role.SUPERVISOR]
    for credentials in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        answer = await api.http.post(
            "/codec/decode", content=body, headers=ui_headers(**credentials)
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["access-control-allow-origin"] == UI
        assert answer.headers["access-control-allow-credentials"] == "true"
        assert PHONE in decoded_texts(answer.json()) and NAME in decoded_texts(answer.json())
    street = ui_headers(**api.as_person(Role.SUPERVISOR, "P-T01-D", "T01"))
    refused = await api.http.post("/codec/decode", content=body, headers=street)
    assert refused.status_code == 403 and "sees street:T01 only" in refused.text
    assert PHONE not in refused.text


async def test_encode_then_decode_round_trips(api: Api) -> None:
    supervisor = ui_headers(**{"X-API-Key": api.keys[Role.SUPERVISOR]})
    plain = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "IjEzOSI="}]}
    encoded = await api.http.post("/codec/encode", json=plain, headers=supervisor)
    assert encoded.status_code == 200
    [sealed] = encoded.json()["payloads"]
    assert base64.b64decode(sealed["metadata"]["encoding"]) == ENCODING
    decoded = await api.http.post("/codec/decode", json=encoded.json(), headers=supervisor)
    assert decoded.json() == plain


async def test_cors_preflight_admits_the_ui_origin_only(api: Api) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    ui = await api.http.options("/codec/decode", headers={"Origin": UI, **preflight})
    assert ui.status_code == 200
    assert ui.headers["access-control-allow-origin"] == UI
    assert ui.headers["access-control-allow-credentials"] == "true"
    assert "x-namespace" in ui.headers["access-control-allow-headers"].lower()
    other = await api.http.options(
        "/codec/decode", headers={"Origin": "http://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in other.headers


async def sign_in(api: Api, key: str) -> Any:
    """The codec login form, as a browser posts it."""
    return await api.http.post(
        "/codec/login",
        content=f"key={key}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


async def test_a_supervisor_signs_in_once_and_the_ui_sends_the_cookie(api: Api) -> None:
    body = await encrypted_body()
    refused = await sign_in(api, api.keys[Role.RESPONDER])
    assert refused.status_code == 403 and "set-cookie" not in refused.headers
    signed_in = await sign_in(api, api.keys[Role.SUPERVISOR])
    assert signed_in.status_code == 200
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Path=/codec" in cookie
    assert api.keys[Role.SUPERVISOR] not in cookie  # a signed session, not the key
    session = signed_in.cookies["cityops_codec"]
    try:
        api.http.cookies.set("cityops_codec", session, path="/codec")
        answer = await api.http.post("/codec/decode", content=body, headers=ui_headers())
        assert answer.status_code == 200 and PHONE in decoded_texts(answer.json())
        api.http.cookies.clear()
        forged = session[:-1] + ("0" if session[-1] != "0" else "1")
        api.http.cookies.set("cityops_codec", forged, path="/codec")
        refused = await api.http.post("/codec/decode", content=body, headers=ui_headers())
        assert refused.status_code == 401
    finally:
        api.http.cookies.clear()


async def test_revoking_the_key_ends_its_codec_session_at_once(api: Api) -> None:
    body = await encrypted_body()
    key = create_key(api.engine, Role.SUPERVISOR, label="codec-shift", person="P-DIST-D")
    signed_in = await sign_in(api, key)
    assert signed_in.status_code == 200
    session = signed_in.cookies["cityops_codec"]
    try:
        api.http.cookies.set("cityops_codec", session, path="/codec")
        answer = await api.http.post("/codec/decode", content=body, headers=ui_headers())
        assert answer.status_code == 200 and PHONE in decoded_texts(answer.json())
        assert revoke_key(api.engine, key.split("_")[1])
        refused = await api.http.post("/codec/decode", content=body, headers=ui_headers())
        assert refused.status_code == 401 and "revoked" in refused.text
        assert PHONE not in refused.text
    finally:
        api.http.cookies.clear()


async def test_bad_bodies_are_refused_at_the_edge(api: Api) -> None:
    supervisor = ui_headers(**{"X-API-Key": api.keys[Role.SUPERVISOR]})
    not_json = await api.http.post("/codec/decode", content="{payloads", headers=supervisor)
    assert not_json.status_code == 400
    huge = await api.http.post("/codec/decode", content="x" * (5 * 1024 * 1024), headers=supervisor)
    assert huge.status_code == 413
