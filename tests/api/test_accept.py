"""The /a/{token} pages: confirm on GET, accept on POST, clear refusals that are logged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

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
    get_now,
    get_token_secret,
    link_state,
)
from cityops.domain.models import TicketStatus
from cityops.domain.stages import Source, Stage
from cityops.domain.tokens import sign_accept_token

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
