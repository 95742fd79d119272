"""`cityops up`: the whole system on one machine, on embedded defaults.

Starts the Temporal dev server (state in var/temporal.db, so tickets survive a
restart), registers our search attributes, migrates and seeds the database, then
runs the worker, the intake API and the MQTT intake as child processes, prints
the URLs, and stops them all, newest first, on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from temporalio.client import Client

from cityops.config import Settings
from cityops.workers.client import connect
from cityops.workers.devserver import SQLITE_PRAGMAS
from cityops.workflows import search_attributes

log = structlog.get_logger()
BIN = Path(sys.executable).parent


@dataclass
class Stack:
    settings: Settings
    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def spawn(self, name: str, args: list[str], log_file: Path) -> None:
        out = log_file.open("ab")
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append((name, process))
        log.info("process_started", name=name, pid=process.pid, log=str(log_file))

    def stop(self) -> None:
        for name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                log.info("process_stopped", name=name, code=process.returncode)
        self.processes.clear()

    def dead(self) -> list[str]:
        return [name for name, p in self.processes if p.poll() is not None]


def temporal_args(settings: Settings) -> list[str]:
    host, _, port = settings.temporal_address.rpartition(":")
    return [
        str(BIN / "temporal"), "server", "start-dev",
        "--db-filename", str(settings.var_dir / "temporal.db"),
        "--ip", host or "127.0.0.1", "--port", port,
        "--ui-port", str(settings.ui_port),
        "--namespace", settings.temporal_namespace,
        *SQLITE_PRAGMAS,
        "--log-level", "warn",
        *search_attributes.dev_server_args(),
    ]  # fmt: skip


async def wait_for_temporal(settings: Settings, timeout: float = 60.0) -> Client:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await connect(settings)
        except RuntimeError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


def prepare_database(settings: Settings) -> str:
    from cityops.org.migrate import upgrade
    from cityops.org.store import seed_if_empty

    upgrade(settings.database_url)
    return seed_if_empty(settings.database_url)


async def bring_up(settings: Settings, *, with_mqtt: bool = True, workers: int = 1) -> None:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    logs = settings.var_dir / "logs"
    logs.mkdir(exist_ok=True)
    stack = Stack(settings)
    env_python = str(BIN / "python")
    try:
        stack.spawn("temporal", temporal_args(settings), logs / "temporal.log")
        client = await wait_for_temporal(settings)
        added = await search_attributes.register(client, settings.temporal_namespace)
        log.info("search_attributes_ready", added=added)
        log.info("database_ready", seed=prepare_database(settings))
        if "SMTP_HOST" not in os.environ:
            # No mail server configured: keep the demo's e-mails in var/outbox/.
            os.environ.update(SMTP_HOST="127.0.0.1", SMTP_PORT=os.environ.get("SMTP_PORT", "2525"))
            stack.spawn("outbox", [env_python, "-m", "cityops.workers.outbox"], logs / "outbox.log")
        for number in range(1, workers + 1):
            name = "worker" if workers == 1 else f"worker-{number}"
            stack.spawn(name, [env_python, "-m", "cityops.workers.main"], logs / f"{name}.log")
        stack.spawn(
            "api",
            [env_python, "-m", "uvicorn", "cityops.api.app:app", "--host", settings.api_host,
             "--port", str(settings.api_port), "--log-level", "warning"],
            logs / "api.log",
        )  # fmt: skip
        if with_mqtt:
            stack.spawn("mqtt", [str(BIN / "cityops"), "intake", "mqtt"], logs / "mqtt.log")
        print_urls(settings)
        while not (dead := stack.dead()):
            await asyncio.sleep(1)
        log.error("process_died", names=dead, logs=str(logs))
    finally:
        stack.stop()


def print_urls(settings: Settings) -> None:
    host = settings.temporal_address.rpartition(":")[0] or "localhost"
    print(
        "\ncityops is up.\n"
        f"  Temporal UI   http://{host}:{settings.ui_port}/namespaces/{settings.temporal_namespace}/workflows\n"
        f"  Intake API    {settings.public_url}/docs\n"
        f"  Temporal gRPC {settings.temporal_address}\n"
        f"  Database      {settings.database_url}\n"
        f"  Logs          {settings.var_dir / 'logs'}\n"
        f"  Sent mail     {settings.var_dir / 'outbox'} (when no SMTP_HOST is set)\n"
        'Try:  cityops submit --text "小区门口井盖不见了" --address "浦东新区张江镇碧波路690号"\n'
        "Ctrl-C stops everything.\n",
        flush=True,
    )


def _terminate_gracefully(signum: int, _frame: object) -> None:
    # SIGTERM (a service manager, `timeout`) stops the stack like Ctrl-C does.
    raise KeyboardInterrupt


def run_up(settings: Settings, *, with_mqtt: bool = True, workers: int = 1) -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    signal.signal(signal.SIGTERM, _terminate_gracefully)
    # A shell may start us with SIGINT ignored (background jobs); Ctrl-C must still stop us.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(bring_up(settings, with_mqtt=with_mqtt, workers=workers))
