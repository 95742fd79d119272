"""How far ahead the working calendar is confirmed, and which special days it knows.

The State Council publishes next year's holidays and make-up working days (调休上班)
each November or December. A day is *confirmed* when its year's schedule is known:
either the installed ``chinese_calendar`` release carries it (read from the release's
own tables, so upgrading the package extends it with no code change) or
rules/calendar.yaml lists it by hand and says so with ``confirmed_through``. After
the confirmed date ``rules.calendar`` still answers, but only by weekends plus the days
listed: a Spring Festival would be counted as working days.

Pure: "today" is always passed in, so tests and the check agree on any date.
``cityops calendar check``, the workers, the API and ``cityops up`` all read this.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, computed_field

from cityops.rules.calendar import OFFICIAL, OfficialCalendar, WorkingHours

# Fewer confirmed days ahead than this and every process warns (issue 10): two months
# leave time to list a schedule published as late as December before it is needed.
MIN_DAYS_CONFIRMED = 60
LISTED = "rules/calendar.yaml"


class SpecialDayKind(StrEnum):
    HOLIDAY = "holiday"  # a day off that would otherwise be worked (or inside a break)
    MAKE_UP_WORKDAY = "make_up_workday"  # 调休上班: a weekend day that is worked


class SpecialDay(BaseModel):
    """One day that is not an ordinary weekday or weekend day, and who says so."""

    model_config = ConfigDict(frozen=True)

    day: date
    kind: SpecialDayKind
    name: str = Field(description="The holiday, or the holiday a make-up day serves")
    source: str = Field(description="The chinese_calendar release, or rules/calendar.yaml")


class CalendarCoverage(BaseModel):
    """How far the calendar is confirmed as seen on ``today`` (a Shanghai date)."""

    model_config = ConfigDict(frozen=True)

    today: date
    confirmed_through: date
    official_through: date = Field(description="31 December of the package's last year")
    official_release: str
    listed_through: date | None = Field(description="calendar.yaml's confirmed_through")
    min_days_ahead: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def days_ahead(self) -> int:
        """Whole days after today that are confirmed (0 when the last one is today)."""
        return (self.confirmed_through - self.today).days

    @computed_field  # type: ignore[prop-decorator]
    @property
    def short(self) -> bool:
        """True when fewer than ``min_days_ahead`` days ahead are confirmed: alert on it."""
        return self.days_ahead < self.min_days_ahead

    @property
    def source(self) -> str:
        if self.listed_through is not None and self.listed_through > self.official_through:
            return LISTED
        return self.official_release

    def warning(self) -> str | None:
        """The loud sentence every process prints while the calendar is short."""
        if not self.short:
            return None
        first = self.confirmed_through + timedelta(days=1)
        when = "already" if self.days_ahead < 0 else f"in {self.days_ahead} days"
        return (
            f"WORKING CALENDAR NOT CONFIRMED AFTER {self.confirmed_through.isoformat()} "
            f"({when}; fewer than {self.min_days_ahead} days ahead): from "
            f"{first.isoformat()} P3/P4 deadlines count Monday to Friday plus the days "
            f"listed in {LISTED}, so holidays and make-up working days are missed. When "
            "the State Council publishes the schedule, list it in rules/calendar.yaml "
            "(docs/sla.md) or upgrade chinese_calendar, then run `cityops calendar check`."
        )


def confirmed_through(hours: WorkingHours, calendar: OfficialCalendar = OFFICIAL) -> date:
    """The last confirmed day: the package's last year, or later when the YAML says so."""
    listed = hours.confirmed_through
    return max(calendar.last_day, listed) if listed is not None else calendar.last_day


def calendar_coverage(
    hours: WorkingHours,
    today: date,
    calendar: OfficialCalendar = OFFICIAL,
    min_days_ahead: int = MIN_DAYS_CONFIRMED,
) -> CalendarCoverage:
    return CalendarCoverage(
        today=today,
        confirmed_through=confirmed_through(hours, calendar),
        official_through=calendar.last_day,
        official_release=calendar.release,
        listed_through=hours.confirmed_through,
        min_days_ahead=min_days_ahead,
    )


def unconfirmed_after(
    moment: datetime, hours: WorkingHours, calendar: OfficialCalendar = OFFICIAL
) -> date | None:
    """The last confirmed day when ``moment`` (local to the calendar) falls after it."""
    last = confirmed_through(hours, calendar)
    return last if moment.astimezone(hours.zone).date() > last else None


def special_days(
    hours: WorkingHours, start: date, end: date, calendar: OfficialCalendar = OFFICIAL
) -> list[SpecialDay]:
    """Holidays and make-up working days in ``[start, end]``, in date order.

    A day listed in rules/calendar.yaml wins over the package, as in ``is_working_day``;
    the weekend days inside an official break are included (they are part of it).
    """
    found: dict[date, SpecialDay] = {}
    for day, english in calendar.holidays.items():
        if start <= day <= end:
            name = f"{calendar.holiday_name_zh(english)} {english}"
            found[day] = SpecialDay(
                day=day, kind=SpecialDayKind.HOLIDAY, name=name, source=calendar.release
            )
    for day, english in calendar.workdays.items():
        if start <= day <= end:
            name = f"调休上班 for {calendar.holiday_name_zh(english)} {english}"
            found[day] = SpecialDay(
                day=day, kind=SpecialDayKind.MAKE_UP_WORKDAY, name=name, source=calendar.release
            )
    for day in hours.extra_holidays:
        if start <= day <= end:
            found[day] = SpecialDay(
                day=day, kind=SpecialDayKind.HOLIDAY, name="listed day off", source=LISTED
            )
    for day in hours.extra_workdays:
        if start <= day <= end:
            found[day] = SpecialDay(
                day=day, kind=SpecialDayKind.MAKE_UP_WORKDAY, name="listed working day",
                source=LISTED,
            )  # fmt: skip
    return [found[day] for day in sorted(found)]


class ListingNote(BaseModel):
    """A day in rules/calendar.yaml that the installed package also decides."""

    model_config = ConfigDict(frozen=True)

    day: date
    contradicts: bool = Field(description="The package says the opposite: check the notice")
    message: str


def listing_notes(hours: WorkingHours, calendar: OfficialCalendar = OFFICIAL) -> list[ListingNote]:
    """Listed days the package now decides the same (left over after an upgrade: the line
    can go) or differently (the YAML wins, so a typo there would bite)."""
    notes: list[ListingNote] = []
    for day in sorted(hours.extra_holidays | hours.extra_workdays):
        if not calendar.covers(day.year):
            continue
        listed_off = day in hours.extra_holidays
        official_off = not calendar.is_workday(day)
        what = "day off" if listed_off else "working day"
        if listed_off == official_off:
            message = f"{day}: listed as a {what}, as {calendar.release} says: the line can go"
        else:
            message = (
                f"{day}: listed as a {what}, but {calendar.release} says the opposite: "
                "check the State Council's notice"
            )
        notes.append(ListingNote(day=day, contradicts=listed_off != official_off, message=message))
    return notes
