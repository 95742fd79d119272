"""A bench level the stack cannot carry ends as a figure: how many of how many tickets sent
no notice in time (growth prints it and stops), not a traceback."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest

from cityops.benchmarks import intake
from cityops.benchmarks.intake import NoticesLate, wait_for_notices


def a_stack(notified: dict[str, float]) -> Any:
    return cast(Any, SimpleNamespace(receiver=SimpleNamespace(first_by_device=notified)))


async def test_tickets_without_a_notice_in_time_are_counted() -> None:
    stack = a_stack({"D-1": 1.0})
    with pytest.raises(NoticesLate) as late:
        await wait_for_notices(stack, {"D-1", "D-2", "D-3"}, timeout=0.05)
    assert (late.value.late, late.value.of) == (2, 3)
    assert str(late.value) == "2 of 3 devices' tickets sent no notice within 0 s"


async def test_every_ticket_notified_returns() -> None:
    await wait_for_notices(a_stack({"D-1": 1.0, "D-2": 2.0}), {"D-1", "D-2"}, timeout=0.05)


async def test_a_batch_whose_connection_the_server_closed_is_sent_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As a gateway does: the intake counts each event_id once, so sending again is safe."""
    monkeypatch.setattr("cityops.benchmarks.intake.asyncio.sleep", _no_pause)
    tries: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        tries.append(1)
        if len(tries) == 1:
            raise httpx.ReadError("closed under the request", request=request)
        return httpx.Response(200, json={"results": [{"outcome": "new_ticket"}]})

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://intake")
    stack = cast(Any, SimpleNamespace(http=http, retried=0))
    assert await intake.post_alarms(stack, [{"event_id": "E-1"}]) == [{"outcome": "new_ticket"}]
    assert len(tries) == 2 and stack.retried == 1
    await http.aclose()


async def _no_pause(_: float) -> None:
    return None
