"""`cityops bench profile`: where the milliseconds of a new ticket go.

New alarms are sent at a steady rate through the stack `cityops up` runs while py-spy
samples the API and every worker process (only the thread that holds the GIL, i.e. the
Python work). Two views:

- the path, in wall time: each ticket's workflow history stamps when it started, when
  its first workflow task was picked up and completed, when the notice activity
  started; with the moment the alarm was sent and the notice arrived, the time from
  alarm to first notification splits into its steps (median and p95 over the tickets);
- the CPU: each process's CPU per ticket comes from /proc; the API's and the workers'
  samples are sorted into categories by the innermost frame that names one (a pydantic
  call inside workflow code counts as pydantic), so each category gets its share of that
  process's milliseconds. The Temporal server (Go) is measured by /proc only.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import statistics
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from cityops.benchmarks.intake import (
    measure_latency,
    say,
    with_ceiling,
)
from cityops.benchmarks.procstat import CpuMeter, per_item_ms
from cityops.benchmarks.stack import BenchStack
from cityops.domain.alarms import alarm_workflow_id

STEPS = (
    "API: alarm POST to ticket started (HTTP, intake checks, signal-with-start)",
    "queue: started to its first workflow task picked up",
    "first workflow task (plan_new_ticket, stage upsert, register batch)",
    "dispatch: task completed to send_notice started",
    "send_notice: render, delivery log, webhook POST until it arrives",
)
# A ticket on engine revision 2 or later sends the notice inside its first workflow task.
LOCAL_STEPS = (
    *STEPS[:2],
    "first workflow task until the notice arrives (plan_new_ticket, stage upsert, "
    "send_notice as a local activity: render, delivery log, webhook POST)",
)

# (category, path fragments): the first category, from the innermost frame outwards,
# whose fragment a frame's file contains.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("encryption (codec)", ("cityops/privacy/", "cryptography/")),
    ("database (SQLAlchemy, driver)", ("sqlalchemy/", "sqlite3/", "psycopg/", "sqlmodel/")),
    ("pydantic (validate, dump)", ("pydantic/", "pydantic_core/")),
    ("HTTP client (notices out)", ("httpx/", "httpcore/", "h11/", "anyio/")),
    ("HTTP server (uvicorn, FastAPI)", ("uvicorn/", "starlette/", "fastapi/")),
    ("SDK payload visitor and converter", ("temporalio/bridge/_visitor", "temporalio/converter")),
    ("SDK workflow sandbox entry", ("temporalio/worker/workflow_sandbox/",)),
    ("workflow code (cityops.workflows)", ("/workflows/", "temporalio/workflow.py")),
    ("intake (cityops.service, api)", ("cityops/service/", "cityops/api/", "cityops/intake/")),
    ("rules, routing, calendar", ("/rules/", "cityops/org/", "chinese_calendar/", "shapely/")),
    ("activities (cityops.activities)", ("/activities/", "cityops/register/", "cityops/db/")),
    ("SDK worker and client (Python side)", ("temporalio/",)),
    ("protobuf", ("google/protobuf",)),
    ("logging", ("structlog/", "logging/")),
    ("event loop, threads", ("asyncio/", "threading.py", "concurrent/", "selectors.py")),
)
OTHER = "other"


def category(stack: list[str]) -> str:
    """The category of one sample, its frames listed outermost first."""
    for frame in reversed(stack):
        for name, fragments in CATEGORIES:
            if any(fragment in frame for fragment in fragments):
                return name
    return OTHER


def read_samples(path: Path) -> Counter[str]:
    """py-spy's raw output (`frame;frame;… count` a line) folded into categories."""
    counts: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[category(stack.split(";"))] += int(count)
    return counts


@dataclass(frozen=True)
class ProcessProfile:
    name: str
    cpu_ms_per_ticket: float
    samples: Counter[str]

    def lines(self, top: int = 12) -> list[str]:
        total = sum(self.samples.values())
        out = [f"  {self.name}: {self.cpu_ms_per_ticket:.1f} ms CPU per ticket ({total} samples)"]
        for name, count in self.samples.most_common(top):
            share = count / total if total else 0.0
            out.append(f"    {share * self.cpu_ms_per_ticket:6.2f} ms  {share:5.1%}  {name}")
        return out


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: pip install py-spy (it is in the dev extra)")
    return found


async def record(pid: int, seconds: float, out: Path, rate: int) -> None:
    process = await asyncio.create_subprocess_exec(
        py_spy(), "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
        "--rate", str(rate), "--gil", "--format", "raw", "--output", str(out), "--nonblocking",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    if process.returncode != 0 and not out.exists():
        raise RuntimeError(f"py-spy on {pid} failed: {err.decode(errors='replace')[-500:]}")


def steps_of(
    events: list[HistoryEvent], sent: float, arrived: float
) -> tuple[tuple[str, ...], list[float]] | None:
    """The path's steps (their names, and each in ms) from one ticket's history, or None
    if it is not all there."""

    def first(kind: int) -> float | None:
        for event in events:
            if event.event_type == kind:
                return event.event_time.ToMicroseconds() / 1e6
        return None

    started = first(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
    task_started = first(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)
    notice_started = first(EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
    names: tuple[str, ...] = STEPS
    if notice_started is None:  # the notice ran as a local activity in the first task
        names = LOCAL_STEPS
        marks = [sent, started, task_started, arrived]
    else:
        task_done = first(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
        marks = [sent, started, task_started, task_done, notice_started, arrived]
    if any(mark is None for mark in marks):
        return None
    times = [mark for mark in marks if mark is not None]
    return names, [(later - earlier) * 1000 for earlier, later in itertools.pairwise(times)]


async def path_steps(
    stack: BenchStack, devices: list[str]
) -> list[tuple[tuple[str, ...], list[float]]]:
    """Each sampled ticket's steps (histories fetched ten at a time)."""
    slots = asyncio.Semaphore(10)

    async def one(device: str) -> tuple[tuple[str, ...], list[float]] | None:
        async with slots:
            handle = stack.client.get_workflow_handle(alarm_workflow_id(device, "tilt_deg"))
            history = await handle.fetch_history()
        return steps_of(
            list(history.events),
            stack.sent_wall[device],
            stack.receiver.first_wall_by_device[device],
        )

    found = await asyncio.gather(*(one(device) for device in devices))
    return [steps for steps in found if steps is not None]


def path_lines(samples: list[tuple[tuple[str, ...], list[float]]]) -> list[str]:
    """Median and p95 of each step, for the path most sampled tickets took."""
    if not samples:
        return ["    the path: no sampled ticket's history held every step"]
    paths = Counter(names for names, _ in samples)
    names = paths.most_common(1)[0][0]
    chosen = [steps for path, steps in samples if path == names]
    lines = [f"    the path, wall time over {len(chosen)} tickets (median, p95):"]

    def line(values: list[float], name: str) -> str:
        values = sorted(values)
        p95 = values[int(0.95 * (len(values) - 1))]
        return f"    {statistics.median(values):7.1f} ms  {p95:7.1f} ms  {name}"

    for index, name in enumerate(names):
        lines.append(line([steps[index] for steps in chosen], name))
    lines.append(line([sum(steps) for steps in chosen], "alarm sent to first notification"))
    return lines


async def run_profile(
    workers: int, ceiling_count: int, rate: float | None, seconds: float, sample_rate: int
) -> None:
    async def work(stack: BenchStack, ceiling: float) -> None:
        load = rate or max(1.0, round(ceiling * 0.6, 1))
        watched = [stack.api, *stack.workers]
        meter = CpuMeter(stack.ticket_processes)
        outputs = {p.name: stack.directory / f"{p.name}.pyspy" for p in watched}
        meter.start()
        recorders = [
            asyncio.create_task(record(p.pid, seconds + 2, outputs[p.name], sample_rate))
            for p in watched
        ]
        before = set(stack.sent_wall)
        latencies = await measure_latency(stack, load, seconds)
        await asyncio.gather(*recorders)
        used = meter.stop()
        count = len(latencies)
        say(
            f"(b) profile of {count} new tickets at {load:g} new alarms/s for {seconds:g} s "
            f"(alarm POST to first notice, and what follows until the sampling stops)"
        )
        sampled = sorted(set(stack.sent_wall) - before)[:: max(1, count // 100)]
        for line in path_lines(await path_steps(stack, sampled)):
            say(line)
        say(f"    CPU per new ticket: {per_item_ms(used, count)}")
        say("    inside the Python processes (py-spy --gil, innermost frame that names a part):")
        for process in watched:
            profile = ProcessProfile(
                process.name, used[process.name] * 1000 / count, read_samples(outputs[process.name])
            )
            for line in profile.lines():
                say(line)

    await with_ceiling(workers, ceiling_count, None, work)
