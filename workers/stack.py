"""`cityops up`: the whole system on one machine, on embedded defaults.

Starts the Temporal dev server (state in var/temporal.db, so tickets survive a
restart), registers our search attributes, migrates and seeds the database, then
runs the worker, the intake API and the MQTT intake as child processes, prints
the URLs, restarts any child that exits (with backoff, logged), and stops them all,
newest first, on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from temporalio.client import Client

from cityops.config import Settings
from cityops.privacy.keys import ensure_key_file
from cityops.workers.calendar_watch import announce_calendar, banner
from cityops.workers.client import connect
from cityops.workers.devserver import SQLITE_PRAGMAS
from cityops.workflows import search_attributes

log = structlog.get_logger()
BIN = Path(sys.executable).parent
# h11 with a 1 MiB request head: an over-long query reaches the app, which refuses it in
# its own documented shape (422, or Open311's error) instead of the server's plain text.
API_HTTP_OPTIONS = ("--http", "h11", "--h11-max-incomplete-event-size", str(1 << 20))


@dataclass
class Child:
    """One supervised process: how to start it, and how its restarts are going."""

    name: str
    args: list[str]
    log_file: Path
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    restart_at: float | None = None  # when a crashed child is due to start again


@dataclass
class Stack:
    """Starts the children and keeps them running: a child that exits is logged and
    started again after a backoff that doubles with each quick crash (1 s, 2 s, 4 s … up
    to `max_backoff`) and resets once it has stayed up for `stable_after` seconds. One
    crashed worker never takes the API or Temporal down with it."""

    settings: Settings
    children: list[Child] = field(default_factory=list)
    base_backoff: float = 1.0
    max_backoff: float = 60.0
    stable_after: float = 60.0
    clock: Callable[[], float] = time.monotonic

    def spawn(self, name: str, args: list[str], log_file: Path) -> None:
        child = Child(name, args, log_file)
        self.children.append(child)
        self._start(child)

    def _start(self, child: Child) -> None:
        with child.log_file.open("ab") as out:
            child.process = subprocess.Popen(
                child.args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        child.started_at = self.clock()
        child.restart_at = None
        log.info("process_started", name=child.name, pid=child.process.pid, log=str(child.log_file))

    def supervise_once(self) -> None:
        """Notice children that exited and restart those whose backoff is over."""
        now = self.clock()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._start(child)
                continue
            if child.process is None or child.process.poll() is None:
                continue
            if now - child.started_at >= self.stable_after:
                child.restarts = 0  # it ran long enough: the next crash starts afresh
            delay = min(self.max_backoff, self.base_backoff * 2**child.restarts)
            child.restarts += 1
            child.restart_at = now + delay
            log.error(
                "process_died",
                name=child.name,
                code=child.process.returncode,
                restart_in_s=delay,
                restarts=child.restarts,
                log=str(child.log_file),
            )

    def stop(self) -> None:
        for child in reversed(self.children):
            process = child.process
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                log.info("process_stopped", name=child.name, code=process.returncode)
        self.children.clear()


def temporal_args(settings: Settings) -> list[str]:
    host, _, port = settings.temporal_address.rpartition(":")
    return [
        str(BIN / "temporal"), "server", "start-dev",
        "--db-filename", str(settings.var_dir / "temporal.db"),
        "--ip", host or "127.0.0.1", "--port", port,
        "--ui-port", str(settings.ui_port),
        # Payloads are encrypted: the UI asks the API's codec server, which decrypts only
        # for a signed-in supervisor (docs/privacy.md); everyone else sees ciphertext.
        "--ui-codec-endpoint", f"{settings.public_url.rstrip('/')}/codec",
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
    coverage = announce_calendar("up")
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    logs = settings.var_dir / "logs"
    logs.mkdir(exist_ok=True)
    stack = Stack(settings)
    env_python = str(BIN / "python")
    if ensure_key_file(settings):
        log.info("encryption_key_created", key_file=str(settings.key_file))
    try:
        stack.spawn("temporal", temporal_args(settings), logs / "temporal.log")
        client = await wait_for_temporal(settings)
        added = await search_attributes.register(client, settings.temporal_namespace)
        log.info("search_attributes_ready", added=added)
        log.info("database_ready", seed=prepare_database(settings))
        if settings.uses_local_outbox:
            # No mail server configured: the demo's e-mails stay in var/outbox/, on the
            # same port a standalone `cityops worker` reads from the settings.
            stack.spawn("outbox", [env_python, "-m", "cityops.workers.outbox"], logs / "outbox.log")
        for number in range(1, workers + 1):
            name = "worker" if workers == 1 else f"worker-{number}"
            stack.spawn(name, [env_python, "-m", "cityops.workers.main"], logs / f"{name}.log")
        stack.spawn(
            "api",
            [env_python, "-m", "uvicorn", "cityops.api.app:app", "--host", settings.api_host,
             "--port", str(settings.api_port), "--log-level", "warning", *API_HTTP_OPTIONS],
            logs / "api.log",
        )  # fmt: skip
        if with_mqtt:
            stack.spawn("mqtt", [str(BIN / "cityops"), "intake", "mqtt"], logs / "mqtt.log")
        print_urls(settings)
        if (warning := coverage.warning()) is not None:
            print(banner(warning), file=sys.stderr, flush=True)  # again, below the URLs
        while True:
            stack.supervise_once()
            await asyncio.sleep(0.5)
    finally:
        stack.stop()


def print_urls(settings: Settings) -> None:
    host = settings.temporal_address.rpartition(":")[0] or "localhost"
    print(
        "\ncityops is up.\n"
        f"  Temporal UI   http://{host}:{settings.ui_port}/namespaces/{settings.temporal_namespace}/workflows\n"
        f"  Intake API    {settings.public_url}/docs\n"
        f"  Codec login   http://{host}:{settings.api_port}/codec/login (supervisors: decrypt in"
        " the UI, docs/privacy.md)\n"
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
