"""Record CallWorkflow histories for the replay test (tests/workflows/test_replay.py).

    .venv/bin/python -m tests.workflows.record_call_histories

Like record_histories.py, run it only for a deliberate, versioned change: the stored
histories (C-*.json) hold every later change of CallWorkflow to the calls in flight.
Never overwrites a file that exists.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio.client import WorkflowContinuedAsNewError, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from cityops.domain.calls import (
    CallIntake,
    Consultation,
    ConvertInput,
    RateInput,
    ReplyInput,
    Suggestion,
)
from cityops.domain.stages import CallbackResult, Stage
from cityops.service import calls, tickets
from cityops.workflows import search_attributes as sa
from tests.conftest import TEST_SERVER
from tests.workflows.harness import Harness, advance_to_plain_week, intake
from tests.workflows.harness import running as running_harness
from tests.workflows.record_histories import HISTORIES

Scenario = Callable[[WorkflowEnvironment, Harness], Awaitable[WorkflowHandle[object, object]]]


async def _call(h: Harness, env: WorkflowEnvironment, ticket: str, details: object) -> str:
    # A plain Wednesday: the suggestion's reply clock counts working time, and its 14-day
    # sleep must reach the supervise step (1.5 x 5 working days) whatever the date.
    at = await advance_to_plain_week(env, hour=11)
    text = "想问问小区门口井盖松动归谁管" if ticket == "C-CNV" else "建议公园延长开放时间"
    call = CallIntake.model_validate(
        {"intake": intake(ticket, text=text, received_at=at), "details": details, "agent": "a-7"}
    )
    await calls.submit_call(h.client, call, h.task_queue)
    described = await h.client.get_workflow_handle(tickets.workflow_id_for(ticket)).describe()
    return described.run_id or ""


async def consultation_rated_then_converted(
    env: WorkflowEnvironment, h: Harness
) -> WorkflowHandle[object, object]:
    run_id = await _call(h, env, "C-CNV", Consultation(answer="由街镇负责"))
    await h.until_stage("C-CNV", Stage.ANSWERED)
    await calls.rate(h.client, "C-CNV", RateInput(result=CallbackResult.SATISFIED, by="a-7"))
    await calls.convert(
        h.client, "C-CNV", ConvertInput(by="a-7", reason="井盖已缺失", scenario_id="PS03")
    )
    return h.client.get_workflow_handle(tickets.workflow_id_for("C-CNV"), run_id=run_id)


async def suggestion_escalated_then_replied(
    env: WorkflowEnvironment, h: Harness
) -> WorkflowHandle[object, object]:
    run_id = await _call(h, env, "C-SUG", Suggestion(department="greenery_sanitation"))
    await h.until_stage("C-SUG", Stage.RECORDED)
    await env.sleep(timedelta(days=14))  # past the deadline: reminded, escalated, supervised
    await h.until(lambda: "supervise" in h.notifier.kinds())
    await calls.reply(h.client, "C-SUG", ReplyInput(by="P-DIST-D", reply="已采纳"))
    return h.client.get_workflow_handle(tickets.workflow_id_for("C-SUG"), run_id=run_id)


async def main() -> None:
    scenarios: dict[str, Scenario] = {
        "C-CNV": consultation_rated_then_converted,
        "C-SUG": suggestion_escalated_then_replied,
    }
    for ticket, scenario in scenarios.items():
        path = HISTORIES / f"{ticket}.json"
        if path.exists():
            print(f"kept {path}")
            continue
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=TEST_SERVER, data_converter=pydantic_data_converter
        )
        await sa.register(env.client, "default")
        async with running_harness(env) as h:
            handle = await scenario(env, h)
            # The converted call's run ends by continuing as the work order.
            with contextlib.suppress(WorkflowContinuedAsNewError):
                await handle.result(follow_runs=False)
            history = await handle.fetch_history()
            path.write_text(history.to_json())
            print(f"recorded {path} ({len(history.events)} events)")
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
