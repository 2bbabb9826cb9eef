"""Sandbox resource limits: file size, task count, CPU time. One attack per test."""

from __future__ import annotations

import signal

from _sandbox_helpers import run

from warpsmith.sandbox.isolation import host_support


def test_huge_file_hits_the_file_size_limit(tmp_path):
    limit = 3 << 20
    result = run("write_huge_file", {"megabytes": 50}, tmp_path, max_file_bytes=limit, timeout_s=30)
    assert result.status == "error"
    assert "File too large" in result.error
    assert (tmp_path / "huge.bin").stat().st_size <= limit


def test_fork_bomb_is_bounded_by_the_task_limit(tmp_path):
    result = run("fork_bomb", {"cap": 500}, tmp_path, max_processes=24, timeout_s=30)
    assert result.status == "ok", result
    assert result.value["refused"] == "BlockingIOError"
    assert result.value["forks"] < 24
    if host_support().cgroup or host_support().unshare_flags is not None:
        assert "processes:" in "\n".join(result.isolation)


def test_cpu_burner_is_killed_by_the_cpu_limit_before_the_wall_clock(tmp_path):
    result = run("burn_cpu", {}, tmp_path, cpu_seconds=1, timeout_s=30)
    assert result.status == "killed"
    assert result.signal == signal.SIGKILL  # SIGXCPU was ignored, the hard limit is not
    assert result.wall_s < 15


def test_allocation_beyond_memory_limit_fails(tmp_path):
    result = run("allocate", {"bytes": 2 << 30}, tmp_path, memory_bytes=1 << 30, timeout_s=30)
    assert result.status == "error"
    assert result.error.startswith("MemoryError")
