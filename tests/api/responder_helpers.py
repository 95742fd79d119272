"""Shared by the responder page tests: submit a ticket, wait for its dispatch, sign the
assignee's page link, read back what the page recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from cityops.api.keys import Role
from cityops.db.page_links import PageActionRow, PhoneRevealRow
from cityops.domain.tokens import sign_page_token
from tests.api.stack import Api
from tests.conftest import eventually

PLACE = (31.2050, 121.6000)  # 张江镇 T01
GARBAGE = {  # CA02: village tier, closed by photo review
    "text": "小区门口暴露垃圾堆了三天没人清运，味道很大",
    "address": "浦东新区张江镇碧波路690号",
    "lat": PLACE[0],
    "lon": PLACE[1],
    "caller_phone": "13900001234",
    "caller_name": "王先生",
    "service_code": "CA02",
}


async def submit(api: Api, **fields: Any) -> str:
    response = await api.http.post(
        "/api/v1/tickets", json={**GARBAGE, **fields}, headers=api.as_role(Role.HOTLINE_AGENT)
    )
    assert response.status_code == 201, response.text
    ticket: str = response.json()["ticket_id"]
    return ticket


async def status(api: Api, ticket: str) -> dict[str, Any]:
    response = await api.http.get(f"/api/v1/tickets/{ticket}", headers=api.as_role(Role.SUPERVISOR))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def dispatched(api: Api, ticket: str) -> dict[str, Any]:
    async def check() -> dict[str, Any]:
        body = await status(api, ticket)
        assert body["stage"] == "awaiting_accept", body["stage"]
        return body

    return await eventually(check)


def page_path(api: Api, ticket: str, person: str, issued: datetime | None = None) -> str:
    token = sign_page_token(ticket, person, issued or datetime.now(UTC), api.settings.secret)
    return f"/r/{token}"


async def open_ticket(api: Api, **fields: Any) -> tuple[str, str, str]:
    """A dispatched ticket, its assignee, and the assignee's page path."""
    ticket = await submit(api, **fields)
    assignee: str = (await dispatched(api, ticket))["assignee_id"]
    return ticket, assignee, page_path(api, ticket, assignee)


def page_actions(api: Api, ticket: str) -> list[tuple[str, str, str]]:
    with Session(api.engine) as session:
        rows = session.exec(
            select(PageActionRow)
            .where(PageActionRow.ticket_id == ticket)
            .order_by(col(PageActionRow.id))
        )
        return [(row.person_id, row.action, row.outcome) for row in rows]


def reveals(api: Api, ticket: str) -> list[tuple[str, str]]:
    with Session(api.engine) as session:
        rows = session.exec(select(PhoneRevealRow).where(PhoneRevealRow.ticket_id == ticket))
        return [(row.person_id, row.reason) for row in rows]
