"""The ceiling: the cheapest workflow that still does one activity round trip.

Kept in its own small module so the workflow sandbox imports nothing else.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

CEILING_QUEUE = "bench-ceiling"


@activity.defn(name="bench_noop")
async def noop(value: int) -> int:
    return value


@workflow.defn(name="BenchCeilingWorkflow")
class CeilingWorkflow:
    @workflow.run
    async def run(self, value: int) -> int:
        result: int = await workflow.execute_activity(
            noop, value, start_to_close_timeout=timedelta(seconds=30)
        )
        return result
