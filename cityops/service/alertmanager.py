"""The Prometheus Alertmanager webhook (version 4) as alarm events, alert by alert.

Each alert becomes one alarm event. Labels carry the alarm fields: ``device_id``,
``sensor_type``, ``metric``, ``lat``, ``lon`` (required), ``value``, ``unit``,
``detection``, ``site`` (optional; annotations are read too, labels win). The alert's
``status`` is the event status; ``startsAt`` (firing) or ``endsAt`` (resolved) is when
it occurred. The event id is built from the alert's fingerprint, start and status, so
Alertmanager re-sending a group (it does, every repeat_interval) is recorded once.

Pure: no I/O. An alert that cannot be an event raises ``ItemRefused`` naming the alert
field or label (``labels.lat``), so one malformed alert never blocks its group.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from cityops.domain.models import WireTimestamp, WireTimestampOrZero
from cityops.service.items import ItemRefused, first_error

ALARM_LABELS = ("device_id", "sensor_type", "metric", "lat", "lon")
OPTIONAL_LABELS = ("site", "detection")
LabelName = Annotated[str, Field(max_length=100)]
LabelText = Annotated[str, Strict(), Field(max_length=1000)]
Labels = Annotated[dict[LabelName, LabelText], Field(max_length=100)]


class Alert(BaseModel):
    """One alert of a webhook group, as Alertmanager 0.25 sends it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: Labels = Field(default_factory=dict)
    startsAt: WireTimestamp
    endsAt: WireTimestampOrZero | None = Field(
        default=None, description='"0001-01-01T00:00:00Z" while firing'
    )
    generatorURL: str = Field(default="", max_length=2000)
    fingerprint: str = Field(default="", max_length=64)


class AlertGroup(BaseModel):
    """The webhook body (version 4). Only ``alerts`` is needed; the rest is context."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: str = Field(default="4", max_length=8)
    groupKey: str = Field(default="", max_length=2000)
    truncatedAlerts: int = 0
    status: Literal["firing", "resolved"] | None = None
    receiver: str = Field(default="", max_length=200)
    groupLabels: Labels = Field(default_factory=dict)
    commonLabels: Labels = Field(default_factory=dict)
    commonAnnotations: Labels = Field(default_factory=dict)
    externalURL: str = Field(default="", max_length=2000)
    alerts: list[Alert]


def alert_event(raw: Any) -> dict[str, Any]:
    """The alarm event (as a dict, validated by the caller) an alert stands for."""
    try:
        alert = Alert.model_validate(raw)
    except ValidationError as exc:
        raise ItemRefused(*first_error(exc)) from exc
    fields = {**alert.annotations, **alert.labels}
    missing = [name for name in ALARM_LABELS if not fields.get(name)]
    if missing:
        raise ItemRefused(f"labels.{missing[0]}", "label required: " + ", ".join(missing))
    occurred = alert.startsAt
    if alert.status == "resolved" and alert.endsAt is not None and alert.endsAt.year > 1:
        occurred = alert.endsAt
    identity = (
        alert.fingerprint
        or hashlib.sha256(f"{fields['device_id']}/{fields['metric']}".encode()).hexdigest()[:16]
    )
    return {
        "event_id": f"am-{identity}-{alert.startsAt.isoformat()}-{alert.status}",
        "device_id": fields["device_id"],
        "sensor_type": fields["sensor_type"],
        "metric": fields["metric"],
        "value": _value(fields.get("value")),
        "unit": fields.get("unit"),
        "status": alert.status,
        "lat": _number(fields["lat"], "lat"),
        "lon": _number(fields["lon"], "lon"),
        "occurred_at": occurred.isoformat(),
        "attributes": {name: fields[name] for name in OPTIONAL_LABELS if name in fields},
    }


def event_field(loc: str) -> str:
    """An alarm event field back to the alert part that carried it."""
    head = loc.split(".", 1)[0]
    if head == "occurred_at":
        return "startsAt"
    if head in ("event_id", "status"):
        return head if head == "status" else "fingerprint"
    if head == "attributes":
        return "labels." + loc.split(".", 1)[-1]
    return f"labels.{loc}"


def _number(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise ItemRefused(f"labels.{name}", f"not a number: {text[:40]!r}") from exc


def _value(text: str | None) -> float | str | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text
