"""A bench level the stack cannot carry ends as a figure: how many of how many tickets sent
no notice in time (growth prints it and stops), not a traceback."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

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
