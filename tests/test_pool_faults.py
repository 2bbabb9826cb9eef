"""LocalPool under faults, with real worker processes and real candidates: a hanging candidate
is timed out by the sandbox and its worker recycled; a worker killed (SIGKILL) or frozen
(SIGSTOP, so it passes the pool's deadline) mid-evaluation is replaced and its job re-queued
once, then recorded failed; a worker that cannot start fails jobs with one line; leaving the
pool on an exception stops every worker and leaves no process and no zombie behind."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests._pool_helpers import alive, collect, descendants, hanging_job, seed_job, wait_for, zombie_children
from warpsmith.pool.devices import visible_gpus
from warpsmith.pool.local import LocalPool


def _busy_pid(pool: LocalPool, job_id: str, not_pid: int | None = None) -> int:
    """The pid of the worker evaluating `job_id` (a different one than `not_pid`, once re-queued)."""
    def find() -> int | None:
        for name, busy_job in pool.busy_workers().items():
            pid = pool.worker_pids().get(name)
            if busy_job == job_id and pid is not None and pid != not_pid:
                return pid
        return None

    return wait_for(find, 120, f"a worker evaluating {job_id}")  # type: ignore[return-value]


@pytest.mark.slow
def test_a_hanging_candidate_times_out_in_the_sandbox_and_its_worker_is_recycled() -> None:
    with LocalPool(workers=1, gpus=[]) as pool:
        pool.submit(hanging_job("hang", timeout_s=6.0))
        first = _busy_pid(pool, "hang")
        [outcome] = collect(pool, 1, timeout_s=120)
        assert outcome.result is not None and outcome.result.status == "timeout", outcome
        assert outcome.attempts == 1 and outcome.error is None  # a verdict, not a fault: never re-queued
        pool.submit(seed_job("after", "silu_and_mul"))
        [after] = collect(pool, 1)
        assert after.result is not None and after.result.status == "correct"
        assert pool.worker_pids()["cpu0"] != first and pool.stats().recycled == 1
    assert not alive(first)


@pytest.mark.slow
def test_a_worker_killed_mid_evaluation_is_replaced_and_its_job_requeued_once_then_failed() -> None:
    with LocalPool(workers=2, gpus=[]) as pool:
        pool.submit(hanging_job("doomed", timeout_s=120.0))
        pool.submit(seed_job("bystander", "silu_and_mul"))
        first = _busy_pid(pool, "doomed")
        time.sleep(0.5)
        os.kill(first, signal.SIGKILL)
        second = _busy_pid(pool, "doomed", not_pid=first)  # re-queued once, on a fresh worker
        os.kill(second, signal.SIGKILL)
        outcomes = {o.job_id: o for o in collect(pool, 2)}
        assert pool.stats().recycled == 2 and pool.stats().failed == 1
    doomed = outcomes["doomed"]
    assert doomed.result is None and doomed.attempts == 2
    assert doomed.error is not None and "\n" not in doomed.error
    assert "died mid-evaluation (killed by SIGKILL" in doomed.error and "gave up after 2 attempts" in doomed.error
    bystander = outcomes["bystander"]
    assert bystander.result is not None and bystander.result.status == "correct" and bystander.attempts == 1
    assert not alive(first) and not alive(second)


@pytest.mark.slow
def test_a_job_whose_first_worker_died_succeeds_on_its_second_attempt() -> None:
    with LocalPool(workers=1, gpus=[]) as pool:
        wait_for(lambda: pool.worker_pids().get("cpu0"), 60, "the worker")
        pool.submit(seed_job("retry", "rmsnorm", suite="bench"))
        os.kill(_busy_pid(pool, "retry"), signal.SIGKILL)
        [outcome] = collect(pool, 1)
    assert outcome.result is not None and outcome.result.status == "correct"
    assert outcome.attempts == 2 and outcome.error is None


@pytest.mark.slow
def test_a_frozen_worker_passes_the_deadline_and_is_replaced() -> None:
    # deadline = 0 x timeout + 4 s: a worker stopped with SIGSTOP never answers and is killed at it
    with LocalPool(workers=1, gpus=[], margin_s=4.0, deadline_factor=0.0) as pool:
        pool.submit(seed_job("frozen", "silu_and_mul"))
        first = _busy_pid(pool, "frozen")
        os.kill(first, signal.SIGSTOP)
        second = _busy_pid(pool, "frozen", not_pid=first)
        os.kill(second, signal.SIGSTOP)
        [outcome] = collect(pool, 1, timeout_s=120)
    assert outcome.result is None and outcome.attempts == 2
    assert "passed the pool's deadline of 4 s and was killed" in (outcome.error or "")
    assert not alive(first) and not alive(second)


@pytest.mark.slow
def test_leaving_the_pool_on_an_exception_stops_every_worker_and_leaves_no_zombie() -> None:
    tree: set[int] = set()
    with pytest.raises(RuntimeError, match="the caller failed"), LocalPool(workers=2, gpus=[]) as pool:
        pool.submit(hanging_job("hang", timeout_s=120.0))
        busy = _busy_pid(pool, "hang")
        # the worker's sandboxed child (or warm server) is running the candidate by now
        wait_for(lambda: descendants(busy), 60, "the worker's sandbox")
        tree = set(pool.worker_pids().values())
        for pid in list(tree):
            tree |= descendants(pid)
        raise RuntimeError("the caller failed")
    assert pool.worker_pids() == {}
    wait_for(lambda: not any(alive(pid) for pid in tree), 30, "every worker and sandbox child to end")
    assert zombie_children() == []
    with pytest.raises(RuntimeError, match="the pool is closed"):
        pool.submit(seed_job("late", "rmsnorm"))
    with pytest.raises(RuntimeError, match="the pool is closed"):
        pool.next_outcome(0.1)


@pytest.mark.slow
@pytest.mark.skipif(bool(visible_gpus()), reason="needs a machine where GPU 7 does not exist")
def test_a_worker_that_cannot_start_fails_its_jobs_with_one_line() -> None:
    with LocalPool(gpus=["7"], start_failures=2) as pool:
        pool.submit(seed_job("nowhere", "rmsnorm"))
        [outcome] = collect(pool, 1, timeout_s=180)
        assert pool.stats().workers == 0
    assert outcome.result is None and outcome.error is not None and "\n" not in outcome.error
    assert outcome.error.startswith("worker gpu0 could not start (exited with code 3, 2 tries)")
    assert "CUDA_VISIBLE_DEVICES='7' but torch sees 0 CUDA device(s)" in outcome.error


_ORPHANING_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
from tests._pool_helpers import hanging_job
from warpsmith.pool.local import LocalPool
pool = LocalPool(workers=2, gpus=[])
pool.submit(hanging_job("hang", timeout_s=300.0))
while not pool.busy_workers():
    time.sleep(0.05)
print(" ".join(str(pid) for pid in pool.worker_pids().values()), flush=True)
time.sleep(600)
"""


@pytest.mark.slow
def test_killing_the_pools_process_takes_its_workers_and_their_sandboxes_with_it() -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parent.parent)
    owner = subprocess.Popen([sys.executable, "-c", _ORPHANING_SCRIPT.format(root=root)], stdout=subprocess.PIPE,
                             text=True, cwd=root)
    workers: list[int] = []
    try:
        assert owner.stdout is not None
        workers = [int(pid) for pid in owner.stdout.readline().split()]
        assert len(workers) == 2, "the pool started two workers"
        tree = set(workers)
        wait_for(lambda: any(descendants(pid) for pid in workers), 60, "the busy worker's sandbox")
        for pid in workers:
            tree |= descendants(pid)
        owner.kill()  # SIGKILL: no close(), no atexit
        owner.wait()
        wait_for(lambda: not any(alive(pid) for pid in tree), 30, "the orphaned workers and sandboxes to end")
    finally:
        owner.kill()
        owner.wait()
        for pid in workers:  # should the test fail, leave no orphan behind (each worker leads its group)
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
