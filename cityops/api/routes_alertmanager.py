"""``POST /api/v1/alertmanager``: the Prometheus Alertmanager webhook (version 4), so an
existing monitoring stack can raise city alarms.

Each alert becomes one alarm event. Labels carry the alarm fields: ``device_id``,
``sensor_type``, ``metric``, ``lat``, ``lon`` (required), ``value``, ``unit``,
``detection``, ``site`` (optional; annotations are read too, labels win). The alert's
``status`` is the event status; ``startsAt`` (firing) or ``endsAt`` (resolved) is when
it occurred. The event id is built from the alert's fingerprint, start and status, so
Alertmanager re-sending a group (it does, every repeat_interval) is recorded once.
Point Alertmanager at it with ``http_config.authorization.credentials: <sensor_gateway key>``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cityops.api.auth import require
from cityops.api.context import AppContext, get_context
from cityops.api.keys import Caller, Role
from cityops.api.routes_alarms import AlarmReceipt, ingest_payload

router = APIRouter(prefix="/api/v1", tags=["alarms"])
ALARM_LABELS = ("device_id", "sensor_type", "metric", "lat", "lon")
OPTIONAL_LABELS = ("unit", "site", "detection")


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: str = Field(pattern="^(firing|resolved)$")
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: AwareDatetime
    endsAt: AwareDatetime | None = None
    fingerprint: str = Field(default="", max_length=64)


class AlertmanagerPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: str = "4"
    status: str = ""
    alerts: list[Alert] = Field(min_length=1, max_length=1000)


def alert_to_event(alert: Alert, index: int) -> dict[str, Any]:
    """An alarm event dict (validated later with the others), or 422 naming the label."""
    fields = {**alert.annotations, **alert.labels}
    missing = [name for name in ALARM_LABELS if not fields.get(name)]
    if missing:
        raise RequestValidationError(
            [
                {
                    "loc": ["body", "alerts", index, "labels", name],
                    "msg": "label required",
                    "type": "missing",
                }
                for name in missing
            ]
        )
    occurred = alert.startsAt
    if alert.status == "resolved" and alert.endsAt is not None and alert.endsAt.year > 1:
        occurred = alert.endsAt
    identity = alert.fingerprint or f"{fields['device_id']}/{fields['metric']}"
    attributes = {
        name: fields[name] for name in OPTIONAL_LABELS if name in fields and name != "unit"
    }
    return {
        "event_id": f"am-{identity}-{alert.startsAt.isoformat()}-{alert.status}",
        "device_id": fields["device_id"],
        "sensor_type": fields["sensor_type"],
        "metric": fields["metric"],
        "value": _value(fields.get("value")),
        "unit": fields.get("unit"),
        "status": alert.status,
        "lat": fields["lat"],
        "lon": fields["lon"],
        "occurred_at": occurred.isoformat(),
        "attributes": attributes,
    }


def _value(text: str | None) -> float | str | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


@router.post("/alertmanager", response_model=AlarmReceipt)
async def alertmanager_webhook(
    payload: AlertmanagerPayload,
    context: Annotated[AppContext, Depends(get_context)],
    _: Annotated[Caller, Depends(require(Role.SENSOR_GATEWAY))],
) -> AlarmReceipt:
    events = [alert_to_event(alert, index) for index, alert in enumerate(payload.alerts)]
    return await ingest_payload(context, events, where=_alert_location)


def _alert_location(loc: list[Any]) -> list[Any]:
    """Event (index, field) back to the alert's label that carried it."""
    index, *field = loc
    return ["body", "alerts", index, "labels", *field]
