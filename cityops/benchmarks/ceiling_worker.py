"""`python -m cityops.benchmarks.ceiling_worker`: a worker process for the ceiling's trivial
workflow, configured like a ticket worker (same connection, encryption and workflow
runner), so the ceiling and the tickets are measured with the same kind of process."""

from __future__ import annotations

import asyncio
import signal

from temporalio.worker import Worker

from cityops.benchmarks.ceiling import CEILING_QUEUE, CeilingWorkflow, noop
from cityops.workers.client import connect
from cityops.workers.main import workflow_runner


async def run() -> None:
    client = await connect()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with Worker(
        client,
        task_queue=CEILING_QUEUE,
        workflows=[CeilingWorkflow],
        activities=[noop],
        workflow_runner=workflow_runner(),
        max_concurrent_activities=200,
    ):
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(run())
