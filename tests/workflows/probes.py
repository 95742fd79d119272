"""A workflow that breaks the rules on purpose, to show the checked sandbox refuses it.
Run it only under `sandbox_runner(check_workflow_code=True)`."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow


@workflow.defn(sandboxed=True)
class ProbeWorkflow:
    @workflow.run
    async def run(self, action: str) -> str:
        if action == "clock":
            return datetime.now().isoformat()
        with open(__file__, encoding="utf-8") as source:
            return source.readline()
