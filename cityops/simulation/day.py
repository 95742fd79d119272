"""`cityops simulate`: start a server, run the day, check it, write the report."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import structlog
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from cityops.simulation import report
from cityops.simulation.report import DayResult
from cityops.simulation.run import DAY_MINUTES, simulate
from cityops.workers.devserver import start_dev_server
from cityops.workflows import search_attributes as sa

log = structlog.get_logger()
TEST_SERVER = str(Path(sys.executable).parent / "temporal-test-server")


async def simulate_day(
    day: date,
    seed: int,
    out: Path,
    *,
    scale: float = 1.0,
    realtime: bool = False,
    minutes: int = DAY_MINUTES,
    progress: Callable[[str], None] = print,
) -> DayResult:
    started = time.perf_counter()
    if realtime:
        env = await start_dev_server()
    else:
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=TEST_SERVER, data_converter=pydantic_data_converter
        )
        await sa.register(env.client, "default")
    try:
        simulation = await simulate(
            day, seed, scale, out, env=env, minutes=minutes, realtime=realtime, progress=progress
        )
        statuses = await report.final_statuses(simulation)
        result = report.build(simulation, statuses)
    finally:
        await env.shutdown()
    report.write(result.report, out)
    log.info(
        "simulation_finished",
        seconds=round(time.perf_counter() - started, 1),
        ran_on=simulation.start.isoformat(),
        out=str(out),
    )
    return result
