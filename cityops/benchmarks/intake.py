"""`cityops bench intake` and `cityops bench storm`: the intake under load, in one run.

The stack is the one `cityops up` runs (cityops/benchmarks/stack.py). Every command
prints the machine, its own command line and (a) the ceiling first: trivial
one-activity workflows per second through as many worker processes as the tickets get,
so every rate is compared with a ceiling from the same run. Then `intake` prints

(b) p50/p95/p99 latency from sending a new alarm to its first notice at the webhook, at a
    steady rate (by default 60% of the ceiling just measured);
(c) new alarms per second through the HTTP intake to the first notice, sent as fast as
    the intake takes them, its share of the ceiling, and the CPU each process spent per
    new ticket (the profile's first cut: where the milliseconds go);
(d) a storm, like `storm`: many events from fewer devices, counted in the audit log and
    in the tickets themselves (lost = sent - recorded), with every process's peak memory.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlmodel import Session, col, func, select
from temporalio.client import Client
from temporalio.worker import Worker

from cityops.benchmarks.ceiling import CEILING_QUEUE, CeilingWorkflow, noop
from cityops.benchmarks.procstat import (
    CpuMeter,
    command_line,
    machine_line,
    memory_line,
    per_item_ms,
    reset_peak,
)
from cityops.benchmarks.stack import BenchStack, bench_stack
from cityops.db.audit import AlarmEventRow
from cityops.db.engine import get_engine
from cityops.service import tickets
from cityops.workers.main import workflow_runner

LATENCY_SHARE = 0.6  # of the ceiling, when no --rate is given
CEILING_IN_FLIGHT = 400


@dataclass(frozen=True)
class BenchOptions:
    workers: int
    ceiling: int = 1000
    throughput: int = 1000
    rate: float | None = None  # new alarms/s for the latency run; None: 60% of the ceiling
    latency_seconds: int = 30
    storm_devices: int = 200
    storm_events: int = 10_000
    storm_seconds: float = 60.0
    database_url: str | None = None


def say(line: str) -> None:
    print(line, flush=True)


def header(workers: int, database_url: str | None) -> None:
    say(machine_line())
    say(command_line())
    database = "SQLite (file, WAL)" if database_url is None else _dialect(database_url)
    say(
        f"stack: as `cityops up`: Temporal dev server (SQLite, WAL), {workers} ticket worker "
        f"process(es), the API in its own process, application database {database}"
    )


def _dialect(url: str) -> str:
    return "PostgreSQL" if url.startswith("postgresql") else url.partition(":")[0]


# --------------------------------------------------------------------------- (a) ceiling


async def _trivial_workflows(client: Client, queue: str, count: int) -> float:
    """`count` trivial one-activity workflows, up to CEILING_IN_FLIGHT at a time (as many as
    the throughput run has tickets in flight: a rate the engine sustains, not a latency);
    per second."""
    slots = asyncio.Semaphore(CEILING_IN_FLIGHT)
    stamp = time.time_ns()

    async def one(index: int) -> None:
        async with slots:
            await client.execute_workflow(
                CeilingWorkflow.run, index, id=f"ceiling-{stamp}-{index}", task_queue=queue
            )

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return count / (time.perf_counter() - started)


async def measure_ceiling(stack: BenchStack, count: int) -> float:
    """The better of two shapes: as many worker processes as the tickets get, and one
    worker inside the bench process (the shape of the earlier figures); CPU per workflow
    of each process for the first."""
    meter = CpuMeter(stack.ceiling_processes)
    meter.start()
    processes = await _trivial_workflows(stack.client, CEILING_QUEUE, count)
    used = meter.stop()
    local_queue = f"{CEILING_QUEUE}-local"
    async with Worker(
        stack.client,
        task_queue=local_queue,
        workflows=[CeilingWorkflow],
        activities=[noop],
        workflow_runner=workflow_runner(),
        max_concurrent_activities=200,
    ):
        in_bench = await _trivial_workflows(stack.client, local_queue, count)
    rate = max(processes, in_bench)
    say(
        f"(a) ceiling: {rate:.0f} trivial one-activity workflows/s, the better of "
        f"{len(stack.ceiling_workers)} worker process(es) {processes:.0f}/s and one worker in "
        f"the bench process {in_bench:.0f}/s ({count} workflows each)"
    )
    say(
        f"    CPU per trivial workflow ({len(stack.ceiling_workers)} processes): "
        f"{per_item_ms(used, count)}"
    )
    return rate


# --------------------------------------------------------------------------- alarms


def alarm(
    event_id: str,
    device: str,
    status: str = "firing",
    *,
    site: str = "碧波路690号",
    lat: float = 31.2051,
    lon: float = 121.6003,
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "device_id": device,
        "sensor_type": "manhole_cover",
        "metric": "tilt_deg",
        "value": 32.0,
        "status": status,
        "lat": lat,
        "lon": lon,
        "occurred_at": datetime.now(UTC).isoformat(),
        "attributes": {"site": site},
    }


RETRIES = 20


async def post_alarms(stack: BenchStack, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """POST a batch as a gateway does: a 503 (Temporal did not take every event in time)
    or a connection the server closed under it (a keep-alive connection idle past the
    server's timeout while the gateway paused: the storm once stopped on such a
    `ReadError`) is sent again after a pause; the intake counts each event_id once."""
    for attempt in range(1, RETRIES + 1):
        try:
            response = await stack.http.post("/api/v1/alarms", json=events)
        except httpx.TransportError:
            if attempt == RETRIES:
                raise
        else:
            if response.status_code != 503 or attempt == RETRIES:
                break
        stack.retried += 1
        await asyncio.sleep(min(5.0, 0.5 * attempt))
    response.raise_for_status()
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def retried(stack: BenchStack) -> str:
    return (
        f"; {stack.retried} requests sent again after a 503 or a closed connection so far"
        if stack.retried
        else ""
    )


class NoticesLate(RuntimeError):
    """Some tickets sent no first notice in time: the stack no longer keeps up."""

    def __init__(self, late: int, of: int, timeout: float) -> None:
        super().__init__(f"{late} of {of} devices' tickets sent no notice within {timeout:.0f} s")
        self.late, self.of, self.timeout = late, of, timeout


async def wait_for_notices(stack: BenchStack, devices: set[str], timeout: float) -> None:
    """Until a notice has arrived for each device's ticket."""
    deadline = time.perf_counter() + timeout
    pending, first = set(devices), stack.receiver.first_by_device
    while pending:
        pending = {device for device in pending if device not in first}
        if not pending:
            return
        if time.perf_counter() > deadline:
            raise NoticesLate(len(pending), len(devices), timeout)
        await asyncio.sleep(0.02 if len(pending) < 1000 else 0.5)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def latency_summary(latencies: list[float]) -> str:
    return (
        f"p50 {_percentile(latencies, 0.50):.0f} ms, p95 {_percentile(latencies, 0.95):.0f} ms, "
        f"p99 {_percentile(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms, "
        f"mean {statistics.fmean(latencies):.0f} ms"
    )


Alarm = Callable[[str, int], dict[str, Any]]


def _new_alarm(run: str, index: int) -> dict[str, Any]:
    return alarm(f"{run}-{index}", f"MHC-{run}-{index}")


async def measure_latency(
    stack: BenchStack, rate: float, seconds: float, make: Alarm = _new_alarm
) -> list[float]:
    """One new alarm every 1/rate s; latency from sending it to its first notice, in ms."""
    run = f"lat{time.time_ns()}"
    sent_at: dict[str, float] = {}
    pending: list[asyncio.Task[None]] = []

    async def send(index: int) -> None:
        event = make(run, index)
        sent_at[event["device_id"]] = time.perf_counter()
        stack.sent_wall[event["device_id"]] = time.time()
        await post_alarms(stack, [event])

    begin = time.perf_counter()
    for index in range(max(1, int(rate * seconds))):
        await asyncio.sleep(max(0.0, begin + index / rate - time.perf_counter()))
        pending.append(asyncio.create_task(send(index)))
    await asyncio.gather(*pending)
    await wait_for_notices(stack, set(sent_at), timeout=300)
    first = stack.receiver.first_by_device
    return [(first[device] - sent_at[device]) * 1000 for device in sent_at]


async def measure_throughput(stack: BenchStack, count: int) -> tuple[float, dict[str, float]]:
    """New alarms posted as fast as the intake takes them (20 a request, 16 requests at a
    time); the rate until every first notice, and each process's CPU seconds meanwhile."""
    run = f"tp{time.time_ns()}"
    events = [_new_alarm(run, i) for i in range(count)]
    batches = [events[i : i + 20] for i in range(0, len(events), 20)]
    slots = asyncio.Semaphore(16)

    async def send(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        async with slots:
            return await post_alarms(stack, batch)

    meter = CpuMeter(stack.ticket_processes)
    meter.start()
    started = time.perf_counter()
    await asyncio.gather(*(send(b) for b in batches))
    devices = {event["device_id"] for event in events}
    await wait_for_notices(stack, devices, timeout=900)
    last = max(stack.receiver.first_by_device[device] for device in devices)
    return count / (last - started), meter.stop()


async def settle(stack: BenchStack, seconds: float = 3.0) -> None:
    """Let the tickets just started finish the workflow tasks after their first notice."""
    await asyncio.sleep(seconds)


# --------------------------------------------------------------------------- storm


@dataclass(frozen=True)
class StormResult:
    sent: int
    devices: int
    seconds: float
    tickets_opened: int
    events_recorded: int
    events_in_workflows: int

    @property
    def lost(self) -> int:
        return self.sent - self.events_recorded


async def run_storm(stack: BenchStack, devices: int, events: int, seconds: float) -> StormResult:
    """`events` from `devices` over `seconds`, in a batch every half second (as a gateway
    sends), at most 1,000 events a request."""
    run = f"st{time.time_ns()}"
    ticks = max(1, int(seconds * 2))
    per_tick = [events // ticks + (1 if i < events % ticks else 0) for i in range(ticks)]
    counter = 0
    pending: list[asyncio.Task[list[dict[str, Any]]]] = []
    begin = time.perf_counter()
    for tick, size in enumerate(per_tick):
        batch = []
        for _ in range(size):
            batch.append(alarm(f"{run}-{counter}", f"SMK-{run}-{counter % devices}"))
            counter += 1
        await asyncio.sleep(max(0.0, begin + tick * seconds / ticks - time.perf_counter()))
        for start in range(0, len(batch), 1000):
            pending.append(asyncio.create_task(post_alarms(stack, batch[start : start + 1000])))
    await asyncio.gather(*pending)
    elapsed = time.perf_counter() - begin
    # From the audit log, not the replies: a batch sent again after a 503 answers
    # "duplicate" for the events the first attempt delivered.
    ours = col(AlarmEventRow.event_id).startswith(f"{run}-")
    with Session(get_engine(stack.database_url)) as session:
        recorded = session.exec(select(func.count()).select_from(AlarmEventRow).where(ours)).one()
        opened = set(
            session.exec(
                select(AlarmEventRow.ticket_id).where(ours, AlarmEventRow.outcome == "new_ticket")
            ).all()
        )
    in_workflows = await events_in_workflows(stack.client, {t for t in opened if t}, int(recorded))
    return StormResult(counter, devices, elapsed, len(opened), int(recorded), in_workflows)


DRAIN_SECONDS = 900.0  # the tickets may still be taking the storm's signals when it ends


async def events_in_workflows(client: Client, ticket_ids: set[str], recorded: int) -> int:
    """Sum of the events each ticket counted, read back from the workflows themselves;
    read again while it is short of what the audit log recorded and the workers are still
    taking the storm's signals (a query then times out, or counts fewer), for at most
    DRAIN_SECONDS."""
    slots = asyncio.Semaphore(20)
    deadline = time.perf_counter() + DRAIN_SECONDS

    async def count(ticket_id: str) -> int:
        while True:
            try:
                async with slots:
                    status = await tickets.status(client, ticket_id, include_history=False)
                return status.alarm_events
            except tickets.TicketError:
                if time.perf_counter() > deadline:
                    raise
                await asyncio.sleep(5)

    while True:
        total = sum(await asyncio.gather(*(count(t) for t in ticket_ids)))
        if total >= recorded or time.perf_counter() > deadline:
            return total
        await asyncio.sleep(10)


async def storm_report(
    stack: BenchStack, label: str, devices: int, events: int, seconds: float
) -> None:
    processes = [*stack.ticket_processes]
    for process in processes:
        reset_peak(process.pid)  # the storm's own peak, not the run's before it
    storm = await run_storm(stack, devices, events, seconds)
    say(
        f"{label} storm: {storm.sent} events from {storm.devices} devices "
        f"in {storm.seconds:.1f} s ({storm.sent / storm.seconds:.0f} events/s taken): "
        f"tickets opened {storm.tickets_opened} (distinct device alarms {storm.devices}), "
        f"events recorded {storm.events_recorded} (sent {storm.sent}), "
        f"events counted by the tickets {storm.events_in_workflows}, lost {storm.lost}"
        f"{retried(stack)}"
    )
    say(f"    peak RSS during the storm: {memory_line(processes)}")


# --------------------------------------------------------------------------- commands


async def with_ceiling(
    workers: int,
    ceiling_count: int,
    database_url: str | None,
    work: Callable[[BenchStack, float], Awaitable[None]],
) -> None:
    header(workers, database_url)
    async with bench_stack(workers, database_url) as stack:
        ceiling = await measure_ceiling(stack, ceiling_count)
        await work(stack, ceiling)
        say(f"peak RSS over the run: {memory_line([*stack.ticket_processes])}")


async def run_bench(options: BenchOptions) -> None:
    async def work(stack: BenchStack, ceiling: float) -> None:
        rate = options.rate or max(1.0, round(ceiling * LATENCY_SHARE, 1))
        share = f"{rate / ceiling:.0%} of the ceiling"
        latencies = await measure_latency(stack, rate, options.latency_seconds)
        say(
            f"(b) latency at {rate:g} new alarms/s ({share}) for {options.latency_seconds} s "
            f"({len(latencies)} alarms): {latency_summary(latencies)}{retried(stack)}"
        )
        await settle(stack)
        throughput, used = await measure_throughput(stack, options.throughput)
        say(
            f"(c) new alarms through HTTP intake to first notification: {throughput:.0f}/s "
            f"({options.throughput} alarms; {throughput / ceiling:.0%} of the ceiling)"
            f"{retried(stack)}"
        )
        say(f"    CPU per new ticket: {per_item_ms(used, options.throughput)}")
        await settle(stack)
        if options.storm_events:
            await storm_report(
                stack, "(d)", options.storm_devices, options.storm_events, options.storm_seconds
            )

    await with_ceiling(options.workers, options.ceiling, options.database_url, work)


async def run_storm_bench(
    workers: int,
    ceiling_count: int,
    devices: int,
    events: int,
    seconds: float,
    database_url: str | None,
) -> None:
    async def work(stack: BenchStack, ceiling: float) -> None:
        await storm_report(stack, "(b)", devices, events, seconds)

    await with_ceiling(workers, ceiling_count, database_url, work)
