"""Warm workers: a job forked from a preloaded server is as confined as a cold child.

Each test attacks one property of reuse: jobs cannot see each other's files, leftovers of a
job die before the next, a timeout or a crash discards the server. All tests share one config
so that they share one server (the pool is per process) where the test does not discard it.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest
from _sandbox_helpers import TESTS_DIR, processes_with, run

from warpsmith.sandbox import SandboxConfig, run_pooled, run_sandboxed
from warpsmith.sandbox.isolation import host_support

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(host_support().unshare_flags is None, reason="warm workers need a pid namespace"),
]


def warm(entry: str, payload: dict, workdir, timeout_s: float = 120) -> tuple:
    result = run(entry, payload, workdir, warm=True, timeout_s=timeout_s)
    line = next(line for line in result.isolation if line.startswith("warm worker:"))
    job, server = map(int, re.findall(r"\d+", line))
    return result, job, server


def test_second_job_reuses_the_server_and_starts_fast(tmp_path):
    first, _, server = warm("import_torch_triton", {}, tmp_path)
    second, job, again = warm("import_torch_triton", {}, tmp_path)
    assert first.status == second.status == "ok"
    assert again == server and job >= 2
    assert second.wall_s < 2.0  # a fork, not a fresh interpreter importing torch


def test_jobs_cannot_read_each_others_workdir(tmp_path_factory):
    if host_support().landlock_abi is None:
        pytest.skip("landlock unavailable")
    first_dir, second_dir = tmp_path_factory.mktemp("job1"), tmp_path_factory.mktemp("job2")
    (first_dir / "candidate_secret.txt").write_text("expected outputs of job 1")
    config = SandboxConfig(warm=True, timeout_s=60, env_extra={"PYTHONPATH": str(TESTS_DIR)})
    result = run_sandboxed("warpsmith.sandbox.probe:observe", {"read": [str(first_dir / "candidate_secret.txt")]},
                           second_dir, config)
    assert result.status == "ok"
    assert result.value["read"][str(first_dir / "candidate_secret.txt")].startswith("PermissionError")
    assert result.value["cwd"] == str(second_dir) == result.value["env"]["HOME"]


def test_leftovers_of_a_job_die_before_the_next(tmp_path):
    marker = f"sandbox-orphan-{uuid.uuid4().hex}"
    result, _, server = warm("spawn_detached_sleeper", {"marker": marker}, tmp_path)
    assert result.status == "ok" and result.value == {"sleeper_alive": True}
    time.sleep(0.2)
    assert processes_with(marker) == []
    _, _, again = warm("import_torch_triton", {}, tmp_path)
    assert again == server  # a clean job does not cost the server


def test_timeout_kills_the_job_and_discards_the_server(tmp_path):
    _, _, server = warm("import_torch_triton", {}, tmp_path)
    started = time.monotonic()
    result = run("spin_ignoring_sigterm", {}, tmp_path, warm=True, timeout_s=1.5)
    assert result.status == "timeout" and time.monotonic() - started < 5
    _, job, fresh = warm("import_torch_triton", {}, tmp_path)
    assert fresh != server and job == 1


def test_a_crashed_job_discards_the_server(tmp_path):
    _, _, server = warm("import_torch_triton", {}, tmp_path)
    crashed, _, _ = warm("print_fake_result", {}, tmp_path)
    assert crashed.status == "crashed" and crashed.value is None
    _, job, fresh = warm("import_torch_triton", {}, tmp_path)
    assert fresh != server and job == 1


def test_entry_error_discards_the_server(tmp_path):
    # Any result but "ok" is a fault: the next job gets a fresh server.
    _, _, server = warm("import_torch_triton", {}, tmp_path)
    failed, _, _ = warm("raise_error", {"code": 7}, tmp_path)
    assert failed.status == "error" and "candidate exploded: 7" in failed.error
    _, job, fresh = warm("import_torch_triton", {}, tmp_path)
    assert fresh != server and job == 1


def test_pooled_runs_honour_the_switch(tmp_path, monkeypatch):
    config = SandboxConfig(timeout_s=60, env_extra={"PYTHONPATH": str(TESTS_DIR)})
    warm_run = run_pooled("_sandbox_entries:import_torch_triton", {}, tmp_path, config)
    assert any(line.startswith("warm worker: job") for line in warm_run.isolation)
    monkeypatch.setenv("WARPSMITH_WARM_WORKERS", "0")
    cold_run = run_pooled("_sandbox_entries:import_torch_triton", {}, tmp_path, config)
    assert cold_run.status == "ok" and not any(line.startswith("warm worker") for line in cold_run.isolation)
