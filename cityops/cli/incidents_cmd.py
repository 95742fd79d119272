"""`cityops incident show|list` and `cityops silence add|list|end`: incidents and
maintenance windows from the register (docs/incidents.md). Times in Shanghai time with
the zone marked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, NoReturn

import typer
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine

from cityops.cli.tickets import operator
from cityops.config import get_settings
from cityops.db.engine import get_engine
from cityops.db.incidents import incident_view, list_incident_views
from cityops.db.silences import add_silence, end_silence, list_silences
from cityops.domain.incidents import Incident
from cityops.domain.limits import PersonId
from cityops.domain.models import on_behalf
from cityops.domain.responder import local_time
from cityops.domain.silences import Circle, Polygon, Silence, SilenceSpec, protected_refusal
from cityops.org.directory import UnknownPersonError
from cityops.org.models import PersonRole
from cityops.org.store import load_or_demo
from cityops.rules.incidents import default_incident_rules

# Who may let a window silence gas or fire: a supervisor, or the district center's leaders
# above them (an API override needs a supervisor's key; docs/incidents.md).
OVERRIDERS = (PersonRole.SUPERVISOR, PersonRole.DUTY_LEADER, PersonRole.DIRECTOR)

incident_app = typer.Typer(help="Incidents: one problem, every report of it.", no_args_is_help=True)
silence_app = typer.Typer(
    help="Maintenance windows: alarms inside open no ticket.", no_args_is_help=True
)


def _fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _engine() -> Engine:
    return get_engine(get_settings().database_url)


def _line(incident: Incident) -> str:
    state = "open" if incident.open else "closed"
    sensors = "  known from sensors" if incident.known_from_sensors else ""
    return (
        f"{incident.incident_id}  {incident.scenario_id}  {incident.street_code or '-'}  "
        f"{state}  {incident.ticket_count} ticket(s), {incident.repeat_calls} repeat call(s)  "
        f"sources {','.join(incident.sources) or '-'}  "
        f"last {local_time(incident.last_report_at)}{sensors}"
    )


@incident_app.command("show")
def show(incident_id: Annotated[str, typer.Argument(help="Incident id, e.g. INPS03…")]) -> None:
    """An incident: scenario, place, street, first and last report, sources, its tickets."""
    found = incident_view(_engine(), incident_id[:64], datetime.now(UTC))
    if found is None:
        _fail(f"no incident {incident_id[:64]}")
    typer.echo(_line(found))
    place = found.address or (f"{found.lat:.6f},{found.lon:.6f}" if found.lat and found.lon else "")
    if place:
        typer.echo(f"  place  {place}")
    typer.echo(f"  first  {local_time(found.first_report_at)}")
    if found.known_from_sensors:
        typer.echo("  already known from sensors: a detector or camera reported it first")
    for ticket in found.tickets:
        typer.echo(
            f"  {ticket.ticket_id}  {ticket.role.value}  {ticket.source or '-'}  "
            f"{ticket.stage or 'starting'}  {local_time(ticket.linked_at)}"
            + (f"  ({ticket.basis.value})" if ticket.basis else "")
        )


@incident_app.command("list")
def list_(
    street: Annotated[str | None, typer.Option(help="Street code, e.g. T01")] = None,
    scenario: Annotated[str | None, typer.Option(help="Scenario id, e.g. PS03")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only open incidents")] = False,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """Incidents, newest first."""
    for incident in list_incident_views(
        _engine(),
        datetime.now(UTC),
        street_code=street,
        scenario_id=scenario,
        open_only=open_only,
        limit=limit,
    ):
        typer.echo(_line(incident))


def _silence_line(silence: Silence, at: datetime) -> str:
    scope = ", ".join(
        part
        for part in (
            f"device {silence.device_id}" if silence.device_id else "",
            f"prefix {silence.device_prefix}" if silence.device_prefix else "",
            f"area {silence.area.shape}" if silence.area else "",
            f"scenarios {','.join(silence.scenario_ids)}" if silence.scenario_ids else "",
        )
        if part
    )
    override = f"  override by {silence.override_by}" if silence.override_by else ""
    ended = (
        f"  ended by {on_behalf(silence.ended_by, silence.ended_acted_by)}"
        if silence.ended_at is not None
        else ""
    )
    return (
        f"{silence.silence_id}  {silence.state(at).value}  {scope}  "
        f"{local_time(silence.starts_at)} → {local_time(silence.ends_at)}  "
        f"{silence.events_silenced} event(s) silenced  "
        f"by {on_behalf(silence.created_by, silence.acted_by)}: {silence.reason}{override}{ended}"
    )


@silence_app.command("add")
def add(
    reason: Annotated[str, typer.Option(help="Why, e.g. 道路开挖")],
    by: Annotated[
        str,
        typer.Option(
            "--by", help="Who plans it (recorded as made by the operator on their behalf)"
        ),
    ],
    starts: Annotated[datetime, typer.Option(help="Start, e.g. 2026-12-03T08:00:00+08:00")],
    ends: Annotated[datetime, typer.Option(help="End, with its offset")],
    device: Annotated[str | None, typer.Option(help="One device id")] = None,
    prefix: Annotated[str | None, typer.Option(help="Every device id starting so")] = None,
    lat: Annotated[float | None, typer.Option(help="Centre of a circular area")] = None,
    lon: Annotated[float | None, typer.Option(help="Centre of a circular area")] = None,
    radius: Annotated[float | None, typer.Option(help="Radius of the area in metres")] = None,
    polygon: Annotated[
        str | None,
        typer.Option(help="A polygonal area: lat,lon;lat,lon;lat,lon (3 or more corners)"),
    ] = None,
    scenario: Annotated[list[str] | None, typer.Option(help="Scenario id (repeatable)")] = None,
    override_by: Annotated[
        str | None,
        typer.Option("--override-by", help="Supervisor allowing gas/fire to be silenced"),
    ] = None,
) -> None:
    """Add a maintenance window; prints its id."""
    area: Circle | Polygon | None = None
    try:
        if lat is not None or lon is not None or radius is not None:
            if lat is None or lon is None or radius is None:
                _fail("an area needs --lat, --lon and --radius")
            if polygon is not None:
                _fail("an area is a circle (--lat, --lon, --radius) or a --polygon, not both")
            area = Circle(lat=lat, lon=lon, radius_m=radius)
        elif polygon is not None:
            area = Polygon(points=_corners(polygon))
        spec = SilenceSpec(
            device_id=device,
            device_prefix=prefix,
            area=area,
            scenario_ids=scenario or [],
            starts_at=starts,
            ends_at=ends,
            reason=reason,
            created_by=by,
            override_by=override_by,
            acted_by=operator(),
        )
    except ValidationError as exc:
        _fail("; ".join(e["msg"] for e in exc.errors()))
    refusal = protected_refusal(spec, default_incident_rules().protected)
    if refusal is not None:
        _fail(refusal)
    engine = _engine()
    if override_by is not None:
        _supervisor(engine, override_by)
    silence = add_silence(engine, spec, datetime.now(UTC))
    typer.echo(silence.silence_id)


def _corners(text: str) -> list[tuple[float, float]]:
    """`lat,lon;lat,lon;…` as (lat, lon) corners; a malformed one is named."""
    corners = []
    for corner in (part.strip() for part in text.split(";") if part.strip()):
        try:
            lat, lon = (float(value) for value in corner.split(","))
        except ValueError:
            _fail(f"--polygon: {corner[:40]!r} is not lat,lon")
        corners.append((lat, lon))
    return corners


def _supervisor(engine: Engine, person_id: str) -> None:
    """Only a supervisor (or a leader of the district center) lets a window silence gas or
    fire, as only a supervisor's key may over the API: a --override-by naming anyone else
    is refused (exit 2)."""
    try:
        role = load_or_demo(engine).person(person_id).role
    except UnknownPersonError:
        _fail(f"--override-by: no person {person_id} in the organisation")
    if role not in OVERRIDERS:
        _fail(
            f"--override-by: {person_id} is a {role.value}; only a supervisor "
            "(or the district center's duty leader or director) may override"
        )


@silence_app.command("list")
def list_windows(
    all_: Annotated[bool, typer.Option("--all", help="Include windows that are over")] = False,
) -> None:
    """Maintenance windows, latest start first, with the events each silenced."""
    now = datetime.now(UTC)
    for silence in list_silences(_engine(), include_over=all_, at=now):
        typer.echo(_silence_line(silence, now))


class _EndedBy(BaseModel):
    by: PersonId


@silence_app.command("end")
def end(
    silence_id: Annotated[str, typer.Argument(help="Window id, SI…")],
    by: Annotated[
        str,
        typer.Option("--by", help="Who ends it (recorded as ended by the operator for them)"),
    ],
) -> None:
    """End a window now: later alarms open tickets again."""
    now = datetime.now(UTC)
    try:
        _EndedBy(by=by)  # the limits of a person id, as for --by of `silence add`
    except ValidationError as exc:
        _fail("; ".join(f"--by: {e['msg']}" for e in exc.errors()))
    ended = end_silence(_engine(), silence_id[:32], by, now, acted_by=operator())
    if ended is None:
        _fail(f"no window {silence_id[:32]}")
    typer.echo(_silence_line(ended, now))


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(incident_app, name="incident")
    app.add_typer(silence_app, name="silence")
