"""`cityops silence add|list|end` and `cityops incident show|list` on a migrated SQLite
register: a window is listed with its scope and Shanghai times, gas needs an override,
an ended window leaves the list; an incident of two calls shows both tickets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cityops.cli.main import app
from cityops.cli.tickets import print_status
from cityops.db.engine import get_engine
from cityops.db.incidents import NewReport, join_incident, open_incident, open_reports
from cityops.db.silences import SilenceHitRow, get_silence, record_hits
from cityops.domain.incidents import Report, find_link
from cityops.domain.models import RepeatCallEntry, TicketIncidents, TicketStatus
from cityops.domain.silences import Circle, Polygon
from cityops.domain.stages import LinkKind, Priority, Source, Stage
from cityops.org.migrate import upgrade
from cityops.rules.incidents import default_incident_rules

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cityops.db'}"
    upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def test_silence_add_list_end(db: str) -> None:
    now = datetime.now(UTC)
    window = [
        "--starts",
        (now - timedelta(hours=1)).isoformat(),
        "--ends",
        (now + timedelta(hours=2)).isoformat(),
    ]
    added = runner.invoke(
        app,
        [
            "silence",
            "add",
            "--reason",
            "道路开挖",
            "--by",
            "P-T15-1",
            "--prefix",
            "MHC-T15-",
            *window,
        ],
    )
    assert added.exit_code == 0, added.output
    silence_id = added.output.strip()
    listed = runner.invoke(app, ["silence", "list"])
    assert silence_id in listed.output and "prefix MHC-T15-" in listed.output
    assert "active" in listed.output and "(UTC+8)" in listed.output
    gas = runner.invoke(
        app, ["silence", "add", "--reason", "x", "--by", "p", "--scenario", "PS01", *window]
    )
    assert gas.exit_code == 2 and "override" in gas.output
    ended = runner.invoke(app, ["silence", "end", silence_id, "--by", "P-T15-1"])
    assert ended.exit_code == 0 and "ended" in ended.output
    assert silence_id not in runner.invoke(app, ["silence", "list"]).output
    assert silence_id in runner.invoke(app, ["silence", "list", "--all"]).output
    unknown = runner.invoke(app, ["silence", "end", "SI000", "--by", "p"])
    assert unknown.exit_code == 2


def test_incident_show_lists_every_ticket_of_two_calls(db: str) -> None:
    engine = get_engine(db)
    rule = default_incident_rules().repeat_rule("PS03")
    at = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
    first = NewReport("HL1", "PS03", Source.HOTLINE, at, address="浦东新区张江镇碧波路690号")
    incident_id = open_incident(engine, first, rule.max_age)
    second = NewReport(
        "HL2", "PS03", Source.HOTLINE, at + timedelta(minutes=20), address="碧波路690号门口"
    )
    decision = find_link(
        Report(scenario_id="PS03", at=second.at, address_key=second.address_key),
        open_reports(engine, "PS03", second.at, rule.max_age),
        rule,
    )
    assert decision is not None
    joined, primary = join_incident(engine, decision, second, rule.max_age)
    assert (joined, primary) == (incident_id, "HL1")
    shown = runner.invoke(app, ["incident", "show", incident_id])
    assert shown.exit_code == 0, shown.output
    assert "HL1  first  hotline" in shown.output
    assert "HL2  repeat_call  hotline" in shown.output and "(address)" in shown.output
    assert "2026-12-03 09:00 (UTC+8)" in shown.output
    assert incident_id in runner.invoke(app, ["incident", "list", "--scenario", "PS03"]).output
    assert runner.invoke(app, ["incident", "show", "INNOPE"]).exit_code == 2


def test_silence_add_and_end_record_the_operator_on_behalf_of_the_named_person(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYOPS_OPERATOR", "alice")
    window = ["--starts", "2099-01-01T08:00:00+08:00", "--ends", "2099-01-01T18:00:00+08:00"]
    added = runner.invoke(
        app,
        ["silence", "add", "--reason", "道路开挖", "--by", "P-T15-1", "--device", "D1", *window],
    )
    assert added.exit_code == 0, added.output
    silence_id = added.output.strip()
    made = get_silence(get_engine(db), silence_id)
    assert made is not None
    assert (made.created_by, made.acted_by) == ("P-T15-1", "operator:alice")
    ended = runner.invoke(app, ["silence", "end", silence_id, "--by", "P-T15-2"])
    assert ended.exit_code == 0, ended.output
    assert "by operator:alice on behalf of P-T15-1" in ended.output
    assert "ended by operator:alice on behalf of P-T15-2" in ended.output
    gone = get_silence(get_engine(db), silence_id)
    assert gone is not None
    assert (gone.ended_by, gone.ended_acted_by) == ("P-T15-2", "operator:alice")
    bad = runner.invoke(app, ["silence", "end", silence_id, "--by", "x" * 65])
    assert bad.exit_code == 2 and "--by" in bad.output


WINDOW = ["--starts", "2020-01-01T08:00:00+08:00", "--ends", "2099-01-01T18:00:00+08:00"]


def add_window(*options: str) -> Result:
    """`cityops silence add` with these options, over a window from 2020 to 2099."""
    return runner.invoke(app, ["silence", "add", *options, *WINDOW])


def test_silence_add_takes_a_polygon_or_a_circle_and_names_a_bad_corner(db: str) -> None:
    corners = "31.14,121.50; 31.14,121.52; 31.15,121.52; 31.15,121.50"
    polygon = add_window("--reason", "道路开挖", "--by", "P-T03-1", "--polygon", corners)
    assert polygon.exit_code == 0, polygon.output
    made = get_silence(get_engine(db), polygon.output.strip())
    assert made is not None and isinstance(made.area, Polygon)
    assert made.area.points[0] == (31.14, 121.50) and len(made.area.points) == 4
    circle = add_window(
        *("--reason", "泵站检修", "--by", "P-T03-1"),
        *("--lat", "31.1447", "--lon", "121.5095", "--radius", "100"),
    )
    assert circle.exit_code == 0, circle.output
    round_ = get_silence(get_engine(db), circle.output.strip())
    assert round_ is not None and isinstance(round_.area, Circle)
    listed = runner.invoke(app, ["silence", "list"]).output
    assert "area polygon" in listed and "area circle" in listed
    bad = add_window("--reason", "x", "--by", "p", "--polygon", "31.1,121.5;north")
    assert bad.exit_code == 2 and "--polygon" in bad.output and "north" in bad.output
    two = add_window("--reason", "x", "--by", "p", "--polygon", "31.1,121.5;31.2,121.6")
    assert two.exit_code == 2 and "3" in two.output  # a polygon has three corners or more


def test_only_a_supervisor_may_override_gas_and_fire_at_the_cli(db: str) -> None:
    gas = ["--reason", "燃气公司计划检修", "--by", "P-T15-1", "--scenario", "PS01"]
    gas += ["--prefix", "GAS-T15-"]
    dispatcher = add_window(*gas, "--override-by", "P-T15-1")  # T15's dispatcher
    assert dispatcher.exit_code == 2 and "only a supervisor" in dispatcher.output
    nobody = add_window(*gas, "--override-by", "P-NOBODY")
    assert nobody.exit_code == 2 and "no person P-NOBODY" in nobody.output
    assert runner.invoke(app, ["silence", "list", "--all"]).output.strip() == ""
    supervisor = add_window(*gas, "--override-by", "P-T15-4")  # T15's supervisor
    assert supervisor.exit_code == 0, supervisor.output
    assert "override by P-T15-4" in runner.invoke(app, ["silence", "list"]).output


def test_the_events_a_window_swallowed_are_counted_where_a_person_looks(db: str) -> None:
    added = add_window("--reason", "道路开挖", "--by", "P-T15-1", "--prefix", "MHC-T15-")
    silence_id = added.output.strip()
    at = datetime(2026, 11, 5, 8, 30, tzinfo=UTC)
    record_hits(
        get_engine(db),
        [
            SilenceHitRow(
                silence_id=silence_id,
                event_id=f"e{n}",
                device_id="MHC-T15-00006",
                scenario_id="PS03",
                occurred_at=at,
            )
            for n in (1, 2, 2)  # an event counted twice is one
        ],
    )
    listed = runner.invoke(app, ["silence", "list"]).output.splitlines()
    line = next(x for x in listed if silence_id in x)
    assert "2 event(s) silenced" in line


def test_incident_show_says_a_call_was_already_known_from_sensors(db: str) -> None:
    engine = get_engine(db)
    rule = default_incident_rules().repeat_rule("PS01")
    at = datetime(2026, 11, 2, 1, 14, tzinfo=UTC)
    alarm = NewReport(
        "AL1", "PS01", Source.IOT, at, lat=31.226872, lon=121.52148, device_id="GAS-S02-00011"
    )
    incident_id = open_incident(engine, alarm, rule.max_age)
    call = NewReport(
        "HL9", "PS01", Source.HOTLINE, at + timedelta(minutes=10), lat=31.2273, lon=121.52148
    )
    decision = find_link(
        Report(scenario_id="PS01", at=call.at, lat=call.lat, lon=call.lon),
        open_reports(engine, "PS01", call.at, rule.max_age),
        rule,
    )
    assert decision is not None
    assert join_incident(engine, decision, call, rule.max_age) == (incident_id, "AL1")
    shown = runner.invoke(app, ["incident", "show", incident_id])
    assert shown.exit_code == 0, shown.output
    assert "already known from sensors" in shown.output
    assert "AL1  first  iot" in shown.output
    assert "HL9  known_from_sensors  hotline" in shown.output and "(distance)" in shown.output


def test_status_shows_the_incident_the_wait_and_who_called_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    at = datetime(2026, 12, 3, 1, 20, tzinfo=UTC)

    def ticket(ticket_id: str, part: TicketIncidents) -> TicketStatus:
        return TicketStatus(
            ticket_id=ticket_id,
            stage=Stage.CLASSIFIED,
            source=Source.HOTLINE,
            text="碧波路690号门口井盖不见了",
            address=None,
            incident=part,
        )

    call = RepeatCallEntry(
        ticket_id="HL2",
        at=at,
        kind=LinkKind.REPEAT_CALL,
        caller_phone_masked="139****5678",
        text="碧波路690号门口的井盖没了",
    )
    primary = TicketIncidents(
        incident_ids=["INPS03A"],
        link=LinkKind.NEW,
        repeat_calls=1,
        latest_calls=[call],
        stepped_up_from=Priority.P2,
    )
    print_status(ticket("HL1", primary))
    shown = capsys.readouterr().out
    assert "    incident  INPS03A\n" in shown
    assert "called again  1 time(s), stepped up from P2" in shown
    assert "· HL2 · 139****5678: 碧波路690号门口的井盖没了" in shown
    waiting = TicketIncidents(
        incident_ids=["INPS03A"],
        link=LinkKind.REPEAT_CALL,
        primary_ticket_id="HL1",
        waiting_on_primary=True,
    )
    print_status(ticket("HL2", waiting))
    assert "incident  INPS03A (a repeat call), waits on HL1" in capsys.readouterr().out
    sensor = waiting.model_copy(update={"link": LinkKind.KNOWN_FROM_SENSORS})
    print_status(ticket("HL3", sensor))
    assert "(already known from sensors), waits on HL1" in capsys.readouterr().out


def test_status_of_a_sensor_ticket_shows_residents_reporting_it_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A resident's call about what a gas detector found is not 'called again': the
    supervisor reads that residents report what the sensors found first."""
    at = datetime(2026, 12, 3, 1, 20, tzinfo=UTC)
    call = RepeatCallEntry(
        ticket_id="HL9",
        at=at,
        kind=LinkKind.KNOWN_FROM_SENSORS,
        caller_phone_masked="139****5678",
        text="楼道里有煤气味",
    )
    part = TicketIncidents(incident_ids=["INPS01A"], repeat_calls=1, latest_calls=[call])
    alarm = TicketStatus(
        ticket_id="AL1",
        stage=Stage.AWAITING_ACCEPT,
        source=Source.IOT,
        text=None,
        address=None,
        incident=part,
    )
    print_status(alarm)
    shown = capsys.readouterr().out
    assert "   residents  1 reporting it too, already known from sensors\n" in shown
    assert "· HL9 · 139****5678: 楼道里有煤气味" in shown
    assert "called again" not in shown
