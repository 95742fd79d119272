"""What the benchmarks say about the machine and its processes, read from /proc (Linux).

CPU seconds a process has used (user + system), its resident memory now (VmRSS) and at
its peak (VmHWM, which `reset_peak` sets back to the current size), and one line that
names the machine and the command that printed the figures.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from cityops.config import usable_cores

PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_model() -> str:
    """The CPU's model name, as /proc/cpuinfo gives it (platform's guess elsewhere)."""
    with contextlib.suppress(OSError):
        for line in (PROC / "cpuinfo").read_text(encoding="utf-8").splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "model name":
                return value.strip()
    return platform.processor() or platform.machine()


def machine_line() -> str:
    return (
        f"machine: {cpu_model()}, {os.cpu_count()} cores ({usable_cores()} usable), "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def command_line() -> str:
    """The command as typed (the entry point's name, not the interpreter's path)."""
    program = Path(sys.argv[0]).name if sys.argv else "cityops"
    return "command: " + shlex.join([program, *sys.argv[1:]])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of `pid` (its threads included); 0 once it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text(encoding="utf-8")
    except OSError:
        return 0.0
    fields = text.rpartition(")")[2].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def _status_kib(pid: int, name: str) -> int:
    try:
        text = (PROC / str(pid) / "status").read_text(encoding="utf-8")
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def rss_mib(pid: int) -> float:
    return _status_kib(pid, "VmRSS") / 1024


def peak_rss_mib(pid: int) -> float:
    """The most resident memory `pid` has had (since it started or since `reset_peak`)."""
    return _status_kib(pid, "VmHWM") / 1024


def reset_peak(pid: int) -> bool:
    """Start the peak over from the current size (Linux 4.0+, needs the right to write the
    process's clear_refs); False where that is not possible."""
    try:
        (PROC / str(pid) / "clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def children(pid: int) -> list[int]:
    """Direct children of `pid`."""
    found: list[int] = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text(encoding="utf-8").rpartition(")")[2].split()
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@dataclass(frozen=True)
class Process:
    """A process the bench watches, by the name its figures carry."""

    name: str
    pid: int


@dataclass
class CpuMeter:
    """CPU seconds of each watched process between `start` and `stop`."""

    processes: list[Process]
    _start: dict[int, float] | None = None
    used: dict[str, float] | None = None

    def start(self) -> None:
        self._start = {p.pid: cpu_seconds(p.pid) for p in self.processes}

    def stop(self) -> dict[str, float]:
        assert self._start is not None, "start() first"
        self.used = {
            p.name: max(0.0, cpu_seconds(p.pid) - self._start[p.pid]) for p in self.processes
        }
        return self.used


def per_item_ms(used: dict[str, float], items: int) -> str:
    """'api 3.1 ms, worker-1 9.0 ms, … total 20.4 ms' of CPU per item."""
    parts = [f"{name} {seconds * 1000 / items:.1f} ms" for name, seconds in used.items()]
    total = sum(used.values()) * 1000 / items
    return ", ".join([*parts, f"total {total:.1f} ms"])


def memory_line(processes: list[Process]) -> str:
    return ", ".join(
        f"{p.name} {peak_rss_mib(p.pid):.0f} MiB (now {rss_mib(p.pid):.0f})" for p in processes
    )
