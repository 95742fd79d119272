"""The /a/{token} pages: confirm on GET, accept on POST, clear refusals that are logged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from cityops.api import accept as accept_module
from cityops.api.accept import (
    AcceptOutcome,
    AcceptRefused,
    LinkStale,
    LinkState,
    get_accept_action,
    get_link_check,
    get_now,
    get_token_secret,
    link_state,
)
from cityops.domain.models import TicketStatus
from cityops.domain.stages import Source, Stage
from cityops.domain.tokens import sign_accept_token
from cityops.service import tickets as service_tickets
from cityops.service.tickets import TicketNotFound

SECRET = "accept-page-secret"
NOW = datetime(2026, 9, 30, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=72)


class RecordingAccept:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.refuse_with: Exception | None = None
        self.outcome = AcceptOutcome.ACCEPTED

    async def __call__(self, ticket_id: str, person_id: str) -> AcceptOutcome:
        self.calls.append((ticket_id, person_id))
        if self.refuse_with is not None:
            raise self.refuse_with
        return self.outcome


@pytest.fixture
def accepted() -> RecordingAccept:
    return RecordingAccept()


@pytest.fixture
def client(accepted: RecordingAccept) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(accept_module.router)
    app.dependency_overrides[get_accept_action] = lambda: accepted
    app.dependency_overrides[get_token_secret] = lambda: SECRET
    app.dependency_overrides[get_now] = lambda: NOW
    with TestClient(app) as test_client:
        yield test_client


def token_for(person_id: str = "p-zhang", expires: datetime = LATER, secret: str = SECRET) -> str:
    return sign_accept_token("T20260930-0007", person_id, expires, secret)


def test_get_shows_a_confirm_form_and_accepts_nothing(
    client: TestClient, accepted: RecordingAccept
) -> None:
    token = token_for()
    page = client.get(f"/a/{token}")
    assert page.status_code == 200
    assert "确认接单" in page.text and "Confirm accept" in page.text
    assert "T20260930-0007" in page.text
    assert f'action="/a/{token}"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert accepted.calls == []


def test_post_accepts_as_the_person_the_token_names(
    client: TestClient, accepted: RecordingAccept
) -> None:
    with capture_logs() as logs:
        page = client.post(f"/a/{token_for()}")
    assert page.status_code == 200
    assert "已接单" in page.text and "Accepted" in page.text
    assert accepted.calls == [("T20260930-0007", "p-zhang")]
    assert any(entry["event"] == "accepted_by_link" for entry in logs)


@pytest.mark.parametrize("method", ["get", "post"])
def test_forged_token_is_refused_with_a_page_and_logged(
    client: TestClient, accepted: RecordingAccept, method: str
) -> None:
    with capture_logs() as logs:
        page = client.request(method, f"/a/{token_for(secret='someone-else')}")
    assert page.status_code == 403
    assert "链接无法验证" in page.text and "Link cannot be verified" in page.text
    assert accepted.calls == []
    [refusal] = [entry for entry in logs if entry["event"] == "accept_token_refused"]
    assert refusal["reason"] == "TokenForged"
    assert refusal["log_level"] == "warning"


def test_expired_token_is_refused_naming_its_ticket(
    client: TestClient, accepted: RecordingAccept
) -> None:
    with capture_logs() as logs:
        page = client.post(f"/a/{token_for(expires=NOW - timedelta(minutes=1))}")
    assert page.status_code == 410
    assert "链接已过期" in page.text and "Link expired" in page.text
    assert "T20260930-0007" in page.text
    assert accepted.calls == []
    [refusal] = [entry for entry in logs if entry["event"] == "accept_token_refused"]
    assert refusal["reason"] == "TokenExpired"
    assert refusal["ticket_id"] == "T20260930-0007"


def test_tampered_and_garbage_tokens_are_refused(
    client: TestClient, accepted: RecordingAccept
) -> None:
    token = token_for()
    signature = token.split(".")[1]
    other = token_for(person_id="p-li")
    spliced = f"{other.split('.')[0]}.{signature}"  # Li's payload with Zhang's signature
    assert client.post(f"/a/{spliced}").status_code == 403
    garbage = client.post("/a/not-a-token")
    assert garbage.status_code == 400
    assert "链接无效" in garbage.text
    assert accepted.calls == []


def test_ticket_refusing_the_accept_shows_its_reason(
    client: TestClient, accepted: RecordingAccept
) -> None:
    accepted.refuse_with = AcceptRefused("该工单已升级至街镇，原接单链接不再有效。")
    page = client.post(f"/a/{token_for()}")
    assert page.status_code == 409
    assert "该工单已升级至街镇" in page.text


def test_other_persons_token_is_refused_by_the_ticket(
    client: TestClient, accepted: RecordingAccept
) -> None:
    # Li is not the assignee: the workflow's validator refuses, the page says so.
    accepted.refuse_with = AcceptRefused("您不是该工单的承办人。")
    page = client.post(f"/a/{token_for(person_id='p-li')}")
    assert page.status_code == 409
    assert "您不是该工单的承办人" in page.text
    assert accepted.calls == [("T20260930-0007", "p-li")]


def test_service_failure_says_try_again_and_is_logged(
    client: TestClient, accepted: RecordingAccept
) -> None:
    accepted.refuse_with = RuntimeError("temporal unreachable")
    with capture_logs() as logs:
        page = client.post(f"/a/{token_for()}")
    assert page.status_code == 503
    assert "请稍后再点一次链接" in page.text
    assert any(entry["event"] == "accept_failed" for entry in logs)


def test_unwired_app_answers_unavailable_instead_of_crashing(accepted: RecordingAccept) -> None:
    app = FastAPI()
    app.include_router(accept_module.router)
    app.dependency_overrides[get_token_secret] = lambda: SECRET
    app.dependency_overrides[get_now] = lambda: NOW
    with TestClient(app) as test_client:
        page = test_client.post(f"/a/{token_for()}")
    assert page.status_code == 503


def test_ids_are_html_escaped(client: TestClient) -> None:
    token = sign_accept_token("<script>x</script>", "p-zhang", LATER, SECRET)
    page = client.get(f"/a/{token}")
    assert "<script>x</script>" not in page.text
    assert "&lt;script&gt;" in page.text


def test_a_second_use_says_already_accepted(client: TestClient, accepted: RecordingAccept) -> None:
    accepted.outcome = AcceptOutcome.ALREADY_ACCEPTED
    with capture_logs() as logs:
        page = client.post(f"/a/{token_for()}")
    assert page.status_code == 200
    assert "Already accepted" in page.text and "已接单" in page.text
    assert any(entry["event"] == "accept_link_used_again" for entry in logs)


def test_a_link_the_ticket_no_longer_waits_for_is_gone_and_names_nobody(
    client: TestClient, accepted: RecordingAccept
) -> None:
    accepted.refuse_with = LinkStale("ticket T20260930-0007 no longer waits for p-zhang")
    page = client.post(f"/a/{token_for()}")
    assert page.status_code == 410
    assert "链接已失效" in page.text and "no longer works" in page.text
    assert "p-li" not in page.text  # who holds it now is never said


def status_of(stage: Stage, assignee: str | None, accepted_by: str | None = None) -> TicketStatus:
    return TicketStatus(
        ticket_id="T1",
        stage=stage,
        source=Source.HOTLINE,
        text=None,
        address=None,
        assignee_id=assignee,
        accepted_by=accepted_by,
    )


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (status_of(Stage.AWAITING_ACCEPT, "p-zhang"), LinkState.ACCEPT),
        (status_of(Stage.ESCALATED, "p-zhang"), LinkState.ACCEPT),  # escalated to Zhang
        (status_of(Stage.ESCALATED, "p-li"), LinkState.STALE),  # escalated away from Zhang
        (status_of(Stage.AWAITING_ACCEPT, "p-li"), LinkState.STALE),  # transferred
        (status_of(Stage.ACCEPTED, "p-zhang", "p-zhang"), LinkState.ALREADY),
        (status_of(Stage.CLOSED, "p-zhang", "p-zhang"), LinkState.ALREADY),
        (status_of(Stage.ACCEPTED, "p-li", "p-li"), LinkState.STALE),
        (status_of(Stage.TRIAGE, None), LinkState.STALE),
        (status_of(Stage.DISMISSED, "p-zhang"), LinkState.STALE),
    ],
)
def test_a_link_works_only_while_the_ticket_waits_for_its_person(
    status: TicketStatus, state: LinkState
) -> None:
    assert link_state(status, "p-zhang") is state


# ------------------------------------------------ the confirm page looks at the live ticket


class LiveTicket:
    """The /a pages wired as the app wires them (`_link_check`, `_accept_action`) over a
    ticket whose status query answers `found`; accept updates are recorded, never run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from cityops.api import app as app_module

        self.found: TicketStatus | Exception = status_of(Stage.AWAITING_ACCEPT, "p-zhang")
        self.updates: list[str] = []
        monkeypatch.setattr(service_tickets, "status", self._status)
        monkeypatch.setattr(service_tickets, "update", self._update)
        app = FastAPI()
        app.include_router(accept_module.router)
        no_client: Any = None
        overrides = app.dependency_overrides
        overrides[get_link_check] = lambda: app_module._link_check(no_client, no_client)
        overrides[get_accept_action] = lambda: app_module._accept_action(no_client, no_client)
        overrides[get_token_secret] = lambda: SECRET
        overrides[get_now] = lambda: NOW
        self.http = TestClient(app)

    def __call__(self, found: TicketStatus | Exception) -> TestClient:
        self.found = found
        return self.http

    async def _status(self, *_: object, **__: object) -> TicketStatus:
        if isinstance(self.found, Exception):
            raise self.found
        return self.found

    async def _update(self, _client: object, ticket_id: str, *_: object) -> None:
        self.updates.append(ticket_id)


@pytest.fixture
def live_ticket(monkeypatch: pytest.MonkeyPatch) -> LiveTicket:
    return LiveTicket(monkeypatch)


def test_the_confirm_page_shows_the_button_only_while_the_ticket_waits_for_its_person(
    live_ticket: LiveTicket,
) -> None:
    token = token_for()
    waiting = live_ticket(status_of(Stage.AWAITING_ACCEPT, "p-zhang")).get(f"/a/{token}")
    assert waiting.status_code == 200 and f'action="/a/{token}"' in waiting.text
    mine = live_ticket(status_of(Stage.ACCEPTED, "p-zhang", "p-zhang")).get(f"/a/{token}")
    assert mine.status_code == 200 and "Already accepted" in mine.text
    assert "<form" not in mine.text
    closed = live_ticket(status_of(Stage.CLOSED, "p-li", "p-li")).get(f"/a/{token}")
    assert closed.status_code == 410 and "no longer works" in closed.text
    assert "<form" not in closed.text and "p-li" not in closed.text
    gone = live_ticket(TicketNotFound("no ticket T20260930-0007")).get(f"/a/{token}")
    assert gone.status_code == 410 and "<form" not in gone.text


def test_when_the_ticket_cannot_be_asked_the_confirm_page_is_shown_and_the_post_decides(
    live_ticket: LiveTicket,
) -> None:
    page = live_ticket(RuntimeError("temporal down")).get(f"/a/{token_for()}")
    assert page.status_code == 200 and "Confirm accept" in page.text


def test_a_link_stops_working_once_the_ticket_escalated_past_its_person(
    live_ticket: LiveTicket,
) -> None:
    """Zhang's link, after the accept clock moved the ticket up to Li (his supervisor):
    the page names nobody and offers no button, and a POST accepts nothing. (Zhang may
    still accept with his API key: issue #12, docs/api.md.)"""
    client = live_ticket(status_of(Stage.ESCALATED, "p-li"))
    token = token_for()
    page = client.get(f"/a/{token}")
    assert page.status_code == 410 and "<form" not in page.text and "p-li" not in page.text
    posted = client.post(f"/a/{token}")
    assert posted.status_code == 410 and "no longer works" in posted.text
    assert live_ticket.updates == []
