"""`cityops simulate`: start a server, run the day, check it, write the report."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import structlog
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from cityops.simulation import report
from cityops.simulation.report import DayResult
from cityops.simulation.run import DAY_MINUTES, STALL_SECONDS, simulate
from cityops.workers.devserver import start_dev_server
from cityops.workflows import search_attributes as sa

TEST_SERVER = str(Path(sys.executable).parent / "temporal-test-server")
LOG_NAME = "simulation.log"


def file_logger(handle: TextIO) -> Any:
    """JSON lines into DIR/simulation.log: every simulated action with its ticket and
    stage, and the run-time facts (wall-clock seconds, the date the day ran on) that
    report.json leaves out."""
    return structlog.wrap_logger(
        structlog.WriteLogger(handle),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.JSONRenderer(ensure_ascii=False, sort_keys=True),
        ],
        # Its own level filter: the app's global set-up (INFO) must not drop the debug
        # lines of every simulated action when an API ran in the same process first.
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
    )


async def simulate_day(
    day: date,
    seed: int,
    out: Path,
    *,
    scale: float = 1.0,
    realtime: bool = False,
    minutes: int = DAY_MINUTES,
    progress: Callable[[str], None] = print,
    stall_seconds: float = STALL_SECONDS,
) -> DayResult:
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    with (out / LOG_NAME).open("w", encoding="utf-8") as handle:
        log = file_logger(handle)
        if realtime:
            env = await start_dev_server()
        else:
            env = await WorkflowEnvironment.start_time_skipping(
                test_server_existing_path=TEST_SERVER, data_converter=pydantic_data_converter
            )
            await sa.register(env.client, "default")
        try:
            simulation = await simulate(
                day,
                seed,
                scale,
                out,
                env=env,
                minutes=minutes,
                realtime=realtime,
                progress=progress,
                actions_log=log,
                stall_seconds=stall_seconds,
            )
            result = report.build(simulation, simulation.final)
        except BaseException as failed:
            log.error("simulation_failed", error=str(failed))
            raise
        finally:
            await env.shutdown()
        report.write(result, out)
        log.info(
            "simulation_finished",
            seconds=round(time.perf_counter() - started, 1),
            ran_on=simulation.start.isoformat(),
            timers_let_fire=simulation.timers_let_fire,
            # How many timers fired while the day's end was read depends on how fast it
            # was read: a run-time fact for the log, not the report.
            moved_after_midnight=len(simulation.moved),
            messages=dict(sorted(simulation.messages.items())),
            wall_seconds={k: round(v, 1) for k, v in sorted(simulation.wall.items())},
            out=str(out),
        )
    return result
