"""A whole ticket through the API, a worker with the real store and notifier, and a logged
reveal: the captured structlog output and every standard-library record (temporalio,
uvicorn, alembic) hold neither the caller's phone nor their name. The notices the real
templates render show the phone masked."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from sqlmodel import Session
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cityops.activities.channels import OutgoingMessage
from cityops.activities.delivery_log import SqlDeliveryLog
from cityops.activities.dispatch import DispatchActivities
from cityops.activities.grouping import NoticeGroupActivities
from cityops.activities.notify import NotifyActivities, WithDesks, parse_contact
from cityops.activities.store import StoreActivities, TicketRow
from cityops.api.app import create_app
from cityops.api.keys import Role, create_key
from cityops.config import Settings
from cityops.domain.models import HOTLINE_DESK_ID, ContactChannel
from cityops.privacy.keys import load_keyring
from cityops.workers import logging as cityops_logging
from cityops.workers.main import build_worker
from tests.api.stack import seeded_organisation
from tests.conftest import eventually, fresh_queue

PHONE, NAME = "13900001234", "王先生"


class RecordingSender:
    def __init__(self) -> None:
        self.messages: list[OutgoingMessage] = []

    async def send(self, channel: ContactChannel, message: OutgoingMessage) -> None:
        self.messages.append(message)


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """structlog as the processes configure it (JSON), written to a buffer."""
    buffer = io.StringIO()
    monkeypatch.setattr(cityops_logging, "_configured", True)  # the app keeps this config
    structlog.configure(
        processors=cityops_logging.processors("json"),
        logger_factory=structlog.PrintLoggerFactory(file=buffer),
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
    )
    yield buffer
    structlog.reset_defaults()


async def test_a_full_ticket_flow_logs_no_phone_or_name(
    dev_env: WorkflowEnvironment,
    tmp_path: Path,
    captured: io.StringIO,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    org = seeded_organisation(tmp_path)
    settings = Settings(database_url=org.url, task_queue=fresh_queue())
    sender = RecordingSender()
    notify = NotifyActivities(
        directory=WithDesks(
            org.router.directory, {HOTLINE_DESK_ID: [parse_contact("email:desk@example.org")]}
        ),
        delivery_log=SqlDeliveryLog(org.engine),
        settings=settings,
        senders=sender,
    )
    store = StoreActivities(org.engine, load_keyring(settings))
    activities: list[Callable[..., Any]] = [
        *DispatchActivities(router=org.router).activities(),
        notify.send_notice,
        store.record_ticket,
        store.record_event,
        store.record_events,
        NoticeGroupActivities().group_notice,
    ]
    worker = build_worker(dev_env.client, settings.task_queue, activities, check_workflow_code=True)

    async def provide() -> Client:
        return dev_env.client

    app = create_app(settings, provide)
    keys = {role: {"X-API-Key": create_key(org.engine, role)} for role in Role}
    async with (
        worker,
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        submitted = await http.post(
            "/api/v1/tickets",
            json={
                "text": f"我是{NAME}，碧波路690号门口井盖不见了，电话{PHONE}",
                "address": "浦东新区张江镇碧波路690号",
                "caller_phone": PHONE,
                "caller_name": NAME,
                "service_code": "PS03",
            },
            headers=keys[Role.HOTLINE_AGENT],
        )
        assert submitted.status_code == 201, submitted.text
        base = f"/api/v1/tickets/{submitted.json()['ticket_id']}"

        async def dispatched() -> str:
            status = (await http.get(base, headers=keys[Role.RESPONDER])).json()
            assert status["stage"] == "awaiting_accept"
            return str(status["assignee_id"])

        person = await eventually(dispatched)
        responder = {"X-API-Key": create_key(org.engine, Role.RESPONDER, person=person)}

        async def post(path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
            response = await http.post(f"{base}/{path}", json=body, headers=headers)
            assert response.status_code == 200, response.text
            return response.json()

        await post("accept", {"person_id": person}, responder)
        revealed = await post(
            "reveal-phone", {"by": person, "reason": "联系市民确认位置"}, responder
        )
        assert revealed["caller_phone"] == PHONE  # the reveal really happened (and was logged)
        await post("contact", {"person_id": person, "note": f"已电话联系{NAME}"}, responder)
        await post("resolve", {"person_id": person, "note": "已补装井盖"}, responder)
        callback = {"result": "satisfied", "by": "hotline-agent-7"}

        async def verifying() -> None:
            stage = (await http.get(base, headers=responder)).json()["stage"]
            assert stage == "verifying", stage

        await eventually(verifying)
        agent = {"X-API-Key": create_key(org.engine, Role.HOTLINE_AGENT, person="hotline-agent-7")}
        answered = await http.post(f"{base}/callback", json=callback, headers=agent)
        assert answered.status_code in (200, 409), answered.text  # 409: closed already

        async def closed() -> None:  # the register's row: no query replays a closed run
            with Session(org.engine) as session:
                row = session.get(TicketRow, submitted.json()["ticket_id"])
                assert row is not None and row.stage == "closed"

        await eventually(closed)

    logs = captured.getvalue() + "\n".join(r.getMessage() for r in caplog.records)
    for event in ("api_started", "caller_phone_revealed"):
        assert event in logs  # the capture is real: the flow's own events are in it
    assert PHONE not in logs and NAME not in logs

    texts = [m.text for m in sender.messages]
    # Masked, and its asterisks in full-width form: no channel reads them as markdown.
    assert any("来电号码：139＊＊＊＊1234" in text for text in texts)
    assert not any(PHONE in text or NAME in text for text in texts)
