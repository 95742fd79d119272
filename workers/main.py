"""The ticket worker: stateless, configured by environment, run as many as you like.

`python -m workers.main` (or `cityops worker`) connects to TEMPORAL_ADDRESS and
serves CITYOPS_TASK_QUEUE until interrupted.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pydantic
import structlog
from temporalio import workflow
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.client import Client
from temporalio.converter import SerializationContext
from temporalio.worker import (
    UnsandboxedWorkflowRunner,
    Worker,
    WorkflowInstance,
    WorkflowInstanceDetails,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from cityops.config import Settings, get_settings
from cityops.domain import limits
from cityops.domain.models import CAMERA_DESK_ID, HOTLINE_DESK_ID
from cityops.workers.calendar_watch import announce_calendar
from cityops.workers.client import connect
from cityops.workers.logging import configure_logging
from cityops.workflows.call import CallWorkflow
from cityops.workflows.notice_group import NoticeGroupWorkflow
from cityops.workflows.ticket import TicketWorkflow

WORKFLOWS: list[type] = [TicketWorkflow, CallWorkflow, NoticeGroupWorkflow]
# Production runs the workflows without Temporal's sandbox. The sandbox re-imports what it
# does not share for every workflow run and enters itself (an exec of a code string, an
# import hook) for every activation and every payload: with the workflow package passed
# through it still cost about a fifth of a worker's CPU per ticket (`cityops bench
# profile`, `cityops bench sandbox`, docs/performance.md), for no protection, since the
# shared workflow package was never checked inside it. Determinism is enforced in CI
# instead, twice: ruff bans clocks, randomness and I/O in workflows/ (pyproject.toml), and
# every workflow test and replay runs the CHECKED runner below, in which the workflow
# package is sandboxed, so a `datetime.now()` or an `open()` there fails the tests
# (tests/workflows/test_determinism_guard.py).
SHARED = ("cityops.domain", "structlog")
PASSTHROUGH = (*SHARED, "cityops.workflows")

log = structlog.get_logger()


def sandbox_runner(*, check_workflow_code: bool = False) -> SandboxedWorkflowRunner:
    """The sandbox with the workflow package shared (passed through), or, with
    check_workflow_code, run inside it, where restrictions raise on clocks, randomness and
    I/O (tests use it)."""
    shared = SHARED if check_workflow_code else PASSTHROUGH
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*shared)
    )


def workflow_runner(*, check_workflow_code: bool = False) -> WorkflowRunner:
    """Production's runner (no sandbox), or the checked sandbox the tests run; either way
    every activation reads history (HistoryReading)."""
    if check_workflow_code:
        return HistoryReading(sandbox_runner(check_workflow_code=True))
    return HistoryReading(UnsandboxedWorkflowRunner())


class HistoryReading(WorkflowRunner):
    """A runner whose every workflow activation runs inside `limits.reading_history`: a
    ticket decodes its start input, updates and signals as its history holds them, never
    refused by a length limit added since (cityops/domain/limits.py). Without it, a
    ticket updated before a limit with a longer value would fail to replay on a worker
    without the sandbox (production's)."""

    def __init__(self, inner: WorkflowRunner) -> None:
        self.inner = inner

    def prepare_workflow(self, defn: Any) -> None:
        self.inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _ReadingHistory(self.inner.create_instance(det))

    def set_worker_level_failure_exception_types(
        self, types: Sequence[type[BaseException]]
    ) -> None:
        self.inner.set_worker_level_failure_exception_types(types)


class _ReadingHistory(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance) -> None:
        self._inner = inner

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        with limits.reading_history():
            return self._inner.activate(act)

    def get_serialization_context(self, command_info: Any) -> SerializationContext | None:
        return self._inner.get_serialization_context(command_info)

    def get_external_store_context(self, command_info: Any) -> Any:
        return self._inner.get_external_store_context(command_info)

    def get_info(self) -> workflow.Info:
        return self._inner.get_info()

    def get_thread_id(self) -> int | None:
        return self._inner.get_thread_id()


def build_worker(
    client: Client,
    task_queue: str,
    activities: Sequence[Callable[..., Any]],
    *,
    max_concurrent_activities: int = 200,
    max_cached_workflows: int = 1000,
    check_workflow_code: bool = False,
) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=activities,
        workflow_runner=workflow_runner(check_workflow_code=check_workflow_code),
        # A malformed message can never become valid by retrying: fail the workflow.
        workflow_failure_exception_types=[pydantic.ValidationError],
        max_concurrent_activities=max_concurrent_activities,
        # Runs kept in memory between tasks; one evicted is replayed from its history.
        max_cached_workflows=max_cached_workflows,
        # Sync activities (database writes) run here, off the event loop.
        activity_executor=ThreadPoolExecutor(max_workers=max_concurrent_activities),
    )


def production_activities(settings: Settings) -> list[Callable[..., Any]]:
    """The real activities: rules, organisation database, channels, store."""
    from cityops.activities.calls import CallActivities
    from cityops.activities.delivery_log import SqlDeliveryLog
    from cityops.activities.dispatch import DispatchActivities
    from cityops.activities.grouping import NoticeGroupActivities
    from cityops.activities.notify import NotifyActivities, WithDesks, parse_contact
    from cityops.activities.route import RoutingActivities
    from cityops.activities.store import StoreActivities
    from cityops.db.engine import get_engine
    from cityops.org.routing import OrgRouter
    from cityops.privacy.keys import load_keyring

    router = OrgRouter.from_database(settings.database_url)
    dispatch = DispatchActivities(router=router)
    notify = NotifyActivities(
        directory=WithDesks(
            router.directory,
            {
                HOTLINE_DESK_ID: [parse_contact(settings.hotline_contact)],
                CAMERA_DESK_ID: [parse_contact(settings.camera_contact)],
            },
        ),
        delivery_log=SqlDeliveryLog(get_engine(settings.database_url)),
        settings=settings,
    )
    store = StoreActivities(get_engine(settings.database_url), load_keyring(settings))
    routing = RoutingActivities(router)
    return [
        routing.return_ticket,
        routing.transfer_ticket,
        *dispatch.activities(),
        *CallActivities(router).activities(),
        notify.send_notice,
        NoticeGroupActivities().group_notice,
        store.record_ticket,
        store.record_event,
        store.record_events,
    ]


async def run_worker(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    configure_logging(settings.log_format)
    announce_calendar("worker")
    client = await connect(settings)
    worker = build_worker(client, settings.task_queue, production_activities(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log.info("worker_started", task_queue=settings.task_queue, temporal=settings.temporal_address)
    async with worker:
        await stop.wait()
        log.info("worker_stopping", reason="signal")  # leaving the block drains running tasks


if __name__ == "__main__":
    asyncio.run(run_worker())
