"""Verification without Temporal: which check applies, the evidence, and a reopen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cityops.domain.models import AlarmEvent, CallbackInput, TicketIntake
from cityops.domain.stages import CallbackResult, ClosureCheck, Source
from cityops.workflows.verification import Verification, distance_m, effective_check, place_of

T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def alarm(sensor: str) -> AlarmEvent:
    return AlarmEvent(
        event_id="e1", device_id="D1", sensor_type=sensor, metric="m", status="firing",
        lat=31.2, lon=121.6, occurred_at=T0,
    )  # fmt: skip


def intake(phone: str | None = None, sensor: str | None = None) -> TicketIntake:
    return TicketIntake(
        ticket_id="T1", source=Source.IOT if sensor else Source.HOTLINE, received_at=T0,
        caller_phone=phone, alarm=alarm(sensor) if sensor else None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("check", "ticket", "expected"),
    [
        (ClosureCheck.SENSOR_RECOVERY, intake(sensor="gas_detector"), ClosureCheck.SENSOR_RECOVERY),
        (ClosureCheck.SENSOR_RECOVERY, intake(phone="139"), ClosureCheck.CALLBACK),
        (ClosureCheck.SENSOR_RECOVERY, intake(), ClosureCheck.PHOTO_REVIEW),
        (ClosureCheck.SENSOR_RECOVERY, intake(sensor="video_ai"), ClosureCheck.PHOTO_REVIEW),
        (ClosureCheck.VIDEO_RECHECK, intake(sensor="video_ai"), ClosureCheck.VIDEO_RECHECK),
        (ClosureCheck.VIDEO_RECHECK, intake(phone="139"), ClosureCheck.PHOTO_REVIEW),
        (ClosureCheck.CALLBACK, intake(phone="139"), ClosureCheck.CALLBACK),
    ],
)
def test_a_check_needs_its_evidence_source(
    check: ClosureCheck, ticket: TicketIntake, expected: ClosureCheck
) -> None:
    assert effective_check(check, ticket) is expected


def test_a_sensor_that_fires_again_after_normal_is_a_refiring() -> None:
    check = Verification()
    check.sensor_fired(T0)
    assert check.refired_at is None  # never normal yet: just the alarm going on
    check.sensor_normal(T0 + timedelta(minutes=1))
    check.sensor_fired(T0 + timedelta(minutes=2))
    assert check.recovered_at is None and check.refired_at == T0 + timedelta(minutes=2)


def test_a_reopen_clears_the_evidence_and_counts() -> None:
    check = Verification()
    check.callback = CallbackInput(result=CallbackResult.UNSATISFIED, by="agent")
    assert not check.callback_passed
    check.sensor_normal(T0)
    check.reopen()
    assert check.reopens == 1
    assert check.callback is None and check.recovered_at is None


def test_distance_and_place() -> None:
    place = place_of(intake(sensor="gas_detector"))
    assert place == (31.2, 121.6)
    assert 100 < distance_m((31.2, 121.6), (31.201, 121.6)) < 120
