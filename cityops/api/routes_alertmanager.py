"""``POST /api/v1/alertmanager``: the Prometheus Alertmanager webhook (version 4), so an
existing monitoring stack can raise city alarms (conversion: service/alertmanager.py).

A group Alertmanager sends is answered 200 once every alert in it has an outcome: the
valid ones become events, a malformed one is ``rejected`` and kept as a dead letter, so
one bad alert never makes Alertmanager give up on its group. Only a body that is not
JSON or has no ``alerts`` list is refused whole (422); Temporal down is 503, which
Alertmanager retries. Point Alertmanager at it with
``http_config.authorization.credentials: <sensor_gateway key>``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError

from cityops.api.auth import require
from cityops.api.bodies import json_body
from cityops.api.context import AppContext, get_context
from cityops.api.keys import Caller, Role
from cityops.api.openapi_docs import json_body as body_doc
from cityops.api.openapi_docs import responses
from cityops.api.routes_alarms import AlarmReceipt, origin_of, submit_items
from cityops.db.deadletters import Channel
from cityops.service.alarms import Incoming
from cityops.service.alertmanager import AlertGroup

router = APIRouter(prefix="/api/v1", tags=["alarms"])


@router.post(
    "/alertmanager",
    response_model=AlarmReceipt,
    responses=responses(401, 403, 413, 422, 503),
    openapi_extra=body_doc(AlertGroup, "An Alertmanager webhook group (version 4)"),
)
async def alertmanager_webhook(
    request: Request,
    context: Annotated[AppContext, Depends(get_context)],
    caller: Annotated[Caller, Depends(require(Role.SENSOR_GATEWAY))],
) -> AlarmReceipt:
    """Each alert's outcome, in order; malformed alerts are `rejected` and kept."""
    payload = await json_body(request)
    alerts = payload.get("alerts") if isinstance(payload, dict) else None
    if not isinstance(alerts, list):
        raise RequestValidationError(
            [
                {
                    "loc": ["body", "alerts"],
                    "msg": "an Alertmanager group has a list of alerts",
                    "type": "missing",
                }
            ]
        )
    receiver = payload.get("receiver")
    group = payload.get("groupKey")
    origin = origin_of(
        caller, f"alertmanager receiver {str(receiver)[:60]} group {str(group)[:160]}"
    )
    items = [Incoming(alert, index, origin) for index, alert in enumerate(alerts)]
    return await submit_items(context, items, Channel.ALERTMANAGER, caller)
