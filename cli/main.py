"""The `cityops` command: one Typer app; each module under cli/ registers its commands."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="cityops",
    help="cityops: work-order dispatch for a city operations center.",
    no_args_is_help=True,
    add_completion=False,
)
bench_app = typer.Typer(help="Benchmarks that print their figures.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


def _register_all() -> None:
    # One line per command module; each owns its commands.
    from cli import intake_cmd, org_cmd, rules_cmd, stack_cmd, tickets

    tickets.register(app, bench_app)
    stack_cmd.register(app, bench_app)
    org_cmd.register(app, bench_app)
    rules_cmd.register(app, bench_app)
    intake_cmd.register(app, bench_app)


_register_all()

if __name__ == "__main__":
    app()
