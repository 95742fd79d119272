"""`cityops page link` and `cityops page revoke`: the responder's page links by hand.

A link is printed for a person who lost the notice; a revocation kills every link of a
person (a lost phone) or of one of their tickets issued up to now. New notices carry new
links that work again. See docs/responder.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from cityops.config import get_settings
from cityops.db.engine import get_engine
from cityops.db.page_links import PageLog
from cityops.domain.tokens import page_url, sign_page_token

page_app = typer.Typer(
    help="The responder's page: print or revoke page links.", no_args_is_help=True
)


@page_app.command("link")
def link(
    ticket_id: Annotated[str, typer.Argument(help="Ticket number")],
    person: Annotated[str, typer.Option("--as", help="The person the link is for")],
) -> None:
    """Print a fresh page link for a person and ticket (it opens while the ticket is theirs)."""
    settings = get_settings()
    token = sign_page_token(ticket_id, person, datetime.now(UTC), settings.secret)
    typer.echo(page_url(settings.public_url, token))


@page_app.command("revoke")
def revoke(
    person: Annotated[str, typer.Argument(help="Whose links to revoke")],
    ticket_id: Annotated[
        str | None, typer.Option("--ticket", help="Only this ticket's links (default: all)")
    ] = None,
    by: Annotated[str, typer.Option("--by", help="Who revokes, for the record")] = "",
    reason: Annotated[str, typer.Option("--reason", help="Why, for the record")] = "",
) -> None:
    """Revoke every page link issued to a person until now (or for one ticket)."""
    settings = get_settings()
    at = PageLog(get_engine(settings.database_url)).revoke(
        person, ticket_id=ticket_id, by=by, reason=reason
    )
    scope = f"ticket {ticket_id}" if ticket_id else "all tickets"
    typer.echo(f"revoked page links of {person} ({scope}) issued up to {at.isoformat()}")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(page_app, name="page")
