"""`cityops calendar check`, run as an operator runs it. "Today" is always given, relative
to the last day the installed chinese_calendar release knows, so the tests hold on any
date and with any release."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cityops.cli import calendar_cmd
from cityops.rules.calendar import OFFICIAL
from cityops.rules.calendar_loader import CALENDAR_FILE

LAST = OFFICIAL.last_day
NEXT_YEAR = LAST.year + 1


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    calendar_cmd.register(app, typer.Typer())
    return app


def _calendar(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "calendar.yaml"
    path.write_text(f"timezone: Asia/Shanghai\n{extra}", encoding="utf-8")
    return path


def _check(app: typer.Typer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["calendar", "check", *args])
    return result.exit_code, result.output


def test_a_calendar_ending_in_four_weeks_fails_loudly(app: typer.Typer, tmp_path: Path) -> None:
    today = LAST - timedelta(days=28)
    code, output = _check(app, "--today", today.isoformat(), "--file", str(_calendar(tmp_path, "")))
    assert code == 1, output
    assert f"through {LAST}" in output and "28 days after" in output
    assert f"NOT CONFIRMED AFTER {LAST}" in output


def test_enough_days_ahead_passes_and_lists_the_official_days(
    app: typer.Typer, tmp_path: Path
) -> None:
    today = date(LAST.year, 9, 1)
    code, output = _check(app, "--today", today.isoformat(), "--file", str(_calendar(tmp_path, "")))
    assert code == 0, output
    assert "OK: confirmed" in output
    national_day = [line for line in output.splitlines() if "国庆节" in line]
    assert national_day, output  # the State Council has always put National Day in October
    assert all(OFFICIAL.release in line for line in national_day)


def test_a_listed_year_confirms_and_shows_its_holiday_and_make_up_day(
    app: typer.Typer, tmp_path: Path
) -> None:
    new_year = date(NEXT_YEAR, 1, 1)
    sunday = next(
        new_year + timedelta(days=n)
        for n in range(7, 14)
        if (new_year + timedelta(days=n)).weekday() == 6
    )
    path = _calendar(
        tmp_path,
        f"extra_holidays: [{new_year}]\nextra_workdays: [{sunday}]\n"
        f"confirmed_through: {NEXT_YEAR}-12-31\n",
    )
    today = LAST - timedelta(days=28)
    code, output = _check(app, "--today", today.isoformat(), "--file", str(path))
    assert code == 0, output
    assert f"through {NEXT_YEAR}-12-31 (rules/calendar.yaml)" in output
    assert f"{new_year}" in output and "listed day off" in output
    assert f"{sunday} Sun  working day: listed working day" in output
    assert "NOT CONFIRMED" not in output


def test_a_listed_day_past_the_confirmed_date_is_marked_unconfirmed(
    app: typer.Typer, tmp_path: Path
) -> None:
    path = _calendar(tmp_path, f"extra_holidays: [{NEXT_YEAR}-01-01]\n")
    code, output = _check(app, "--today", str(LAST - timedelta(days=10)), "--file", str(path))
    assert code == 1
    listed = next(line for line in output.splitlines() if f"{NEXT_YEAR}-01-01" in line)
    assert "[NOT CONFIRMED]" in listed


def test_json_output_carries_the_flag_for_scripts(app: typer.Typer, tmp_path: Path) -> None:
    path = _calendar(tmp_path, "")
    code, output = _check(
        app, "--today", str(LAST - timedelta(days=5)), "--file", str(path), "--json"
    )
    assert code == 1
    body = json.loads(output)
    assert body["ok"] is False
    assert body["coverage"]["short"] is True
    assert body["coverage"]["days_ahead"] == 5
    assert body["coverage"]["confirmed_through"] == LAST.isoformat()


def test_a_listed_day_contradicting_the_official_data_fails(
    app: typer.Typer, tmp_path: Path
) -> None:
    october_first = date(LAST.year, 10, 1)  # National Day: a day off in every schedule
    path = _calendar(tmp_path, f"extra_workdays: [{october_first}]\n")
    code, output = _check(app, "--today", str(date(LAST.year, 1, 2)), "--file", str(path))
    assert code == 1
    assert f"{october_first}: listed as a working day, but" in output


def test_the_project_file_and_a_broken_file(app: typer.Typer, tmp_path: Path) -> None:
    code, output = _check(app, "--today", str(date(LAST.year, 1, 2)), "--file", str(CALENDAR_FILE))
    assert code == 0, output  # 2 January: a whole year ahead is confirmed
    broken = _calendar(tmp_path, "confirmed_through: someday\n")
    code, output = _check(app, "--today", str(date(LAST.year, 1, 2)), "--file", str(broken))
    assert code == 2
    assert "confirmed_through" in output
