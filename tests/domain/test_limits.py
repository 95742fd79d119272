"""The limit table: one module, every edge. Each limit refuses one character too many and
a lone surrogate, naming the field; the OpenAPI document bounds every string a request
takes; docs/api.md shows the module's table; alarm attributes and instants are bounded."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, ValidationError, create_model

from cityops.api.app import create_app
from cityops.config import Settings
from cityops.domain import limits
from cityops.domain.limits import TABLE, Limit, fitted_key, markdown_table, refuse_overlong
from cityops.domain.models import AlarmEvent, UrgeInput
from cityops.service.items import ItemRefused, as_text, read_event

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
EVENT: dict[str, Any] = {
    "event_id": "e-1",
    "device_id": "GAS-1",
    "sensor_type": "gas_detector",
    "metric": "lel_percent",
    "status": "firing",
    "lat": 31.2,
    "lon": 121.6,
    "occurred_at": "2026-11-28T23:30:00+08:00",
    "attributes": {"site": "碧波路690号"},
}


def _model(limit: Limit) -> type[BaseModel]:
    return create_model("Probe", field=(Annotated[str, limit], ...))


@pytest.mark.parametrize("limit", TABLE, ids=[limit.name for limit in TABLE])
def test_every_limit_takes_its_length_and_refuses_one_more_naming_the_field(
    limit: Limit,
) -> None:
    probe = _model(limit)
    assert probe(field="字" * limit.max_length).model_dump()["field"] == "字" * limit.max_length
    with pytest.raises(ValidationError) as too_long:
        probe(field="字" * (limit.max_length + 1))
    (error,) = too_long.value.errors()
    assert error["loc"] == ("field",) and error["type"] == "string_too_long"
    if limit.min_length:
        with pytest.raises(ValidationError) as too_short:
            probe(field="x" * (limit.min_length - 1))
        assert too_short.value.errors()[0]["type"] == "string_too_short"
    with pytest.raises(ValidationError) as not_unicode:
        probe(field="a\ud800" + "b" * limit.min_length)
    assert not_unicode.value.errors()[0]["type"] == "string_unicode"


def test_the_table_in_the_docs_is_the_modules() -> None:
    text = DOCS.read_text("utf-8")
    start = text.index("<!-- limits-table")
    body = text[text.index("\n", start) + 1 : text.index("<!-- /limits-table -->")]
    assert body == markdown_table()


# Path values of the HTML pages, checked by their handlers: a token is verified (an
# over-long one is no token: 400/403 page), a photo key must match the store's pattern, a
# ticket number the page's (404 page).
CHECKED_BY_HANDLER = {"token", "photo_id", "action", "ticket_id@/tickets/{ticket_id}"}


def _unbounded(schema: dict[str, Any], components: dict[str, Any], seen: set[str]) -> list[str]:
    """Every string in `schema` without maxLength (an enum or constant is bounded)."""
    found: list[str] = []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return []
        return [f"{name}.{p}" for p in _unbounded(components[name], components, seen | {name})]
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            found += _unbounded(option, components, seen)
    kind = schema.get("type")
    bounded = {"maxLength", "enum", "const"} & schema.keys()
    timed = schema.get("format") in ("date-time", "date", "duration", "binary")
    if kind == "string" and not bounded and not timed:
        found.append("")
    if kind == "object":
        for name, sub in schema.get("properties", {}).items():
            found += [f"{name}{'.' + p if p else ''}" for p in _unbounded(sub, components, seen)]
    if kind == "array":
        found += [f"[]{p}" for p in _unbounded(schema.get("items", {}), components, seen)]
    return found


def test_every_string_a_request_takes_has_a_length_limit_in_the_openapi_document() -> None:
    document = create_app(Settings()).openapi()
    components = document["components"]["schemas"]
    unbounded: list[str] = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                name = parameter["name"]
                if name in CHECKED_BY_HANDLER or f"{name}@{path}" in CHECKED_BY_HANDLER:
                    continue
                if _unbounded(parameter.get("schema", {}), components, set()):
                    unbounded.append(f"{method.upper()} {path} {parameter['in']} {name}")
            body = operation.get("requestBody", {}).get("content", {})
            for kind, content in body.items():
                if kind.startswith("multipart/"):
                    continue  # the responder page's form: its handler checks each field
                for field in _unbounded(content["schema"], components, set()):
                    unbounded.append(f"{method.upper()} {path} body {field}")
    assert unbounded == []


def test_an_alarm_site_over_an_address_is_refused_naming_attributes_site() -> None:
    assert read_event({**EVENT, "attributes": {"site": "路" * 500}}).site == "路" * 500
    with pytest.raises(ItemRefused) as caught:
        read_event({**EVENT, "attributes": {"site": "路" * 501}})
    assert caught.value.field == "attributes.site"
    with pytest.raises(ItemRefused) as caught:
        read_event({**EVENT, "attributes": {"site": {"nested": "x"}}})
    assert caught.value.field == "attributes.site"


@pytest.mark.parametrize(
    "attributes",
    [
        {f"k{i}": i for i in range(33)},  # too many names
        {"blob": "x" * 5000},  # too large as JSON
        {"reading": float("nan")},  # not plain JSON
        {"note": "\ud800"},  # not Unicode
        {"n" * 65: 1},  # a name over its limit
    ],
)
def test_alarm_attributes_are_bounded_as_a_whole(attributes: dict[str, Any]) -> None:
    with pytest.raises(ItemRefused) as caught:
        read_event({**EVENT, "attributes": attributes})
    assert caught.value.field == "attributes"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"occurred_at": "9999-12-31T23:59:59+00:00"}, "occurred_at"),
        ({"occurred_at": "0001-01-01T00:00:00+00:00"}, "occurred_at"),
        ({"lat": float("nan")}, "lat"),
        ({"lon": float("inf")}, "lon"),
        ({"value": "v" * 65}, "value"),
        ({"value": [1]}, "value"),
        ({"value": float("nan")}, "value"),
        ({"unit": "\ud800"}, "unit"),
        ({"event_id": "e" * 129}, "event_id"),
    ],
)
def test_hostile_alarm_values_are_refused_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ItemRefused) as caught:
        read_event({**EVENT, **change})
    assert caught.value.field == field


def test_a_refused_payload_with_a_lone_surrogate_is_stored_as_escapes() -> None:
    stored = as_text({"event_id": "\ud800", "site": "碧波路"})
    stored.encode("utf-8")  # storable
    assert "\\ud800" in stored


def test_a_validator_refuses_a_message_built_around_the_limits() -> None:
    """What a workflow's update validators call: a message that skipped validation (sent
    with Temporal's own tools) is refused naming the field."""
    refuse_overlong(UrgeInput(by="P-1", note="催" * 2000))
    sneaked = UrgeInput.model_construct(by="P-1", note="催" * 2001)
    with pytest.raises(ValueError, match=r"^note: String should have at most 2000"):
        refuse_overlong(sneaked)


def test_a_long_register_key_keeps_its_length_and_stays_distinct() -> None:
    assert fitted_key("碧波路690号") == "碧波路690号"
    one, other = fitted_key("路" * 300 + "1"), fitted_key("路" * 300 + "2")
    assert len(one) == len(other) == limits.KEY_LENGTH and one != other
    assert fitted_key("路" * 300 + "1") == one


def test_a_valid_event_still_reads() -> None:
    event = read_event(EVENT)
    assert isinstance(event, AlarmEvent) and event.site == "碧波路690号"
