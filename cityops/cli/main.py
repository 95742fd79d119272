"""The `cityops` command: one Typer app; each module under cli/ registers its commands."""

from __future__ import annotations

import os
import sys

import typer

app = typer.Typer(
    name="cityops",
    help="cityops: work-order dispatch for a city operations center. The operator's tool: "
    "actions taken --as a person are recorded as done by the operator (CITYOPS_OPERATOR, "
    "else the OS user) on their behalf.",
    no_args_is_help=True,
    add_completion=False,
)
bench_app = typer.Typer(help="Benchmarks that print their figures.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


def _register_all() -> None:
    # One line per command module; each owns its commands.
    from cityops.cli import (
        apikey_cmd,
        bench_cmd,
        calendar_cmd,
        calls_cmd,
        cityview_cmd,
        incidents_cmd,
        intake_cmd,
        org_cmd,
        page_cmd,
        privacy_cmd,
        rules_cmd,
        simulate_cmd,
        stack_cmd,
        tickets,
    )

    tickets.register(app, bench_app)
    calls_cmd.register(app, bench_app)
    stack_cmd.register(app, bench_app)
    org_cmd.register(app, bench_app)
    rules_cmd.register(app, bench_app)
    intake_cmd.register(app, bench_app)
    apikey_cmd.register(app, bench_app)
    page_cmd.register(app, bench_app)
    incidents_cmd.register(app, bench_app)
    cityview_cmd.register(app, bench_app)
    privacy_cmd.register(app, bench_app)
    simulate_cmd.register(app, bench_app)
    calendar_cmd.register(app, bench_app)
    bench_cmd.register(app, bench_app)


_register_all()


def main() -> None:
    """Entry point of the `cityops` script.

    Ends with os._exit: the Temporal client's Rust threads can outlive the event loop and
    abort the interpreter during teardown (temporalio/sdk-python#300), which would turn
    a finished command into "Aborted". Output is flushed first; nothing else is pending.
    """
    code = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
