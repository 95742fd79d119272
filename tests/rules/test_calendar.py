"""SLA deadline arithmetic on the mainland-China working calendar (2026 official data)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from cityops.domain.stages import SlaColour
from cityops.rules.calendar import (
    WorkingHours,
    WorkPeriod,
    add_working_time,
    deadline_after,
    elapsed_fraction,
    instant_at_fraction,
    is_working_day,
    official_calendar_covers,
    sla_colour,
    working_time_between,
)
from cityops.rules.calendar_loader import (
    CalendarConfigError,
    load_working_hours,
    project_working_hours,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS = WorkingHours()  # 08:30-12:00, 13:00-17:30: an 8-hour working day


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


# --------------------------------------------------------------------------- wall clock


def test_wall_clock_deadline_ignores_nights_and_holidays() -> None:
    start = sh(2026, 9, 30, 23, 50)  # eve of National Day
    assert deadline_after(start, timedelta(minutes=30), working_time=False) == sh(
        2026, 10, 1, 0, 20
    )
    assert deadline_after(start, timedelta(hours=24), working_time=False) == sh(2026, 10, 1, 23, 50)


# --------------------------------------------------------------------------- the official calendar


def test_official_2026_calendar_marks_national_day_and_its_make_up_saturday() -> None:
    assert not is_working_day(date(2026, 10, 1), HOURS)  # National Day, Thursday
    assert not is_working_day(date(2026, 10, 7), HOURS)  # last day of the holiday, Wednesday
    assert is_working_day(date(2026, 10, 10), HOURS)  # Saturday made a working day
    assert not is_working_day(date(2026, 10, 11), HOURS)  # an ordinary Sunday
    assert is_working_day(date(2026, 9, 20), HOURS)  # Sunday made up for Mid-Autumn


def test_p3_dispatched_on_holiday_eve_is_due_after_the_golden_week() -> None:
    """Wednesday 2026-09-30 18:00: the next working period is Thursday 10-08 08:30."""
    start = sh(2026, 9, 30, 18, 0)
    accept = deadline_after(start, timedelta(hours=2), working_time=True)
    resolve = deadline_after(start, timedelta(days=3), working_time=True)
    assert accept == sh(2026, 10, 8, 10, 30)
    # 3 working days = Thu 10-08, Fri 10-09 and the make-up Saturday 10-10.
    assert resolve == sh(2026, 10, 10, 17, 30)


def test_p3_dispatched_on_friday_evening_before_spring_festival_runs_on_make_up_saturday() -> None:
    """Friday 2026-02-13 evening: Saturday 02-14 is a make-up working day, then the holiday."""
    start = sh(2026, 2, 13, 19, 0)
    assert deadline_after(start, timedelta(hours=2), working_time=True) == sh(2026, 2, 14, 10, 30)
    # Saturday 02-14 is one day; Spring Festival runs 02-15..02-23; then Tue 02-24, Wed 02-25.
    assert deadline_after(start, timedelta(days=3), working_time=True) == sh(2026, 2, 25, 17, 30)


def test_p3_dispatched_on_friday_evening_before_qingming_waits_for_tuesday() -> None:
    start = sh(2026, 4, 3, 18, 30)  # Qingming holiday Sat 04-04 .. Mon 04-06
    assert deadline_after(start, timedelta(hours=2), working_time=True) == sh(2026, 4, 7, 10, 30)


def test_p3_dispatched_on_new_years_eve_2026_waits_for_monday_on_the_project_calendar() -> None:
    """Thursday 2026-12-31 19:00: New Year's Day 2027 is a holiday only because
    rules/calendar.yaml lists it, and the weekend follows: 2 working hours end on Monday
    2027-01-04 at 10:30. (The workflow test of the same shape uses its own holiday: its
    server cannot go back to this date.)"""
    start = sh(2026, 12, 31, 19, 0)
    hours = project_working_hours()
    assert deadline_after(start, timedelta(hours=2), True, hours) == sh(2027, 1, 4, 10, 30)
    assert instant_at_fraction(start, timedelta(hours=2), 0.8, True, hours) == sh(2027, 1, 4, 10, 6)


def test_working_budget_spans_lunch_break_and_evening() -> None:
    start = sh(2026, 3, 10, 11, 0)  # Tuesday
    assert deadline_after(start, timedelta(hours=2), working_time=True) == sh(2026, 3, 10, 14, 0)
    start = sh(2026, 3, 10, 17, 0)
    assert deadline_after(start, timedelta(hours=2), working_time=True) == sh(2026, 3, 11, 10, 0)


def test_working_day_budget_inside_hours_ends_at_same_time_n_working_days_later() -> None:
    start = sh(2026, 3, 12, 10, 0)  # Thursday
    assert deadline_after(start, timedelta(days=1), working_time=True) == sh(2026, 3, 13, 10, 0)
    assert deadline_after(start, timedelta(days=5), working_time=True) == sh(2026, 3, 19, 10, 0)


def test_budget_ending_exactly_at_close_of_day_stays_that_day() -> None:
    start = sh(2026, 3, 10, 16, 30)
    assert deadline_after(start, timedelta(hours=1), working_time=True) == sh(2026, 3, 10, 17, 30)


def test_zero_budget_is_due_at_once_and_negative_budget_is_refused() -> None:
    start = sh(2026, 3, 10, 20, 0)
    assert deadline_after(start, timedelta(), working_time=True) == start
    with pytest.raises(ValueError, match="negative"):
        deadline_after(start, timedelta(hours=-1), working_time=True)
    with pytest.raises(ValueError, match="negative"):
        deadline_after(start, timedelta(hours=-1), working_time=False)


def test_naive_datetime_is_refused_with_the_argument_named() -> None:
    with pytest.raises(ValueError, match="start must carry a time zone"):
        deadline_after(datetime(2026, 3, 10, 9), timedelta(hours=1), working_time=True)


# --------------------------------------------------------------------------- time zones


def test_utc_start_is_read_in_shanghai_time_and_answered_in_utc() -> None:
    start = datetime(2026, 9, 30, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai
    deadline = deadline_after(start, timedelta(hours=2), working_time=True)
    assert deadline.utcoffset() == timedelta(0)
    assert deadline == sh(2026, 10, 8, 10, 30)


def test_negative_offset_start_before_shanghai_midnight_counts_shanghai_day() -> None:
    # 2026-10-09 20:00 at -05:00 is Saturday 10-10 09:00 in Shanghai: a make-up working day.
    minus_five = timezone(timedelta(hours=-5))
    start = datetime(2026, 10, 9, 20, 0, tzinfo=minus_five)
    deadline = deadline_after(start, timedelta(hours=1), working_time=True)
    assert deadline == sh(2026, 10, 10, 10, 0)
    assert deadline.tzinfo is minus_five


def test_calendar_in_a_zone_with_summer_time_counts_real_hours() -> None:
    berlin = WorkingHours(
        timezone="Europe/Berlin", periods=(WorkPeriod(start=time(0, 0), end=time(6, 0)),)
    )
    # 2026-03-29 Berlin clocks jump 02:00 -> 03:00, so 00:00-06:00 lasts 5 real hours;
    # the day is a Sunday, an official-calendar rest day, so add it as an extra workday.
    berlin = berlin.model_copy(update={"extra_workdays": frozenset({date(2026, 3, 29)})})
    start = datetime(2026, 3, 29, 0, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    end = datetime(2026, 3, 29, 6, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert working_time_between(start, end, berlin) == timedelta(hours=5)


# --------------------------------------------------------------------------- years without data


def test_year_beyond_official_data_falls_back_to_weekends() -> None:
    assert official_calendar_covers(2026)
    assert not official_calendar_covers(2099)
    assert is_working_day(date(2099, 1, 1), HOURS)  # a Thursday: no data says otherwise
    assert not is_working_day(date(2099, 1, 3), HOURS)  # Saturday
    start = datetime(2099, 1, 2, 17, 0, tzinfo=SHANGHAI)  # Friday
    assert deadline_after(start, timedelta(hours=1), True) == datetime(
        2099, 1, 5, 9, 0, tzinfo=SHANGHAI
    )


def test_yaml_corrections_win_over_weekends_and_official_data() -> None:
    hours = WorkingHours(
        extra_holidays=frozenset({date(2099, 1, 1), date(2026, 3, 10)}),
        extra_workdays=frozenset({date(2099, 1, 3)}),
    )
    assert not is_working_day(date(2099, 1, 1), hours)
    assert is_working_day(date(2099, 1, 3), hours)
    assert not is_working_day(date(2026, 3, 10), hours)


def test_calendar_without_any_working_day_is_an_error_not_a_hang() -> None:
    every_day = frozenset(date(2099, 1, 1) + timedelta(days=n) for n in range(4 * 366))
    hours = WorkingHours(extra_holidays=every_day)
    with pytest.raises(ValueError, match="no working day"):
        deadline_after(datetime(2099, 1, 1, tzinfo=SHANGHAI), timedelta(hours=1), True, hours)


# --------------------------------------------------------------------------- elapsed and colour


def test_working_time_between_skips_lunch_nights_and_holidays() -> None:
    assert working_time_between(sh(2026, 3, 10, 11, 0), sh(2026, 3, 10, 14, 0)) == timedelta(
        hours=2
    )
    assert working_time_between(sh(2026, 9, 30, 17, 0), sh(2026, 10, 8, 9, 0)) == timedelta(hours=1)
    assert working_time_between(sh(2026, 3, 10, 14, 0), sh(2026, 3, 10, 11, 0)) == timedelta()


def test_long_working_time_spans_are_counted_in_full() -> None:
    start, end = sh(2026, 1, 5), sh(2026, 12, 31, 23, 59)
    expected_days = sum(
        1
        for n in range((end.date() - start.date()).days + 1)
        if is_working_day(start.date() + timedelta(days=n), HOURS)
    )
    assert working_time_between(start, end) == expected_days * timedelta(hours=8)


def test_add_working_time_takes_literal_hours_not_budget_days() -> None:
    start = sh(2026, 3, 9, 8, 30)  # Monday
    # 24 h of working time is three 8-hour days, although timedelta folds it into days=1.
    assert add_working_time(start, timedelta(hours=24), HOURS) == sh(2026, 3, 11, 17, 30)
    assert deadline_after(start, timedelta(hours=24), True) == sh(2026, 3, 9, 17, 30)


def test_elapsed_fraction_counts_working_time_and_subtracts_pauses() -> None:
    start = sh(2026, 9, 30, 16, 30)
    deadline = deadline_after(start, timedelta(hours=2), working_time=True)  # 10-08 09:30
    assert deadline == sh(2026, 10, 8, 9, 30)
    during_holiday = sh(2026, 10, 3, 12, 0)
    assert elapsed_fraction(start, deadline, during_holiday, True) == pytest.approx(0.5)
    assert elapsed_fraction(start, deadline, sh(2026, 10, 8, 9, 6), True) == pytest.approx(0.8)
    paused = timedelta(minutes=30)
    assert elapsed_fraction(
        start, deadline, sh(2026, 10, 8, 9, 30), True, paused=paused
    ) == pytest.approx(0.75)


def test_elapsed_fraction_on_wall_clock() -> None:
    start = sh(2026, 3, 10, 10, 0)
    deadline = start + timedelta(minutes=30)
    assert elapsed_fraction(start, deadline, start + timedelta(minutes=24), False) == pytest.approx(
        0.8
    )
    assert elapsed_fraction(start, deadline, start - timedelta(minutes=5), False) == 0.0
    assert elapsed_fraction(start, start, start, False) == 1.0


def test_colour_turns_yellow_at_eighty_percent_and_red_at_the_deadline() -> None:
    assert sla_colour(0.0) is SlaColour.GREEN
    assert sla_colour(0.79) is SlaColour.GREEN
    assert sla_colour(0.8) is SlaColour.YELLOW
    assert sla_colour(0.99) is SlaColour.YELLOW
    assert sla_colour(1.0) is SlaColour.RED
    assert sla_colour(3.5) is SlaColour.RED


# --------------------------------------------------------------------------- configuration


def test_overlapping_or_reversed_periods_are_refused() -> None:
    with pytest.raises(ValidationError, match="must be before its end"):
        WorkPeriod(start=time(12, 0), end=time(9, 0))
    with pytest.raises(ValidationError, match="not overlap"):
        WorkingHours(
            periods=(
                WorkPeriod(start=time(9, 0), end=time(12, 0)),
                WorkPeriod(start=time(11, 0), end=time(13, 0)),
            )
        )
    with pytest.raises(ValidationError, match="both an extra holiday and an extra workday"):
        WorkingHours(
            extra_holidays=frozenset({date(2027, 1, 1)}),
            extra_workdays=frozenset({date(2027, 1, 1)}),
        )
    with pytest.raises(ValidationError, match="unknown time zone"):
        WorkingHours(timezone="Mars/Olympus")


def test_project_calendar_file_loads_with_eight_hour_days() -> None:
    hours = project_working_hours()
    assert hours.timezone == "Asia/Shanghai"
    assert hours.day_length == timedelta(hours=8)


def test_calendar_file_with_bad_field_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text('periods:\n  - {start: "13:00", end: "09:00"}\n', encoding="utf-8")
    with pytest.raises(CalendarConfigError, match=r"calendar\.yaml: periods\.0"):
        load_working_hours(path)
    path.write_text("extra_holidays: [2027-01-01]\nlunch: 1\n", encoding="utf-8")
    with pytest.raises(CalendarConfigError, match="lunch"):
        load_working_hours(path)
    path.write_text("- just a list\n", encoding="utf-8")
    with pytest.raises(CalendarConfigError, match="expected a mapping"):
        load_working_hours(path)
    with pytest.raises(CalendarConfigError, match="cannot read"):
        load_working_hours(tmp_path / "missing.yaml")


def test_calendar_file_dates_extend_an_unknown_year(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(
        "extra_holidays: [2099-01-01]\nextra_workdays: [2099-01-03]\n", encoding="utf-8"
    )
    hours = load_working_hours(path)
    assert not is_working_day(date(2099, 1, 1), hours)
    assert is_working_day(date(2099, 1, 3), hours)


def test_instant_at_fraction_scales_working_days_as_working_time() -> None:
    start = sh(2026, 3, 9, 8, 30)  # Monday; 3 working days = 24 h of working time
    yellow = sh(2026, 3, 11, 11, 42)  # 19.2 h in: Mon 8 h + Tue 8 h + Wed 3.2 h
    assert instant_at_fraction(start, timedelta(days=3), 0.8, True) == yellow
    assert instant_at_fraction(start, timedelta(days=3), 1.0, True) == deadline_after(
        start, timedelta(days=3), True
    )
    wall = instant_at_fraction(start, timedelta(hours=4), 0.5, False)
    assert wall == start + timedelta(hours=2)
    with pytest.raises(ValueError, match="fraction"):
        instant_at_fraction(start, timedelta(hours=4), -0.1, False)
