"""No input gives a 500: the cases issue 14 found, one by one, then hostile values drawn by
hypothesis against the edge models (never anything but a validation error naming the
field, and an error answer that always renders) and against several routes of a served
API (never a 500; a 422 names a field of the request)."""

from __future__ import annotations

import asyncio
import json
import math
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from cityops.api.errors import safe_errors
from cityops.api.keys import Role
from cityops.api.routes_open311 import RequestForm
from cityops.api.routes_privacy import RevealRequest
from cityops.db.audit import events_of_ticket
from cityops.domain import limits
from cityops.domain.calls import ConvertInput, RateInput, ReplyInput
from cityops.domain.limits import Limit
from cityops.domain.models import (
    AcceptInput,
    AlarmEvent,
    CallbackInput,
    DismissInput,
    ExtensionRequest,
    PauseInput,
    ResolveInput,
    ReturnInput,
    ReviewInput,
    RuleClosureInput,
    TransferInput,
    TriageDecision,
    UrgeInput,
)
from cityops.domain.silences import SilenceSpec
from cityops.domain.submission import KindQuestion, SubmitTicket
from tests.api.stack import Api

NOW = datetime.now(UTC).isoformat()


async def post_raw(api: Api, path: str, body: str, role: Role) -> httpx.Response:
    """A JSON body sent as written (NaN, Infinity, escapes and all)."""
    headers = {"content-type": "application/json", **api.as_role(role)}
    return await api.http.post(path, content=body.encode(), headers=headers)


def gas(event_id: str, **change: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "device_id": f"GAS-{event_id}",
        "sensor_type": "gas_detector",
        "metric": "lel_percent",
        "value": 27.5,
        "status": "firing",
        "lat": 31.2051,
        "lon": 121.6003,
        "occurred_at": NOW,
        "attributes": {"site": "碧波路690号地下车库"},
        **change,
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{datetime.now(UTC).strftime('%H%M%S%f')}"


# ------------------------------------------------------------------------ the named cases


async def test_an_over_long_site_is_a_dead_letter_and_its_batch_neighbour_is_recorded(
    api: Api,
) -> None:
    good, bad = unique("good"), unique("bad")
    body = [gas(good), gas(bad, attributes={"site": "路" * 501})]
    answer = await api.http.post(
        "/api/v1/alarms", json=body, headers=api.as_role(Role.SENSOR_GATEWAY)
    )
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["results"]
    assert first["outcome"] == "new_ticket" and first["ticket_id"]
    assert second["outcome"] == "rejected" and second["field"] == "attributes.site"
    assert second["dead_letter_id"] is not None
    assert [row.event_id for row in events_of_ticket(api.engine, first["ticket_id"])] == [good]


async def test_an_alarm_of_year_9999_or_with_a_nan_is_refused_naming_the_field(api: Api) -> None:
    events = [
        json.dumps(gas(unique("y"), occurred_at="9999-12-31T23:59:59+00:00")),
        json.dumps(gas(unique("n"))).replace('"lat": 31.2051', '"lat": NaN'),
        json.dumps(gas(unique("i"))).replace('"lon": 121.6003', '"lon": 1e309'),
        json.dumps(gas(unique("s"), unit="\ud800")),  # written as the escape \\ud800
    ]
    body = "[" + ", ".join(events) + "]"
    answer = await post_raw(api, "/api/v1/alarms", body, Role.SENSOR_GATEWAY)
    assert answer.status_code == 200, answer.text
    fields = [r["field"] for r in answer.json()["results"]]
    assert fields == ["occurred_at", "lat", "lon", "unit"]
    assert all(r["dead_letter_id"] is not None for r in answer.json()["results"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"text": "\\ud800"}', "text"),
        ('{"text": "井盖没了", "lat": NaN, "lon": 121.6}', "lat"),
        ('{"text": "井盖没了", "lat": 31.2, "lon": Infinity}', "lon"),
        ('{"text": "井盖没了", "lat": -Infinity, "lon": 121.6}', "lat"),
        ('{"text": "井盖没了", "lat": 1e309, "lon": 121.6}', "lat"),
        ('{"text": "   "}', "text"),
        ('{"text": "井盖", "caller_name": "' + "王" * 65 + '"}', "caller_name"),
    ],
)
async def test_a_hostile_ticket_is_422_naming_the_field_and_the_answer_renders(
    api: Api, body: str, field: str
) -> None:
    answer = await post_raw(api, "/api/v1/tickets", body, Role.HOTLINE_AGENT)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert detail[0]["loc"] == ["body", field], detail


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("urge", {"by": "P-1", "note": "催" * 2001}, "note"),
        ("urge", {"by": "P" * 65}, "by"),
        ("callback", {"result": "satisfied", "by": "a", "note": "谢" * 2001}, "note"),
        ("review", {"decision": "approved", "by": "d", "reason": "否" * 2001}, "reason"),
        ("triage", {"scenario_id": "PS03", "by": "d", "note": "分" * 2001}, "note"),
        (
            "resolve",
            {
                "person_id": "P",
                "photo": {"url": "h" * 2001, "taken_at": NOW, "lat": 31.2, "lon": 121.6},
            },
            "photo",
        ),
        ("extension", {"person_id": "P", "new_deadline": "9999-01-01T00:00:00Z", "reason": "x"},
         "new_deadline"),
        ("transfer", {"by": "d", "target_unit": "T" * 33, "reason": "x"}, "target_unit"),
        ("rate", {"result": "satisfied", "by": "a", "note": "好" * 2001}, "note"),
        ("reply", {"by": "a", "reply": "回" * 2001}, "reply"),
    ],
)  # fmt: skip
async def test_an_over_long_action_is_422_naming_the_field(
    api: Api, action: str, body: dict[str, Any], field: str
) -> None:
    answer = await api.http.post(
        f"/api/v1/tickets/PD1/{action}", json=body, headers=api.as_role(Role.SUPERVISOR)
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"][:2] == ["body", field]


async def test_a_ticket_that_answers_no_query_is_a_page_and_a_409_not_a_500(api: Api) -> None:
    """A ticket whose workflow cannot even read its input (as one frozen by an oversized
    history could not answer): its status query fails."""
    ticket = unique("BROKEN").replace("-", "")
    await api.client.start_workflow(
        "TicketWorkflow",
        {"ticket_id": 7, "garbage": True},
        id=f"ticket-{ticket}",
        task_queue=api.settings.task_queue,
    )
    page = await api.http.get(f"/tickets/{ticket}")
    assert page.status_code == 503 and "cannot be read now" in page.text, page.text
    assert page.headers["content-type"].startswith("text/html")
    read = await api.http.get(f"/api/v1/tickets/{ticket}", headers=api.as_role(Role.SUPERVISOR))
    assert read.status_code == 409 and "cannot be read now" in read.json()["detail"]


# --------------------------------------------------------------------- hostile values, drawn

# Text of every kind: any code point (lone surrogates included), long runs, markup.
HOSTILE_TEXT = st.one_of(
    st.text(st.characters(codec=None), max_size=40),
    st.text(st.characters(codec=None), min_size=1, max_size=3).map(lambda s: s * 1500),
    st.sampled_from(["\ud800", "\n\n[一键接单](http://evil.example/a/steal)", "<script>", ""]),
)
HOSTILE_NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0]),
)
HOSTILE = st.recursive(
    st.one_of(st.none(), st.booleans(), HOSTILE_NUMBER, HOSTILE_TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=8,
)

EDGE_MODELS: list[type[BaseModel]] = [
    SubmitTicket,
    KindQuestion,
    AcceptInput,
    UrgeInput,
    CallbackInput,
    ReviewInput,
    TriageDecision,
    ResolveInput,
    PauseInput,
    ExtensionRequest,
    ReturnInput,
    TransferInput,
    DismissInput,
    RuleClosureInput,
    RateInput,
    ReplyInput,
    ConvertInput,
    RevealRequest,
    SilenceSpec,
    AlarmEvent,
    RequestForm,
]


def bodies(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the model's own fields (some of them) and stray ones, hostile values."""
    names = st.sampled_from(sorted(model.model_fields))
    return st.dictionaries(st.one_of(names, names, st.text(max_size=6)), HOSTILE, max_size=8)


def _string_limits(model: type[BaseModel]) -> dict[str, Limit]:
    found: dict[str, Limit] = {}
    for name, info in model.model_fields.items():
        for meta in info.metadata:
            if isinstance(meta, Limit):
                found[name] = meta
    return found


@pytest.mark.parametrize("model", EDGE_MODELS, ids=lambda m: m.__name__)
def test_an_edge_model_takes_or_refuses_any_value_naming_the_field(
    model: type[BaseModel],
) -> None:
    fields = set(model.model_fields)

    @settings(max_examples=80, deadline=None, database=None)
    @given(body=bodies(model))
    def check(body: dict[str, Any]) -> None:
        try:
            taken = model.model_validate(body)
        except ValidationError as exc:
            errors = exc.errors()
            assert errors
            for error in errors:
                loc = error["loc"]
                assert loc == () or loc[0] in fields or loc[0] in body, error
            # The answer a route gives for it always encodes.
            json.dumps(safe_errors(errors), allow_nan=False).encode("utf-8")
            return
        for name, limit in _string_limits(model).items():
            value = getattr(taken, name)
            if isinstance(value, str):
                assert len(value) <= limit.max_length
                value.encode("utf-8")

    check()


# The routes a served API is probed on, with the key that opens each.
ROUTES: list[tuple[str, str, type[BaseModel] | None]] = [
    ("POST", "/api/v1/tickets", SubmitTicket),
    ("POST", "/api/v1/tickets/PD1/urge", UrgeInput),
    ("POST", "/api/v1/tickets/PD1/resolve", ResolveInput),
    ("POST", "/api/v1/tickets/kind-suggestion", KindQuestion),
    ("POST", "/api/v1/alarms", AlarmEvent),
    ("POST", "/open311/v2/requests.json", RequestForm),
]


def _probe(base_url: str, key: str, method: str, path: str, model: type[BaseModel]) -> None:
    """Runs in a thread (the served API shares the test's event loop)."""
    fields = set(model.model_fields)

    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(body=bodies(model))
    def check(body: dict[str, Any]) -> None:
        content = json.dumps(body, ensure_ascii=True, allow_nan=True).encode()
        headers = {"content-type": "application/json", "X-API-Key": key}
        with httpx.Client(base_url=base_url, timeout=30) as http:
            answer = http.request(method, path, content=content, headers=headers)
        assert answer.status_code < 500, (answer.status_code, answer.text[:500])
        if answer.status_code == 422 and path.startswith("/api/"):
            for error in answer.json()["detail"]:
                loc = error["loc"]
                named = len(loc) < 2 or loc[1] in fields or loc[1] in body
                assert loc[0] == "body" and named, error

    check()


@pytest.mark.parametrize(("method", "path", "model"), ROUTES, ids=[p for _, p, _ in ROUTES])
async def test_a_served_route_never_answers_500_to_hostile_values(
    served: Api, method: str, path: str, model: type[BaseModel]
) -> None:
    key = served.keys[Role.SUPERVISOR]
    await asyncio.to_thread(_probe, served.base_url, key, method, path, model)


def test_the_limits_the_probes_rely_on_are_the_tables() -> None:
    assert _string_limits(UrgeInput) == {"by": limits.PERSON_ID, "note": limits.NOTE}
