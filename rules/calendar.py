"""SLA deadline arithmetic on wall-clock time or on the mainland-China working calendar.

Pure: no file, network or clock access, so it is safe in a Temporal local activity
(and in workflow code, given an explicit ``WorkingHours``). rules/calendar_loader.py
reads the project's rules/calendar.yaml into a ``WorkingHours``.

Budget convention for working time (P3 "2 working hours", P4 "5 working days"):
``timedelta.days`` counts *working days* and the rest (seconds) counts *working hours*.
A working day is worth the length of one working day's periods (8 h with the defaults),
so ``timedelta(days=3)`` is 3 × 8 h = 24 h of working time and ``timedelta(hours=2)`` is
2 h of working time. ``timedelta`` folds 24 hours into one day, so a working-time budget
of "24 working hours" must be written ``timedelta(days=3)`` with the default hours.
Durations this module *returns* (``working_time_between``) are plain amounts of working
time; add them back with ``add_working_time``, never with ``deadline_after``.

Which days are working days: ``WorkingHours.extra_workdays`` and ``extra_holidays`` win;
then the official calendar of the ``chinese_calendar`` package (holidays and make-up
working days); for a year that package does not know, Monday to Friday.

How far ahead that is *confirmed* (the State Council's schedule known, not guessed) is
rules/calendar_coverage.py; this module only reads which years the package carries, from
the package's own tables, so a newer release extends the calendar without a code change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from importlib.metadata import PackageNotFoundError, version
from zoneinfo import ZoneInfo

from chinese_calendar import constants as official
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cityops.domain.stages import SlaColour
from cityops.rules.zones import TimeZoneName

YELLOW_AT = 0.8  # share of the budget used when a clock turns yellow
RED_AT = 1.0  # the deadline itself


@dataclass(frozen=True)
class OfficialCalendar:
    """The State Council schedules one ``chinese_calendar`` release carries.

    ``holidays`` maps each day off to its holiday's English name (weekend days inside a
    break included); ``workdays`` maps each make-up working day (调休上班) to the holiday
    it makes up for. The years covered are read from these tables, never written here.
    """

    holidays: Mapping[date, str]
    workdays: Mapping[date, str]
    release: str
    # is_working_day asks for every day it walks over: the range is computed once.
    _years: range = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        known = [*self.holidays, *self.workdays]
        if not known:
            raise ValueError(f"{self.release}: no holiday data")
        object.__setattr__(self, "_years", range(min(known).year, max(known).year + 1))

    @classmethod
    def installed(cls) -> OfficialCalendar:
        try:
            release = f"chinese_calendar {version('chinese_calendar')}"
        except PackageNotFoundError:  # pragma: no cover - the package is a dependency
            release = "chinese_calendar"
        return cls(holidays=official.holidays, workdays=official.workdays, release=release)

    @property
    def years(self) -> range:
        """The years with a published schedule (1.11: 2004-2026)."""
        return self._years

    @property
    def last_day(self) -> date:
        """The last day the release knows: 31 December of its last year."""
        return date(self.years.stop - 1, 12, 31)

    def covers(self, year: int) -> bool:
        return year in self._years

    def is_workday(self, day: date) -> bool:
        """Make-up days work; listed holidays do not; otherwise Monday to Friday."""
        return day in self.workdays or (day.weekday() < 5 and day not in self.holidays)

    def holiday_name_zh(self, english: str) -> str:
        try:
            return str(official.Holiday(english).chinese)
        except ValueError:
            return english


# The schedules of the installed package. Outside its years we fall back to weekends
# plus the YAML corrections instead of letting it raise.
OFFICIAL = OfficialCalendar.installed()
OFFICIAL_YEARS = OFFICIAL.years

# A guard against a calendar with no working day at all (every day a holiday).
_MAX_DAYS_SEARCHED = 3 * 366


class WorkPeriod(BaseModel):
    """One stretch of working time within a day, in the calendar's time zone."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time

    @model_validator(mode="after")
    def _start_before_end(self) -> WorkPeriod:
        if self.start >= self.end:
            raise ValueError(f"period start {self.start} must be before its end {self.end}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("period times are local to the calendar's timezone: no offsets")
        return self

    @property
    def length(self) -> timedelta:
        return datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)


class WorkingHours(BaseModel):
    """When staff work: daily periods in a time zone, plus corrections to the calendar."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: TimeZoneName = "Asia/Shanghai"
    periods: tuple[WorkPeriod, ...] = (
        WorkPeriod(start=time(8, 30), end=time(12, 0)),
        WorkPeriod(start=time(13, 0), end=time(17, 30)),
    )
    extra_holidays: frozenset[date] = Field(
        default=frozenset(), description="Days off the official calendar does not list"
    )
    extra_workdays: frozenset[date] = Field(
        default=frozenset(), description="Make-up working days the official calendar lacks"
    )
    confirmed_through: date | None = Field(
        default=None,
        description="The last day up to which extra_holidays and extra_workdays hold the "
        "State Council's whole published schedule (beyond the official package's years)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> WorkingHours:
        if not self.periods:
            raise ValueError("periods: at least one working period is needed")
        for earlier, later in zip(self.periods, self.periods[1:], strict=False):
            if later.start < earlier.end:
                raise ValueError(
                    f"periods must be in order and not overlap: {earlier.start}-{earlier.end}"
                    f" then {later.start}-{later.end}"
                )
        both = self.extra_holidays & self.extra_workdays
        if both:
            days = ", ".join(str(day) for day in sorted(both))
            raise ValueError(f"a day cannot be both an extra holiday and an extra workday: {days}")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def day_length(self) -> timedelta:
        """The working time in one working day: what one day of a budget is worth."""
        return sum((period.length for period in self.periods), timedelta())


def official_calendar_covers(year: int, calendar: OfficialCalendar = OFFICIAL) -> bool:
    """True when chinese_calendar has the State Council's schedule for this year."""
    return calendar.covers(year)


def is_working_day(day: date, hours: WorkingHours, calendar: OfficialCalendar = OFFICIAL) -> bool:
    """Whether staff work on this local date (see the module docstring for the order)."""
    if day in hours.extra_workdays:
        return True
    if day in hours.extra_holidays:
        return False
    if calendar.covers(day.year):
        return calendar.is_workday(day)
    return day.weekday() < 5


def budget_as_working_time(budget: timedelta, hours: WorkingHours) -> timedelta:
    """Turn a budget ("3 working days", "2 working hours") into an amount of working time."""
    if budget < timedelta():
        raise ValueError(f"an SLA budget cannot be negative: {budget}")
    return budget.days * hours.day_length + timedelta(
        seconds=budget.seconds, microseconds=budget.microseconds
    )


def deadline_after(
    start: datetime,
    budget: timedelta,
    working_time: bool,
    hours: WorkingHours | None = None,
) -> datetime:
    """The deadline of a clock that starts at ``start`` and runs for ``budget``.

    working_time False: wall-clock ``start + budget`` (P1/P2). True: only working time of
    the calendar counts (P3/P4), with the budget convention of the module docstring; a
    clock started out of hours begins at the next working period. ``hours`` None means the
    built-in defaults (08:30-12:00, 13:00-17:30 Asia/Shanghai, no YAML corrections): pass
    the loaded project calendar from rules/calendar_loader.py in production.
    The result is in the same time zone as ``start``.
    """
    _require_aware(start, "start")
    if not working_time:
        if budget < timedelta():
            raise ValueError(f"an SLA budget cannot be negative: {budget}")
        return start + budget
    hours = hours or WorkingHours()
    return add_working_time(start, budget_as_working_time(budget, hours), hours)


def instant_at_fraction(
    start: datetime,
    budget: timedelta,
    fraction: float,
    working_time: bool,
    hours: WorkingHours | None = None,
) -> datetime:
    """When ``fraction`` of a clock's budget is used (0.8: the yellow point, 1.0: deadline).

    Scales the budget *after* turning it into working time: ``timedelta(days=3) * 0.8`` is
    2 days 9.6 hours, which the budget convention would misread as 2 working days + 9.6 h.
    """
    if fraction < 0:
        raise ValueError(f"a budget fraction cannot be negative: {fraction}")
    if not working_time:
        return deadline_after(start, budget * fraction, working_time=False)
    hours = hours or WorkingHours()
    return add_working_time(start, budget_as_working_time(budget, hours) * fraction, hours)


def add_working_time(start: datetime, amount: timedelta, hours: WorkingHours) -> datetime:
    """The moment when ``amount`` of working time has passed after ``start``.

    ``amount`` is literal working time (24 h means three 8-hour days), unlike a budget.
    Use it to push a deadline by a paused stretch measured with ``working_time_between``.
    """
    _require_aware(start, "start")
    if amount < timedelta():
        raise ValueError(f"working time to add cannot be negative: {amount}")
    if amount == timedelta():
        return start
    remaining = amount
    for period_start, period_end in _working_periods_from(start, hours):
        available = period_end - period_start
        if remaining <= available:
            return (period_start + remaining).astimezone(start.tzinfo)
        remaining -= available
    raise ValueError(f"no working day within {_MAX_DAYS_SEARCHED} days of {start.isoformat()}")


def working_time_between(
    start: datetime, end: datetime, hours: WorkingHours | None = None
) -> timedelta:
    """Working time inside [start, end); zero when end is not after start."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    hours = hours or WorkingHours()
    total = timedelta()
    if end <= start:
        return total
    days_spanned = (end - start).days + 2  # +2: both ends may fall on partial local days
    for period_start, period_end in _working_periods_from(start, hours, days_spanned):
        if period_start >= end:
            break
        total += min(period_end, end) - period_start
    return total


def elapsed_fraction(
    start: datetime,
    deadline: datetime,
    now: datetime,
    working_time: bool,
    hours: WorkingHours | None = None,
    paused: timedelta = timedelta(),
) -> float:
    """How much of a clock's budget is used: 0.0 at start, 1.0 at the deadline.

    ``deadline`` is the clock's deadline without pauses (an approved extension is a new
    deadline). ``paused`` is the time the clock stood still (waiting on the citizen),
    measured the same way as the clock: working time when ``working_time`` is True.
    """
    if working_time:
        budget = working_time_between(start, deadline, hours)
        used = working_time_between(start, now, hours)
    else:
        _require_aware(start, "start")
        budget = deadline - start
        used = max(now - start, timedelta())
    used = max(used - paused, timedelta())
    if budget <= timedelta():
        return RED_AT if now >= deadline else 0.0
    return used / budget


def sla_colour(fraction: float) -> SlaColour:
    """Green below 80% of the budget, yellow from 80%, red once the deadline has passed."""
    if fraction >= RED_AT:
        return SlaColour.RED
    if fraction >= YELLOW_AT:
        return SlaColour.YELLOW
    return SlaColour.GREEN


def _working_periods_from(
    start: datetime, hours: WorkingHours, max_days: int = _MAX_DAYS_SEARCHED
) -> Iterator[tuple[datetime, datetime]]:
    """Working periods in UTC, in order, clipped so none begins before ``start``.

    UTC arithmetic keeps durations right even in a time zone with summer time.
    """
    zone = hours.zone
    start_utc = start.astimezone(UTC)
    day = start.astimezone(zone).date()
    for _ in range(max_days):
        if is_working_day(day, hours):
            for period in hours.periods:
                period_start = datetime.combine(day, period.start, zone).astimezone(UTC)
                period_end = datetime.combine(day, period.end, zone).astimezone(UTC)
                if period_end > start_utc:
                    yield max(period_start, start_utc), period_end
        day += timedelta(days=1)


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must carry a time zone offset: {moment.isoformat()}")
