"""The load benchmarks, run as a user runs them, at a tiny scale: each prints every figure
it promises, in its documented shape (docs/performance.md). Shapes only, never timings:
the figures depend on the machine."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import fresh_postgres_database

CITYOPS = str(Path(sys.executable).parent / "cityops")
NUMBER = r"\d+(\.\d+)?"
TINY = ["--workers", "1", "--ceiling", "6"]


def bench(*args: str) -> str:
    done = subprocess.run(
        [CITYOPS, "bench", *args], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def line(output: str, pattern: str) -> str:
    """The one line that matches `pattern` (a regular expression)."""
    found = [text for text in output.splitlines() if re.search(pattern, text)]
    assert len(found) == 1, (pattern, output)
    return found[0]


def assert_header_and_ceiling(output: str, command: str) -> float:
    assert line(output, r"^machine: .+, \d+ cores \(\d+ usable\), .+Python 3")
    assert line(output, rf"^command: cityops bench {command}")
    ceiling = line(output, rf"^\(a\) ceiling: {NUMBER} trivial one-activity workflows/s")
    assert re.search(rf"1 worker process\(es\) {NUMBER}/s and one worker in the bench", ceiling)
    cpu = line(output, r"CPU per trivial workflow")
    assert re.search(rf"temporal {NUMBER} ms, ceiling-1 {NUMBER} ms, .*total {NUMBER} ms", cpu)
    match = re.search(rf"ceiling: ({NUMBER})", ceiling)
    assert match is not None
    return float(match.group(1))


def assert_memory(text: str, *names: str) -> None:
    for name in names:
        assert re.search(rf"{name} {NUMBER} MiB \(now {NUMBER}\)", text), (name, text)


def assert_latency(text: str) -> None:
    assert re.search(
        rf"p50 {NUMBER} ms, p95 {NUMBER} ms, p99 {NUMBER} ms, max {NUMBER} ms", text
    ), text


def test_bench_intake_prints_ceiling_latency_throughput_cpu_and_storm() -> None:
    output = bench(
        "intake", *TINY, "--throughput", "6", "--rate", "3", "--latency-seconds", "2",
        "--storm-events", "30", "--storm-devices", "5", "--storm-seconds", "1",
    )  # fmt: skip
    assert_header_and_ceiling(output, "intake")
    assert line(output, r"^stack: as `cityops up`: .*1 ticket worker process\(es\)")
    latency = line(output, r"^\(b\) latency at 3 new alarms/s \(\d+% of the ceiling\)")
    assert_latency(latency)
    assert line(output, rf"^\(c\) new alarms .* first notification: {NUMBER}/s \(6 alarms; \d+%")
    cpu = line(output, r"CPU per new ticket")
    assert re.search(rf"temporal {NUMBER} ms, api {NUMBER} ms, worker-1 {NUMBER} ms", cpu), cpu
    storm = line(output, r"^\(d\) storm: 30 events from 5 devices")
    assert "tickets opened 5 (distinct device alarms 5)" in storm
    assert "events recorded 30 (sent 30)" in storm and "events counted by the tickets 30" in storm
    assert re.search(r"lost 0\b", storm)
    assert_memory(line(output, r"peak RSS during the storm"), "temporal", "api", "worker-1")
    assert_memory(line(output, r"^peak RSS over the run"), "temporal", "api", "worker-1", "bench")


def test_bench_intake_on_postgresql_names_it() -> None:
    with fresh_postgres_database() as postgres_url:
        output = bench(
            "intake", *TINY, "--throughput", "4", "--rate", "2", "--latency-seconds", "1",
            "--storm-events", "0", "--database-url", postgres_url,
        )  # fmt: skip
    assert line(output, r"^stack: .*application database PostgreSQL$")
    assert line(output, r"^\(c\) new alarms through HTTP intake")
    assert not [text for text in output.splitlines() if "storm:" in text]


def test_bench_storm_counts_tickets_events_and_memory() -> None:
    output = bench("storm", *TINY, "--events", "40", "--devices", "8", "--seconds", "1")
    assert_header_and_ceiling(output, "storm")
    storm = line(output, r"^\(b\) storm: 40 events from 8 devices in [\d.]+ s \(\d+ events/s taken")
    assert "tickets opened 8" in storm and "events recorded 40 (sent 40)" in storm
    assert re.search(r"lost 0\b", storm)
    assert_memory(line(output, r"peak RSS during the storm"), "temporal", "api", "worker-1")


def test_bench_growth_reports_each_level() -> None:
    output = bench(
        "growth", *TINY, "--open", "4,8", "--rate", "2", "--seconds", "1", "--accept", "0.5"
    )
    assert_header_and_ceiling(output, "growth")
    for level in (4, 8):
        assert line(output, rf"^\({level} open tickets\) built \d+ more at {NUMBER} new tickets/s")
    # Half of each level accepted by the one-tap link of its first notice.
    accepted = re.findall(
        r"(\d+) of them accepted by their notice's link, (\d+) accepted in all", output
    )
    assert accepted[0] == ("2", "2")  # indices 0-3: every second one
    later, in_all = (int(n) for n in accepted[1])
    assert in_all == 2 + later and later <= 8 - 4
    assert len(re.findall(rf"Temporal dev server database: {NUMBER} MiB", output)) == 2
    memory = [text for text in output.splitlines() if text.startswith("    memory: ")]
    assert len(memory) == 2
    for text in memory:
        assert_memory(text, "temporal", "api", "worker-1")
    queries = re.findall(
        rf"supervisor list query \(TicketStage = 'awaiting_accept' AND TicketStreet = 'T01', "
        rf"via GET /api/v1/tickets\): median {NUMBER} ms, slowest {NUMBER} ms of 5; "
        rf"(\d+) rows returned, (\d+) matching",
        output,
    )
    assert len(queries) == 2
    latencies = [text for text in output.splitlines() if "alarm → first notification at 2" in text]
    assert len(latencies) == 2
    for text in latencies:
        assert_latency(text)


def test_bench_growth_refuses_a_level_that_is_no_number() -> None:
    done = subprocess.run(
        [CITYOPS, "bench", "growth", "--open", "1000,lots"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "--open" in done.stderr


def test_bench_profile_splits_each_process_by_part() -> None:
    output = bench("profile", *TINY, "--rate", "2", "--seconds", "3")
    assert_header_and_ceiling(output, "profile")
    assert line(output, r"^\(b\) profile of \d+ new tickets at 2 new alarms/s for 3 s")
    assert line(output, r"^    the path, wall time over [1-9]\d* tickets \(median, p95\):")
    # A new ticket sends its assignment inside its first workflow task (engine revision 2).
    for step in (
        "API: alarm POST to ticket started",
        "queue: started to its first workflow task",
        "first workflow task until the notice arrives",
    ):
        assert line(output, rf"^ +{NUMBER} ms +{NUMBER} ms  {re.escape(step)}")
    assert line(output, rf"^ +{NUMBER} ms +{NUMBER} ms  alarm sent to first notification$")
    assert line(output, rf"CPU per new ticket: temporal {NUMBER} ms, api {NUMBER} ms")
    for process in ("api", "worker-1"):
        assert line(output, rf"^  {process}: {NUMBER} ms CPU per ticket \(\d+ samples\)")
    parts = re.findall(rf"^    +{NUMBER} ms +{NUMBER}% +(.+)$", output, re.MULTILINE)
    assert parts, output
