"""How many ticket workers `cityops up` and the benchmarks start (config.default_workers)."""

from __future__ import annotations

import os

import pytest

from cityops.config import MAX_WORKERS, default_workers


def test_one_worker_per_core_this_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITYOPS_WORKERS", raising=False)
    assert default_workers() == min(MAX_WORKERS, len(os.sched_getaffinity(0)))


@pytest.mark.parametrize(("configured", "workers"), [("3", 3), ("0", 1), ("99", MAX_WORKERS)])
def test_cityops_workers_overrides_within_bounds(
    monkeypatch: pytest.MonkeyPatch, configured: str, workers: int
) -> None:
    monkeypatch.setenv("CITYOPS_WORKERS", configured)
    assert default_workers() == workers


def test_the_count_follows_the_cores_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITYOPS_WORKERS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2})
    assert default_workers() == 3
