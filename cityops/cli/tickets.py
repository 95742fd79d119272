"""Ticket commands: submit, accept, resolve, status, list, and the closure and supervision
steps. Each talks to Temporal directly, with no API key: this is the operator's tool (the
people themselves use the API, the responder's page and the links in their notices).

`--as` names the person an action is for; every action is recorded in the ticket's
history as done by the operator on their behalf ("operator:alice on behalf of P-T01-1"),
the operator being CITYOPS_OPERATOR or else the user running the command."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from temporalio.client import Client

from cityops.config import PROJECT_ROOT, get_settings
from cityops.db.engine import get_engine
from cityops.domain.calls import CallIntake
from cityops.domain.limits import TICKET_NUMBER
from cityops.domain.models import (
    AcceptInput,
    Acted,
    AfterPhoto,
    CallbackInput,
    ContactInput,
    DismissInput,
    ExtensionDecision,
    ExtensionRequest,
    PauseInput,
    RecheckInput,
    ReconsiderationDecision,
    ReconsiderationRequest,
    ResolveInput,
    ResumeInput,
    ReturnInput,
    ReturnReason,
    ReturnReasonCode,
    ReviewInput,
    RuleClosureInput,
    TicketStatus,
    TransferInput,
    TriageDecision,
    UrgeInput,
)
from cityops.domain.stages import CallbackResult, CallKind, LinkKind, ReviewDecision, Source
from cityops.domain.submission import SubmitTicket
from cityops.domain.zones import SHANGHAI, shown
from cityops.service import calls, tickets
from cityops.service import split as split_service
from cityops.service.geography import Geography
from cityops.service.tickets import TicketError, TicketUpdate
from cityops.workers.client import connect
from cityops.workflows.details import (
    calendar_warning,
    incident_rows,
    one_line,
    stall_line,
)
from cityops.workflows.ticket import TicketWorkflow

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def _ticket_number(value: str) -> str:
    """A ticket number as the API's paths take it (docs/api.md, "Length limits")."""
    if not re.match(TICKET_NUMBER, value):
        raise typer.BadParameter("a ticket number: 1 to 64 letters, digits and dashes")
    return value


TicketArg = Annotated[
    str,
    typer.Argument(help="Ticket number, e.g. PD20261128A1B2C3D4", callback=_ticket_number),
]
AsOpt = Annotated[
    str,
    typer.Option(
        "--as",
        help="The person the action is for, e.g. P-T01-01-1 (recorded as done by the "
        "operator on their behalf)",
    ),
]
OPERATOR_ENV = "CITYOPS_OPERATOR"
_OPERATOR = re.compile(r"^[A-Za-z0-9_.@-]{1,32}$")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text")]


def _run(action: Callable[[Client], Awaitable[T]]) -> T:
    """Connect, run, and turn every expected failure into one clear line and exit 1."""

    async def main() -> T:
        try:
            client = await connect()
        except RuntimeError as exc:
            raise TicketError(
                f"cannot reach Temporal at {get_settings().temporal_address}: {exc} "
                "(is `cityops up` running?)"
            ) from exc
        return await action(client)

    try:
        return asyncio.run(main())
    except TicketError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc


def _workers(client: Client) -> tickets.WorkerWatch:
    settings = get_settings()
    return tickets.WorkerWatch(client, settings.task_queue, settings.temporal_namespace)


def _fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def operator() -> str:
    """Who is at the keyboard, as the history records it: ``operator:<CITYOPS_OPERATOR>``,
    else ``operator:<the OS user>``. A malformed CITYOPS_OPERATOR is an error (exit 2)."""
    named = os.environ.get(OPERATOR_ENV, "").strip()
    if named:
        if not _OPERATOR.match(named):
            _fail(f"{OPERATOR_ENV}: 1-32 letters, digits and _ . @ - (got {named[:40]!r})")
        return f"operator:{named}"
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = f"uid{os.getuid()}"
    return f"operator:{user if _OPERATOR.match(user) else f'uid{os.getuid()}'}"


# The option a message's field comes from, where its name differs (the CLI validates with
# the API's models, and names the option in what it refuses).
OPTIONS = {
    "person_id": "--as",
    "by": "--as",
    "caller_phone": "--phone",
    "caller_name": "--name",
    "service_code": "--scenario",
    "scenario_id": "--scenario",
    "hotline_id": "--hotline-id",
    "camera_id": "--camera",
    "target_unit": "--to",
    "suggested_unit": "--suggest",
    "new_deadline": "--until",
    "referral.body": "--refer-to",
    "body": "--refer-to",
    "reference": "--reference",
    "referral.reference": "--reference",
    "referral": "--refer-to/--reference",
}


def _option(field: str, options: dict[str, str]) -> str:
    if field in options:
        return options[field]
    if field in OPTIONS:
        return OPTIONS[field]
    last = field.rpartition(".")[2]
    return OPTIONS.get(last) or f"--{last.replace('_', '-')}"


def _problem(error: Any, options: dict[str, str]) -> str:
    """One pydantic error as `--option: what is wrong`; a model-level message that names
    its field first ("answer: only for a consultation") names the option instead."""
    field = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if not field:
        field, sep, rest = message.partition(": ")
        if not sep or " " in field:
            return message
        message = rest
    return f"{_option(field, options)}: {message}"


def _message(model: type[BaseModel], options: dict[str, str] | None = None, **fields: Any) -> Any:
    """The model from the options, validated as the API validates it; else exit 2 naming
    each option that is wrong. `options` maps a field to its option where the name differs.
    An action done for a person records the operator as who did it."""
    if issubclass(model, Acted):
        fields.setdefault("acted_by", operator())
    try:
        return model(**fields)
    except ValidationError as exc:
        problems = "; ".join(_problem(e, options or {}) for e in exc.errors())
        typer.secho(f"error: {problems}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc


def print_status(status: TicketStatus, as_json: bool = False) -> None:
    if as_json:
        typer.echo(status.model_dump_json(indent=2))
        return
    scenario = f"{status.scenario_id} {status.scenario_name}" if status.scenario_id else "(triage)"
    if status.call is not None and status.scenario_id is None:
        scenario = "-"  # a call that is no work order has none
    rows = [
        ("ticket", status.ticket_id),
        ("stage", status.stage.value),
        ("scenario", f"{scenario} {status.priority.value if status.priority else ''}".strip()),
        ("street", status.street_code or "-"),
        ("assignee", f"{status.assignee_name or '-'} ({status.assignee_id or '-'})"),
        ("tier", status.tier.value if status.tier else "-"),
        *([("waiting on", status.waiting_on)] if status.waiting_on else []),
        *([("triage by", _time(status.triage_deadline))] if status.scenario_id is None else []),
        ("accept by", _time(status.accept_deadline)),
        ("resolve by", _time(status.resolve_deadline)),
        ("contact by", _contact(status)),
        *([("verify by", _time(status.verify_deadline))] if status.verify_deadline else []),
        *([("paused until", _time(status.pause_deadline))] if status.pause_deadline else []),
        *([("ruling", f"{status.bound_unit} handles it")] if status.bound_unit else []),
        ("sla", _sla(status)),
        *([("stalled", line)] if (line := stall_line(status)) else []),
        ("escalations", str(status.escalations)),
        ("reopens", str(status.reopens)),
    ]
    rows += _call_rows(status)
    rows += _incident_rows(status)
    rows += _classification_rows(status)
    if (warning := calendar_warning(status)) is not None:
        rows.append(("calendar", f"WARNING {warning}"))
    # Citizens' words among them: no control character (an escape sequence) reaches the
    # terminal, and each row stays one line.
    for label, value in rows:
        typer.echo(f"{label:>12}  {one_line(value)}")
    if status.history:
        typer.echo("     history")
        for entry in status.history:
            who = f" by {entry.who}" if entry.who else ""
            detail = f"  {entry.detail}" if entry.detail else ""
            typer.echo(f"              {_time(entry.at)}  {entry.event}{who}{one_line(detail)}")


def _incident_rows(status: TicketStatus) -> list[tuple[str, str]]:
    """Its incident, as the UI's details show it (workflows/details.py)."""
    return incident_rows(status, lambda text: one_line(text)[:40], _time)


def _classification_rows(status: TicketStatus) -> list[tuple[str, str]]:
    """The engine's top candidates, the caller's other problem and where it went."""
    rows: list[tuple[str, str]] = []
    found = status.classification
    if found is not None and found.candidates:
        rows.append(
            (
                "candidates",
                ", ".join(
                    f"{c.scenario_id} {c.name_zh} {c.probability:.0%}" for c in found.candidates
                ),
            )
        )
    if found is not None and found.suggested is not None:
        # The agent's service code won; the engine's own reading stays visible for review.
        rows.append(("engine read", f"{found.suggested} (the agent's choice stands)"))
    secondary = found.secondary if found is not None else None
    if secondary is not None:
        where = (
            f" → split into {status.split.new_ticket_id}"
            if status.split is not None
            else f" (split it: cityops split {status.ticket_id} --as PERSON)"
        )
        rows.append(
            (
                "secondary",
                f"{secondary.scenario.id} {secondary.scenario.name_zh}: "
                f"{secondary.text[:60]}{where}",
            )
        )
    if status.split_from is not None:
        rows.append(("split from", status.split_from))
    return rows


def _call_rows(status: TicketStatus) -> list[tuple[str, str]]:
    """What a call that is no work order (or was, before conversion) adds."""
    call = status.call
    if call is None:
        return []
    rows = [("kind", call.kind.value)]
    if call.answer:
        rows.append(("answer", call.answer))
    if call.referral:
        rows.append(("referred to", f"{call.referral.body}: {call.referral.reference}"))
    if call.link:
        rows.append(("link", call.link))
    if call.department:
        rows.append(("inbox", call.department))
    if call.reply_deadline:
        rows.append(("reply by", _time(call.reply_deadline)))
    if call.reply:
        rows.append(("reply", call.reply))
    if call.rating:
        rows.append(("rating", call.rating.value))
    if call.open_until:
        rows.append(("open until", _time(call.open_until)))
    return rows


def _sla(status: TicketStatus) -> str:
    flags = [
        flag
        for flag, on in (
            ("OVERDUE", status.overdue),
            ("PAUSED", status.paused),
            ("STALLED", status.stalled_since is not None),
        )
        if on
    ]
    return " ".join([status.sla_colour, *flags])


def _contact(status: TicketStatus) -> str:
    if status.contacted_at is not None:
        return f"contacted {_time(status.contacted_at)}"
    return _time(status.contact_deadline)


def _time(value: datetime | None) -> str:
    return "-" if value is None else shown(value, seconds=True)


def _update(ticket: str, update: TicketUpdate[M], request: M, as_json: bool) -> None:
    status = _run(lambda client: tickets.update(client, ticket, update, request, _workers(client)))
    print_status(status.model_copy(update={"history": []}), as_json)


def submit(
    text: Annotated[str, typer.Option(help="What the caller said")],
    address: Annotated[
        str | None, typer.Option(help="Address, e.g. 浦东新区张江镇碧波路690号")
    ] = None,
    phone: Annotated[str | None, typer.Option(help="Caller's phone")] = None,
    name: Annotated[str | None, typer.Option(help="Caller's name")] = None,
    source: Annotated[Source, typer.Option(help="Where it came from")] = Source.HOTLINE,
    hotline_id: Annotated[
        str | None, typer.Option("--hotline-id", help="The hotline's own number (idempotent)")
    ] = None,
    lat: Annotated[float | None, typer.Option(help="Latitude, if known")] = None,
    lon: Annotated[float | None, typer.Option(help="Longitude, if known")] = None,
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario",
            "--service-code",
            help="Scenario id (the service code) the agent chose; it wins over the engine's",
        ),
    ] = None,
    kind: Annotated[
        CallKind, typer.Option(help="complaint: a work order; the others the hotline closes")
    ] = CallKind.COMPLAINT,
    answer: Annotated[str | None, typer.Option(help="consultation: the answer given")] = None,
    refer_to: Annotated[
        str | None, typer.Option("--refer-to", help="referral: the outside body, e.g. 95598")
    ] = None,
    reference: Annotated[
        str | None, typer.Option(help="referral: the reference given to the caller")
    ] = None,
    link: Annotated[str | None, typer.Option(help="A link read out to the caller")] = None,
    department: Annotated[
        str | None, typer.Option(help="suggestion: the unit whose inbox it goes to")
    ] = None,
    agent: Annotated[str | None, typer.Option(help="Who took the call")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Submit a call: a complaint (a work order), or a consultation answered on the spot,
    a referral, a suggestion; prints the ticket number at once. Validated as the API's
    POST /api/v1/tickets is (the same model): a blank --text is refused."""
    referral = (
        {"body": refer_to, "reference": reference}
        if refer_to is not None or reference is not None
        else None
    )
    body: SubmitTicket = _message(
        SubmitTicket,
        text=text,
        address=address,
        caller_phone=phone,
        caller_name=name,
        source=source,
        hotline_id=hotline_id,
        lat=lat,
        lon=lon,
        service_code=scenario,
        kind=kind,
        answer=answer,
        referral=referral,
        link=link,
        department=department,
        agent=agent,
    )
    received = datetime.now(UTC)
    intake = body.intake(tickets.new_ticket_id(received, hotline_id), received)
    settings = get_settings()
    if kind is CallKind.COMPLAINT:
        engine = get_engine(settings.database_url)
        geography = Geography(engine)
        result = _run(
            lambda client: tickets.submit(
                client, intake, settings.task_queue, engine, geography=geography
            )
        )
    else:
        call = _message(CallIntake, intake=intake, details=body.details(), agent=agent)
        result = _run(lambda client: calls.submit_call(client, call, settings.task_queue))
    if as_json:
        typer.echo(json.dumps(result.__dict__))
        return
    note = "" if result.created else "  (already submitted: same ticket)"
    typer.echo(f"{result.ticket_id}{note}{_incident_note(result)}")


def _incident_note(result: tickets.Submitted) -> str:
    """What the agent tells the caller besides the number: somebody is on it already."""
    if result.incident_id is None or result.link in (None, LinkKind.NEW):
        return ""
    what = (
        "already known from sensors"
        if result.link is LinkKind.KNOWN_FROM_SENSORS
        else "a repeat call"
    )
    return f"  ({what}: incident {result.incident_id}, open ticket {result.primary_ticket_id})"


def accept(ticket: TicketArg, person: AsOpt, as_json: JsonOpt = False) -> None:
    """Accept a ticket assigned to you."""
    _update(ticket, TicketWorkflow.accept, _message(AcceptInput, person_id=person), as_json)


def resolve(
    ticket: TicketArg,
    person: AsOpt,
    note: Annotated[str, typer.Option(help="What was done")] = "",
    photo_url: Annotated[str | None, typer.Option(help="After-photo URL (photo review)")] = None,
    photo_lat: Annotated[float | None, typer.Option(help="Where the photo was taken")] = None,
    photo_lon: Annotated[float | None, typer.Option(help="Where the photo was taken")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Report the fix; closure verification starts."""
    photo = None
    if photo_url is not None:
        photo = _message(
            AfterPhoto,
            {"url": "--photo-url", "lat": "--photo-lat", "lon": "--photo-lon"},
            url=photo_url,
            taken_at=datetime.now(UTC),
            lat=photo_lat,
            lon=photo_lon,
        )
    _update(
        ticket,
        TicketWorkflow.resolve,
        _message(ResolveInput, person_id=person, note=note, photo=photo),
        as_json,
    )


def triage(
    ticket: TicketArg,
    scenario: Annotated[str, typer.Option(help="Scenario id, e.g. PS03")],
    person: AsOpt,
    note: str = "",
    as_json: JsonOpt = False,
) -> None:
    """Classify a ticket the rules could not (district dispatcher)."""
    decision = _message(TriageDecision, scenario_id=scenario, by=person, note=note)
    _update(ticket, TicketWorkflow.classify, decision, as_json)


def callback(
    ticket: TicketArg,
    result: Annotated[CallbackResult, typer.Option(help="The citizen's answer")],
    person: AsOpt,
    note: str = "",
    as_json: JsonOpt = False,
) -> None:
    """Record the citizen's callback answer (hotline)."""
    _update(
        ticket,
        TicketWorkflow.callback,
        _message(CallbackInput, result=result, by=person, note=note),
        as_json,
    )


def review(
    ticket: TicketArg,
    decision: Annotated[ReviewDecision, typer.Option(help="approved or rejected")],
    person: AsOpt,
    reason: str = "",
    as_json: JsonOpt = False,
) -> None:
    """Approve or reject the after-photo (dispatching sub-center)."""
    _update(
        ticket,
        TicketWorkflow.review,
        _message(ReviewInput, decision=decision, by=person, reason=reason),
        as_json,
    )


def recheck(
    ticket: TicketArg,
    still_detected: Annotated[bool, typer.Option("--still-detected/--cleared")],
    camera: str = "",
    as_json: JsonOpt = False,
) -> None:
    """Record a video re-detection result."""
    request = _message(RecheckInput, still_detected=still_detected, camera_id=camera)
    _update(ticket, TicketWorkflow.recheck, request, as_json)


def urge(ticket: TicketArg, person: AsOpt, note: str = "", as_json: JsonOpt = False) -> None:
    """Urge (催办) the assignee by hand (supervisor)."""
    _update(ticket, TicketWorkflow.urge, _message(UrgeInput, by=person, note=note), as_json)


def dismiss(
    ticket: TicketArg,
    person: AsOpt,
    reason: Annotated[str, typer.Option(help="Why it is no work order, e.g. 咨询类，已答复")],
    as_json: JsonOpt = False,
) -> None:
    """Close a triage ticket that is no work order (district dispatcher)."""
    _update(
        ticket, TicketWorkflow.dismiss, _message(DismissInput, by=person, reason=reason), as_json
    )


def close_unfixed(
    ticket: TicketArg,
    person: AsOpt,
    reason: Annotated[str, typer.Option(help="Why it is closed without a proven fix")],
    as_json: JsonOpt = False,
) -> None:
    """Close a ticket that cannot be fixed: recorded as closed_unfixed, never as closed."""
    _update(
        ticket,
        TicketWorkflow.rule_closure,
        _message(RuleClosureInput, by=person, reason=reason),
        as_json,
    )


def return_(
    ticket: TicketArg,
    person: AsOpt,
    reason: Annotated[ReturnReasonCode, typer.Option(help="Why it is not yours")],
    suggest: Annotated[str | None, typer.Option(help="The unit that is right, e.g. T02")] = None,
    note: str = "",
    as_json: JsonOpt = False,
) -> None:
    """Return (退单) a ticket that is not your jurisdiction or duty."""
    why = _message(
        ReturnReason, {"code": "--reason"}, code=reason, note=note, suggested_unit=suggest
    )
    _update(
        ticket,
        TicketWorkflow.return_ticket,
        _message(ReturnInput, person_id=person, reason=why),
        as_json,
    )


def transfer(
    ticket: TicketArg,
    person: AsOpt,
    to: Annotated[str, typer.Option("--to", help="Target unit code, e.g. T05 or T05-02")],
    reason: Annotated[str, typer.Option(help="Why (recorded)")],
    as_json: JsonOpt = False,
) -> None:
    """Transfer a ticket to another unit (dispatcher)."""
    request = _message(TransferInput, by=person, target_unit=to, reason=reason)
    _update(ticket, TicketWorkflow.transfer, request, as_json)


def extend(
    ticket: TicketArg,
    person: AsOpt,
    until: Annotated[datetime, typer.Option(help="New deadline, e.g. 2026-12-01T18:00:00+08:00")],
    reason: Annotated[str, typer.Option(help="Why more time is needed")],
    as_json: JsonOpt = False,
) -> None:
    """Ask for an extension (延期) of the resolve deadline."""
    if until.tzinfo is None:
        until = until.replace(tzinfo=SHANGHAI)
    request = _message(ExtensionRequest, person_id=person, new_deadline=until, reason=reason)
    _update(ticket, TicketWorkflow.request_extension, request, as_json)


def reconsider(
    ticket: TicketArg,
    person: AsOpt,
    reason: Annotated[str, typer.Option(help="Why the district's ruling should change")],
    suggest: Annotated[str | None, typer.Option(help="The unit that is right, e.g. T02")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask the district to reconsider the ruling that binds your unit to a ticket."""
    request = _message(
        ReconsiderationRequest, person_id=person, reason=reason, suggested_unit=suggest
    )
    _update(ticket, TicketWorkflow.request_reconsideration, request, as_json)


def decide_reconsideration(
    ticket: TicketArg,
    person: AsOpt,
    approve: Annotated[bool, typer.Option("--approve/--reject")],
    to: Annotated[
        str | None, typer.Option("--to", help="Approving: the unit that takes the ticket")
    ] = None,
    note: str = "",
    as_json: JsonOpt = False,
) -> None:
    """Decide a reconsideration request (the district)."""
    decision = _message(
        ReconsiderationDecision, by=person, approve=approve, target_unit=to, note=note
    )
    _update(ticket, TicketWorkflow.decide_reconsideration, decision, as_json)


def decide_extension(
    ticket: TicketArg,
    person: AsOpt,
    approve: Annotated[bool, typer.Option("--approve/--reject")],
    note: str = "",
    as_json: JsonOpt = False,
) -> None:
    """Approve or reject a pending extension (the tier above)."""
    decision = _message(ExtensionDecision, by=person, approve=approve, note=note)
    _update(ticket, TicketWorkflow.decide_extension, decision, as_json)


def contact(ticket: TicketArg, person: AsOpt, note: str = "", as_json: JsonOpt = False) -> None:
    """Record the first contact with the citizen (stops the first-contact clock)."""
    _update(
        ticket,
        TicketWorkflow.contact_citizen,
        _message(ContactInput, person_id=person, note=note),
        as_json,
    )


def pause(
    ticket: TicketArg,
    person: AsOpt,
    reason: Annotated[str, typer.Option(help="What the ticket waits for, e.g. 等业主开门")],
    until: Annotated[
        datetime | None,
        typer.Option(
            help="When the pause ends at the latest, e.g. 2026-12-01T18:00:00+08:00 "
            "(default: sla.yaml pause.within); while paused, a later time extends the pause"
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Pause the resolve clock while waiting on the citizen, until a stated time."""
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=SHANGHAI)
    _update(
        ticket,
        TicketWorkflow.pause_clock,
        _message(PauseInput, person_id=person, reason=reason, until=until),
        as_json,
    )


def resume(ticket: TicketArg, person: AsOpt, note: str = "", as_json: JsonOpt = False) -> None:
    """Resume the resolve clock; its deadline moves by the paused time."""
    _update(
        ticket,
        TicketWorkflow.resume_clock,
        _message(ResumeInput, person_id=person, note=note),
        as_json,
    )


def split(ticket: TicketArg, person: AsOpt, as_json: JsonOpt = False) -> None:
    """Split the call's secondary issue into a ticket of its own (dispatcher or supervisor):
    its own number, the secondary scenario, the same caller and place, linked both ways."""
    settings = get_settings()
    done = _run(
        lambda client: split_service.split_secondary(
            client,
            ticket,
            person,
            settings.task_queue,
            get_engine(settings.database_url),
            acted_by=operator(),
        )
    )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ticket_id": ticket,
                    "new_ticket_id": done.new_ticket_id,
                    "created": done.created,
                    "status": done.outcome.status.model_dump(mode="json"),
                },
                ensure_ascii=False,
            )
        )
        return
    typer.echo(f"split {ticket} → new ticket {done.new_ticket_id}")
    print_status(done.outcome.status.model_copy(update={"history": []}))


def status(ticket: TicketArg, as_json: JsonOpt = False) -> None:
    """Stage, assignee, tier, deadlines and history of a ticket."""
    print_status(
        _run(lambda client: tickets.status(client, ticket, workers=_workers(client))), as_json
    )


def list_(
    query: Annotated[
        str,
        typer.Option(
            help="Temporal filter, e.g. \"TicketStreet='T01' AND TicketStage='awaiting_accept'\""
        ),
    ] = "",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List tickets from the visibility store."""
    rows = _run(lambda client: tickets.list_tickets(client, query, limit))
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in rows], default=str, ensure_ascii=False))
        return
    typer.echo(
        f"{'ticket':<22}{'kind':<14}{'stage':<17}{'scenario':<10}{'street':<8}{'tier':<10}assignee"
    )
    for row in rows:
        a = row.attributes
        kinds = a.get("TicketKind") or ["-"]
        kind = kinds[-1] if len(kinds) == 1 else "+".join(sorted(kinds))
        typer.echo(
            f"{row.ticket_id:<22}{kind:<14}{a.get('TicketStage', '-'):<17}"
            f"{a.get('TicketScenario', '-'):<10}{a.get('TicketStreet', '-'):<8}"
            f"{a.get('TicketTier', '-'):<10}{a.get('TicketAssignee', '-')}"
        )
    typer.echo(f"({len(rows)} tickets)")


def bench_sandbox(
    histories: Annotated[
        Path, typer.Option(help="Folder of recorded ticket histories (*.json)")
    ] = PROJECT_ROOT / "tests" / "data" / "histories",
    rounds: Annotated[int, typer.Option(min=1, help="Replays of each history per runner")] = 20,
) -> None:
    """Worker CPU per ticket with no sandbox (production), with the workflow package
    passed through the sandbox, and run inside it (tests), by replaying recorded tickets."""
    from cityops.benchmarks.sandbox import RUNNERS, load_histories, measure

    loaded = load_histories(histories)
    for runner in [*RUNNERS, *RUNNERS]:  # twice each: the first round may still warm up
        figure = asyncio.run(measure(loaded, rounds, runner))
        typer.echo(
            f"{figure.runner}: {figure.cpu_ms_per_ticket:.1f} ms CPU and "
            f"{figure.wall_ms_per_ticket:.1f} ms wall per ticket ({figure.tickets} replays)"
        )


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    commands: list[Callable[..., None]] = [
        submit, accept, resolve, triage, callback, review, recheck, urge, status,
        transfer, extend, contact, pause, resume, dismiss, split,
    ]  # fmt: skip
    for command in commands:
        app.command()(command)
    app.command("close-unfixed")(close_unfixed)
    app.command("return")(return_)
    app.command("decide-extension")(decide_extension)
    app.command("reconsider")(reconsider)
    app.command("decide-reconsideration")(decide_reconsideration)
    app.command("list")(list_)
    bench_app.command("sandbox")(bench_sandbox)
