"""`cityops bench growth`: how the system behaves as open tickets pile up.

On the stack `cityops up` runs, after the ceiling, open tickets are built up level by
level (by default 1,000 then 10,000; --big adds 50,000): alarms from distinct devices
spread over Pudong's 36 streets and towns, posted to the HTTP intake 100 a request with
several requests in flight, never more than 100 ahead of the first notices (a ticket
queued for long would find its accept clock spent and escalate as it starts), until every
ticket has sent its first notice. A share of
them (`--accept`, by default nine in ten, as a city's backlog is mostly work under way)
is accepted through the
one-tap link in that notice, as a responder does: those wait on their resolve clock's
timers, hours away; the rest wait unaccepted and climb their accept chain (reminders,
escalations, 督办), the backlog's busy part. `--accept 0` leaves every ticket unaccepted
and escalating, the worst case. At each level the bench prints

- how long the level took to build (new tickets per second), and how many were accepted;
- the dev server's database size (SQLite file with its WAL);
- each worker's memory (resident now and at its peak), the API's and the server's;
- a supervisor's list query, `TicketStage='awaiting_accept' AND TicketStreet='T01'`,
  through the API's GET /api/v1/tickets (the service the CLI's `cityops list` calls too):
  median and slowest of several, with the rows it returned and how many match in all;
- p50/p95/p99 alarm → first notification at a steady rate of new alarms (10/s).
"""

from __future__ import annotations

import asyncio
import csv
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from cityops.benchmarks.intake import (
    NoticesLate,
    alarm,
    latency_summary,
    measure_latency,
    post_alarms,
    retried,
    say,
    wait_for_notices,
    with_ceiling,
)
from cityops.benchmarks.procstat import memory_line
from cityops.benchmarks.stack import BenchStack
from cityops.org.seed import STREETS_CSV

LIST_QUERY = {"stage": "awaiting_accept", "street": "T01"}
TEMPORAL_QUERY = "TicketStage = 'awaiting_accept' AND TicketStreet = 'T01'"
BATCH = 100  # alarms a request while building
IN_FLIGHT = 4  # requests at a time while building
# Posted alarms at most whose ticket has not sent its first notice yet: an accept is a
# workflow task too, and waits behind every queued one (400 ahead held accepts past the
# API's 15 s, so they failed and those tickets escalated).
AHEAD = 100
TAPS_IN_FLIGHT = 24  # accept links tapped at a time (of the bench client's 32 connections)


@dataclass(frozen=True)
class Street:
    code: str
    name: str
    lat: float
    lon: float


def streets() -> list[Street]:
    with STREETS_CSV.open(encoding="utf-8") as handle:
        return [
            Street(row["code"], row["name_zh"], float(row["approx_lat"]), float(row["approx_lon"]))
            for row in csv.DictReader(handle)
        ]


def spread_alarm(run: str, index: int, places: list[Street]) -> dict[str, Any]:
    """A new device's alarm in the index-th street (round robin), placed by its address."""
    street = places[index % len(places)]
    return alarm(
        f"{run}-{index}",
        f"MHC-{run}-{index}",
        site=f"浦东新区{street.name}测试路{index % 900 + 1}号",
        lat=street.lat,
        lon=street.lon,
    )


def accepted_here(index: int, share: float) -> bool:
    """Whether the bench accepts the index-th ticket: `share` of them, spread evenly."""
    return int((index + 1) * share) > int(index * share)


@dataclass
class Accepting:
    """Accepts chosen tickets by their notice's one-tap link as each first notice arrives
    (a responder accepting within seconds), a few requests at a time."""

    stack: BenchStack
    chosen: set[str]  # devices whose ticket is accepted
    done: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # by HTTP status, or the error

    async def run(self) -> None:
        # Responders tap at once, each on their own phone: many requests at a time (an
        # accept waits for a workflow task behind the queued ones, about 2 s when building).
        slots = asyncio.Semaphore(TAPS_IN_FLIGHT)

        async def tap(url: str) -> None:
            async with slots:
                try:
                    answer = await self.stack.http.post(url)
                except httpx.HTTPError as error:
                    self.refused[type(error).__name__] += 1
                    return
            if answer.status_code == 200:
                self.done += 1
            else:
                self.refused[f"HTTP {answer.status_code}"] += 1

        links = self.stack.receiver.accept_by_device
        tapping: set[asyncio.Task[None]] = set()
        waiting = set(self.chosen)  # shrinks as links arrive: each pass looks at these only
        while waiting:
            ready = [d for d in waiting if d in links]
            waiting.difference_update(ready)
            for device in ready:
                task = asyncio.create_task(tap(links[device]))
                tapping.add(task)
                task.add_done_callback(tapping.discard)
            await asyncio.sleep(0.2)
        if tapping:
            await asyncio.gather(*tapping)


async def build_open_tickets(
    stack: BenchStack, count: int, run: str, offset: int, accept: float = 0.0
) -> tuple[float, Accepting]:
    """`count` more open tickets (alarms of new devices); new tickets per second, until
    each has sent its first notice (and the chosen `accept` share has been accepted)."""
    places = streets()
    slots = asyncio.Semaphore(IN_FLIGHT)
    alarms = [spread_alarm(run, offset + i, places) for i in range(count)]

    posted = 0
    devices = {event["device_id"] for event in alarms}
    accepting = Accepting(
        stack,
        {event["device_id"] for i, event in enumerate(alarms) if accepted_here(offset + i, accept)},
    )

    notified = stack.receiver.first_by_device
    ahead: set[str] = set()  # posted, first notice not seen yet (at most about AHEAD)

    async def send(start: int) -> None:
        nonlocal posted
        async with slots:
            # Paced by the notices: a ticket waiting in the queue for long would find its
            # accept clock (which runs from intake) spent, and escalate as it starts.
            while True:
                ahead.difference_update([d for d in ahead if d in notified])
                if len(ahead) <= AHEAD:
                    break
                await asyncio.sleep(0.25)
            batch = alarms[start : start + BATCH]
            await post_alarms(stack, batch)
            posted += len(batch)
            ahead.update(event["device_id"] for event in batch)

    async def tell() -> None:  # a level of 10,000 takes many minutes to build
        while True:
            await asyncio.sleep(30)
            say(
                f"    … building {count}: {posted} posted, "
                f"{sum(1 for d in devices if d in notified)} notified, "
                f"{accepting.done} accepted after {time.perf_counter() - started:.0f} s"
            )

    started = time.perf_counter()
    progress = asyncio.create_task(tell())
    tapping = asyncio.create_task(accepting.run())
    try:
        await asyncio.gather(*(send(start) for start in range(0, count, BATCH)))
        await wait_for_notices(stack, devices, timeout=max(600.0, count / 2))
        await asyncio.wait_for(asyncio.shield(tapping), timeout=max(600.0, count / 2))
    finally:
        progress.cancel()
        tapping.cancel()
    return count / (time.perf_counter() - started), accepting


def temporal_db_mib(stack: BenchStack) -> float:
    files = [stack.temporal_db, *(Path(f"{stack.temporal_db}{s}") for s in ("-wal", "-shm"))]
    return sum(f.stat().st_size for f in files if f.exists()) / (1 << 20)


async def time_list_query(stack: BenchStack, repeat: int = 5) -> tuple[list[float], int, int]:
    """Milliseconds of each GET /api/v1/tickets?stage=awaiting_accept&street=T01, the rows
    the last returned, and how many tickets match in all."""
    times: list[float] = []
    rows = 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = await stack.http.get(
            "/api/v1/tickets", params=LIST_QUERY, headers=stack.supervisor
        )
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        rows = len(response.json())
    matching = (await stack.client.count_workflows(TEMPORAL_QUERY)).count
    return times, rows, matching


async def run_growth(
    workers: int,
    ceiling_count: int,
    levels: list[int],
    rate: float,
    seconds: float,
    accept: float = 0.9,
) -> None:
    # A level the stack cannot carry is a figure too (where the curve bends), not a crash;
    # a higher level would only be worse.
    past_it = "past what this stack carries here, higher levels not measured"

    async def work(stack: BenchStack, ceiling: float) -> None:
        run = f"gr{time.time_ns()}"
        built = accepted_all = 0
        for level in sorted(set(levels)):
            if level > built:
                try:
                    speed, accepting = await build_open_tickets(
                        stack, level - built, run, built, accept
                    )
                except (NoticesLate, TimeoutError) as late:
                    say(f"({level} open tickets) not built: {late or 'accepting'}; {past_it}")
                    return
                accepted_all += accepting.done
                say(
                    f"({level} open tickets) built {level - built} more at {speed:.1f} new "
                    f"tickets/s ({speed / ceiling:.0%} of the ceiling){retried(stack)}; "
                    f"{accepting.done} of them accepted by their notice's link"
                    + (f" (refused: {dict(accepting.refused)})" if accepting.refused else "")
                    + f", {accepted_all} accepted in all"
                )
                built = level
            await asyncio.sleep(3)  # the last tickets' tasks after their first notice
            say(f"    Temporal dev server database: {temporal_db_mib(stack):.1f} MiB")
            say(f"    memory: {memory_line([stack.temporal, stack.api, *stack.workers])}")
            times, rows, matching = await time_list_query(stack)
            say(
                f"    supervisor list query ({TEMPORAL_QUERY}, via GET /api/v1/tickets): "
                f"median {statistics.median(times):.0f} ms, slowest {max(times):.0f} ms "
                f"of {len(times)}; {rows} rows returned, {matching} matching"
            )
            try:
                latencies = await measure_latency(stack, rate, seconds)
            except NoticesLate as late:
                say(
                    f"    alarm → first notification at {rate:g} new alarms/s for {seconds:g} s: "
                    f"{late}; {past_it}"
                )
                return
            say(
                f"    alarm → first notification at {rate:g} new alarms/s for {seconds:g} s "
                f"({len(latencies)} alarms): {latency_summary(latencies)}{retried(stack)}"
            )
            built += len(latencies)  # those are open tickets too

    await with_ceiling(workers, ceiling_count, None, work)
