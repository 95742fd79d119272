"""How far the working calendar is confirmed (issue 10). Every test passes its own "today"
and, where the official data matters, its own OfficialCalendar: nothing depends on the
date the suite runs or on which chinese_calendar release is installed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cityops.activities.dispatch import DispatchActivities
from cityops.activities.testing import FakeRouter
from cityops.domain.models import DeadlinesRequest
from cityops.rules.calendar import (
    OFFICIAL,
    OfficialCalendar,
    WorkingHours,
    deadline_after,
    is_working_day,
)
from cityops.rules.calendar_coverage import (
    LISTED,
    SpecialDayKind,
    calendar_coverage,
    listing_notes,
    special_days,
    unconfirmed_after,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

# A release that knows one year: the shape chinese_calendar's tables have (a break that
# spans a weekend, and the Saturday worked to make up for it).
RELEASE_2086 = OfficialCalendar(
    holidays={
        date(2086, 10, 1): "National Day",
        date(2086, 10, 2): "National Day",
        date(2086, 10, 3): "National Day",
        date(2086, 10, 4): "National Day",
        date(2086, 10, 5): "National Day",
        date(2086, 10, 6): "National Day",
        date(2086, 10, 7): "National Day",
    },
    workdays={date(2086, 10, 12): "National Day"},
    release="chinese_calendar 9.0 (test)",
)
# The next release: the same tables plus the following year's schedule.
RELEASE_2087 = OfficialCalendar(
    holidays={**RELEASE_2086.holidays, date(2087, 1, 1): "New Year's Day"},
    workdays={**RELEASE_2086.workdays, date(2087, 1, 4): "New Year's Day"},
    release="chinese_calendar 9.1 (test)",
)


def sh(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


# --------------------------------------------------------------------------- coverage


def test_a_calendar_that_ends_in_four_weeks_is_short_and_says_so_loudly() -> None:
    coverage = calendar_coverage(WorkingHours(), date(2086, 12, 3), RELEASE_2086)
    assert coverage.confirmed_through == date(2086, 12, 31)
    assert coverage.days_ahead == 28
    assert coverage.short
    warning = coverage.warning()
    assert warning is not None
    assert "NOT CONFIRMED AFTER 2086-12-31" in warning
    assert "in 28 days" in warning and "fewer than 60" in warning


def test_sixty_days_ahead_is_enough_and_fifty_nine_is_not() -> None:
    last = RELEASE_2086.last_day
    enough = calendar_coverage(WorkingHours(), last - timedelta(days=60), RELEASE_2086)
    assert (enough.days_ahead, enough.short, enough.warning()) == (60, False, None)
    short = calendar_coverage(WorkingHours(), last - timedelta(days=59), RELEASE_2086)
    assert (short.days_ahead, short.short) == (59, True)


def test_a_calendar_already_run_out_says_already() -> None:
    coverage = calendar_coverage(WorkingHours(), date(2087, 2, 1), RELEASE_2086)
    assert coverage.days_ahead < 0
    assert "(already;" in (coverage.warning() or "")


def test_a_newer_release_extends_the_calendar_without_a_code_change() -> None:
    """Coverage comes from the release's tables: one more year of data, one more year."""
    today = date(2086, 12, 3)
    assert calendar_coverage(WorkingHours(), today, RELEASE_2087).confirmed_through == date(
        2087, 12, 31
    )
    assert not calendar_coverage(WorkingHours(), today, RELEASE_2087).short
    # ... and the arithmetic follows the new year's holidays and make-up day.
    assert is_working_day(date(2087, 1, 1), WorkingHours(), RELEASE_2086)  # unknown: Wednesday
    assert not is_working_day(date(2087, 1, 1), WorkingHours(), RELEASE_2087)
    assert is_working_day(date(2087, 1, 4), WorkingHours(), RELEASE_2087)  # make-up Saturday


def test_the_installed_release_is_read_from_its_own_tables() -> None:
    assert OFFICIAL.last_day == date(max(OFFICIAL.holidays).year, 12, 31)
    assert OFFICIAL.covers(OFFICIAL.last_day.year)
    assert not OFFICIAL.covers(OFFICIAL.last_day.year + 1)


def test_a_year_listed_in_full_is_confirmed_by_the_file() -> None:
    hours = WorkingHours(
        extra_holidays=frozenset({date(2087, 1, 1)}),
        extra_workdays=frozenset({date(2087, 1, 4)}),
        confirmed_through=date(2087, 12, 31),
    )
    coverage = calendar_coverage(hours, date(2086, 12, 3), RELEASE_2086)
    assert coverage.confirmed_through == date(2087, 12, 31)
    assert coverage.source == LISTED
    assert not coverage.short


def test_an_old_confirmed_through_never_shortens_the_official_years() -> None:
    hours = WorkingHours(confirmed_through=date(2085, 12, 31))
    assert calendar_coverage(hours, date(2086, 6, 1), RELEASE_2086).confirmed_through == date(
        2086, 12, 31
    )


# --------------------------------------------------------------------------- special days


def test_next_special_days_list_a_listed_holiday_and_a_listed_make_up_day() -> None:
    hours = WorkingHours(
        extra_holidays=frozenset({date(2087, 1, 1)}),
        extra_workdays=frozenset({date(2087, 1, 5)}),  # a Sunday worked
    )
    found = special_days(hours, date(2086, 9, 1), date(2087, 1, 31), RELEASE_2086)
    assert [(d.day, d.kind, d.source) for d in found] == [
        *[(date(2086, 10, n), SpecialDayKind.HOLIDAY, RELEASE_2086.release) for n in range(1, 8)],
        (date(2086, 10, 12), SpecialDayKind.MAKE_UP_WORKDAY, RELEASE_2086.release),
        (date(2087, 1, 1), SpecialDayKind.HOLIDAY, LISTED),
        (date(2087, 1, 5), SpecialDayKind.MAKE_UP_WORKDAY, LISTED),
    ]
    assert found[0].name == "国庆节 National Day"
    assert "调休上班" in found[7].name


def test_the_listed_days_change_the_deadline_in_an_unconfirmed_year() -> None:
    """A P3 resolve budget (3 working days) from Tuesday 2086-12-31 17:30: the listed New
    Year's Day off, Thursday and Friday worked, the listed Sunday worked."""
    hours = WorkingHours(
        extra_holidays=frozenset({date(2087, 1, 1)}),
        extra_workdays=frozenset({date(2087, 1, 5)}),
    )
    start = sh(date(2086, 12, 31), 17, 30)
    assert deadline_after(start, timedelta(days=3), True, hours) == sh(date(2087, 1, 5), 17, 30)


def test_listed_days_the_release_now_knows_are_pointed_out() -> None:
    hours = WorkingHours(
        extra_holidays=frozenset({date(2087, 1, 1), date(2087, 1, 6)}),  # agrees; Monday
        extra_workdays=frozenset({date(2087, 1, 4)}),  # agrees
    )
    assert listing_notes(hours, RELEASE_2086) == []  # 2087 unknown to it: nothing to compare
    notes = {note.day: note for note in listing_notes(hours, RELEASE_2087)}
    assert not notes[date(2087, 1, 1)].contradicts
    assert "the line can go" in notes[date(2087, 1, 1)].message
    assert not notes[date(2087, 1, 4)].contradicts
    assert notes[date(2087, 1, 6)].contradicts  # 2087-01-06 is a working Monday per 9.1


# --------------------------------------------------------------------------- deadlines


def test_a_moment_after_the_confirmed_day_is_flagged_with_that_day() -> None:
    hours = WorkingHours()
    last = OFFICIAL.last_day
    assert unconfirmed_after(sh(last, 17), hours) is None
    assert unconfirmed_after(sh(last + timedelta(days=1), 9), hours) == last
    # 2026-12-31T20:00 UTC is already the next day in Shanghai.
    assert unconfirmed_after(datetime.combine(last, datetime.min.time()).replace(
        hour=20, tzinfo=ZoneInfo("UTC")
    ), hours) == last  # fmt: skip


@pytest.fixture
def dispatch() -> DispatchActivities:
    return DispatchActivities(router=FakeRouter(), hours=WorkingHours())


async def test_compute_deadlines_flags_a_working_deadline_past_the_confirmed_day(
    dispatch: DispatchActivities,
) -> None:
    last = OFFICIAL.last_day
    request = DeadlinesRequest(
        start=sh(last - timedelta(days=1), 19),
        budget=timedelta(days=5),
        fractions=[1.0, 0.8],
        working_time=True,
    )
    result = await dispatch.compute_deadlines(request)
    assert result.instants[0].astimezone(SHANGHAI).date() > last
    assert result.unconfirmed_after == last


async def test_compute_deadlines_does_not_flag_a_deadline_inside_the_calendar(
    dispatch: DispatchActivities,
) -> None:
    request = DeadlinesRequest(
        start=sh(date(OFFICIAL.last_day.year, 3, 2), 9),
        budget=timedelta(hours=2),
        fractions=[1.0],
        working_time=True,
    )
    assert (await dispatch.compute_deadlines(request)).unconfirmed_after is None


async def test_compute_deadlines_does_not_flag_the_wall_clock_or_a_listed_year(
    dispatch: DispatchActivities,
) -> None:
    last = OFFICIAL.last_day
    wall = DeadlinesRequest(
        start=sh(last, 19), budget=timedelta(days=5), fractions=[1.0], working_time=False
    )
    assert (await dispatch.compute_deadlines(wall)).unconfirmed_after is None
    listed = DispatchActivities(
        router=FakeRouter(),
        hours=WorkingHours(confirmed_through=date(last.year + 1, 12, 31)),
    )
    working = wall.model_copy(update={"working_time": True})
    assert (await listed.compute_deadlines(working)).unconfirmed_after is None
