"""Stall without Temporal: a wait whose chain pressed its top in vain, supervised daily."""

from __future__ import annotations

from datetime import UTC, datetime

from cityops.activities.testing import DUTY_SUPERVISOR
from cityops.domain.stages import Clock
from cityops.workflows.stall import Stall

AT = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def test_a_stall_names_its_wait_and_who_was_told_until_it_ends() -> None:
    stall = Stall()
    assert not stall.active and not stall.on(Clock.ACCEPT)
    stall.begin(Clock.ACCEPT, AT)
    assert stall.active and stall.on(Clock.ACCEPT) and not stall.on(Clock.TRIAGE)
    assert stall.since == AT and stall.supervisor is None
    stall.supervised(DUTY_SUPERVISOR)
    stall.supervised(DUTY_SUPERVISOR)
    assert stall.supervisions == 2 and stall.supervisor == DUTY_SUPERVISOR
    stall.end()
    assert not stall.active and stall.since is None and stall.supervisions == 0
