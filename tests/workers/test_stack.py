"""`cityops up` supervises its children: a crashed child is restarted with a doubling
backoff and the others keep running; a standalone worker reads the settings `up` gives."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from cityops.activities.channels import SmtpSettings
from cityops.activities.notify import NotifySettings
from cityops.config import Settings
from cityops.workers.stack import Stack, print_urls


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def wait_exited(stack: Stack, name: str) -> None:
    child = next(c for c in stack.children if c.name == name)
    assert child.process is not None
    child.process.wait(timeout=10)


def test_a_crashed_child_restarts_with_backoff_and_the_others_keep_running(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    stack = Stack(Settings(), clock=clock)
    try:
        stack.spawn("crasher", [sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "c.log")
        stack.spawn(
            "steady", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "s.log"
        )
        steady = stack.children[1].process
        assert steady is not None
        delays = []
        for _ in range(4):
            wait_exited(stack, "crasher")
            stack.supervise_once()  # notices the exit and schedules the restart
            crasher = stack.children[0]
            assert crasher.restart_at is not None
            delays.append(crasher.restart_at - clock.now)
            clock.now = crasher.restart_at
            stack.supervise_once()  # the backoff is over: started again
            assert crasher.restart_at is None and crasher.process is not None
        assert delays == [1.0, 2.0, 4.0, 8.0]
        assert steady.poll() is None  # the healthy child was never touched
        assert stack.children[1].process is steady
    finally:
        stack.stop()


def test_a_child_that_ran_long_enough_restarts_quickly_again(tmp_path: Path) -> None:
    clock = FakeClock()
    stack = Stack(Settings(), clock=clock, stable_after=60)
    try:
        stack.spawn("crasher", [sys.executable, "-c", "raise SystemExit(1)"], tmp_path / "c.log")
        crasher = stack.children[0]
        crasher.restarts = 5  # it had been crashing before
        wait_exited(stack, "crasher")
        clock.now += 120  # but this run lasted two minutes
        stack.supervise_once()
        assert crasher.restart_at == pytest.approx(clock.now + 1.0)
    finally:
        stack.stop()


def test_stop_ends_every_child(tmp_path: Path) -> None:
    stack = Stack(Settings())
    stack.spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "l")
    process = stack.children[0].process
    assert process is not None
    started = time.monotonic()
    stack.stop()
    assert process.poll() is not None and time.monotonic() - started < 15


def test_a_standalone_worker_mails_where_up_sends_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no SMTP_HOST, `up` starts the local outbox on SMTP_PORT; a worker started by
    hand reads the same settings and so mails the same sink."""
    monkeypatch.delenv("SMTP_HOST", raising=False)
    monkeypatch.setenv("SMTP_PORT", "2626")
    settings = Settings()
    assert settings.uses_local_outbox
    smtp = SmtpSettings.from_settings(settings)
    assert (smtp.host, smtp.port) == ("127.0.0.1", 2626)
    monkeypatch.setenv("SMTP_HOST", "mail.example.cn")
    assert not Settings().uses_local_outbox
    assert SmtpSettings.from_settings(Settings()).host == "mail.example.cn"


def test_links_follow_the_api_port_unless_a_public_url_is_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Moving CITYOPS_API_PORT alone moves what `up` prints and where notices link: the
    default public URL is this machine's API at its own port. CITYOPS_PUBLIC_URL wins."""
    monkeypatch.delenv("CITYOPS_PUBLIC_URL", raising=False)
    monkeypatch.delenv("CITYOPS_API_PORT", raising=False)
    assert Settings().public_url == "http://127.0.0.1:8080"
    monkeypatch.setenv("CITYOPS_API_PORT", "9180")
    settings = Settings()
    assert settings.public_url == "http://127.0.0.1:9180"
    assert NotifySettings.from_settings(settings).public_url == "http://127.0.0.1:9180"
    print_urls(settings)
    printed = capsys.readouterr().out
    assert "Intake API    http://127.0.0.1:9180/docs" in printed
    assert "8080" not in printed
    assert Settings(api_port=9181).public_url == "http://127.0.0.1:9181"
    monkeypatch.setenv("CITYOPS_PUBLIC_URL", "https://ops.pudong.example")
    assert Settings().public_url == "https://ops.pudong.example"
    assert Settings(api_port=9181).public_url == "https://ops.pudong.example"
