"""Commands for calls that are not work orders: the caller's rating of a consultation,
a department's reply to a suggestion, the conversion of a consultation or referral into
a work order, and the kind the rules suggest. (`cityops submit --kind` records them.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import typer
from temporalio.client import Client

from cityops.cli.tickets import (
    AsOpt,
    JsonOpt,
    TicketArg,
    _message,
    _run,
    _workers,
    print_status,
)
from cityops.domain.calls import ConvertInput, RateInput, ReplyInput
from cityops.domain.models import TicketStatus
from cityops.domain.stages import CallbackResult
from cityops.domain.submission import KindQuestion
from cityops.service import calls


def _act(action: Callable[[Client], Awaitable[TicketStatus]], as_json: bool) -> None:
    status = _run(action)
    print_status(status.model_copy(update={"history": []}), as_json)


def rate(
    ticket: TicketArg,
    result: Annotated[CallbackResult, typer.Option(help="The caller's one-question rating")],
    person: AsOpt,
    note: str = "",
    as_json: JsonOpt = False,
) -> None:
    """Record the caller's rating of a consultation answered on the spot."""
    request = _message(RateInput, result=result, by=person, note=note)
    _act(lambda client: calls.rate(client, ticket, request, _workers(client)), as_json)


def reply(
    ticket: TicketArg,
    person: AsOpt,
    text: Annotated[str, typer.Option("--text", help="The department's reply")],
    as_json: JsonOpt = False,
) -> None:
    """Reply to a suggestion in your inbox (its owner, an earlier owner or a tier above)."""
    request = _message(ReplyInput, by=person, reply=text)
    _act(lambda client: calls.reply(client, ticket, request, _workers(client)), as_json)


def convert(
    ticket: TicketArg,
    person: AsOpt,
    reason: Annotated[str, typer.Option(help="Why it needs action after all")],
    scenario: Annotated[
        str | None, typer.Option(help="Scenario id, if known (else the rules decide)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Turn a consultation or referral into a work order under the same number."""
    request = _message(ConvertInput, by=person, reason=reason, scenario_id=scenario)
    _act(lambda client: calls.convert(client, ticket, request, _workers(client)), as_json)


def suggest_kind(text: Annotated[str, typer.Option(help="What the caller said")]) -> None:
    """The kind the rules suggest for a caller's words; the agent decides."""
    question: KindQuestion = _message(KindQuestion, text=text)
    suggestion = calls.suggest_kind(question.text)
    typer.echo(f"{suggestion.kind.value}  ({suggestion.reason})")
    if suggestion.candidates:  # to pick from: cityops submit --service-code
        typer.echo(
            "candidates: "
            + ", ".join(
                f"{c.scenario_id} {c.name_zh} {c.probability:.0%}" for c in suggestion.candidates
            )
        )


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    for command in (rate, reply, convert):
        app.command()(command)
    app.command("suggest-kind")(suggest_kind)
