"""LocalPool with real workers evaluating real seed kernels in Triton's CPU interpreter: every job
comes back once, in completion order; workers are pinned; the pool's process never touches CUDA."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests._pool_helpers import collect, environ_of, seed_job, wait_for
from warpsmith.pool import make_pool
from warpsmith.pool.devices import visible_gpus
from warpsmith.pool.local import LocalPool
from warpsmith.pool.worker_process import worker_environment


@pytest.mark.slow
def test_two_workers_return_every_job_once_in_completion_order() -> None:
    # rmsnorm on its bench suite takes several times longer than silu_and_mul's smoke suite, so the
    # job submitted second finishes first and must come back first.
    jobs = [seed_job("slow", "rmsnorm", suite="bench"), seed_job("quick", "silu_and_mul"),
            seed_job("third", "gelu_and_mul"), seed_job("fourth", "fused_add_rmsnorm", stage="screen", confirm=True)]
    with LocalPool(workers=2, gpus=[]) as pool:
        pids = wait_for(lambda: len(pool.worker_pids()) == 2 and pool.worker_pids(), 60, "two workers")
        for pid in pids.values():  # a CPU worker sees no GPU at all
            assert environ_of(pid)["CUDA_VISIBLE_DEVICES"] == ""
            assert environ_of(pid)["OMP_NUM_THREADS"] == os.environ.get("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // 2)))
        for job in jobs:
            pool.submit(job)
        assert pool.pending() == 4
        outcomes = collect(pool, 4)
        stats = pool.stats()
    assert sorted(o.job_id for o in outcomes) == sorted(j.job_id for j in jobs)
    assert [o.job_id for o in outcomes].index("quick") < [o.job_id for o in outcomes].index("slow")
    for outcome in outcomes:
        assert outcome.error is None and outcome.attempts == 1, outcome
        assert outcome.result is not None and outcome.result.status == "correct", outcome.result
        assert outcome.result.mode == "interpreter" and outcome.result.source_hash == next(
            j.candidate.source_hash for j in jobs if j.job_id == outcome.job_id)
        assert outcome.ran_s > 0
    assert {o.worker for o in outcomes} == {"cpu0", "cpu1"}, "both workers evaluate"
    staged = next(o.result for o in outcomes if o.job_id == "fourth")  # the job's stage reaches evaluate()
    assert staged is not None and staged.stage == "screen" and staged.message.endswith("(confirming re-evaluation)")
    assert stats.done == 4 and stats.failed == 0 and stats.busy == 0 and stats.queued == 0
    assert stats.busy_seconds >= sum(o.ran_s for o in outcomes) * 0.99
    if "torch" in sys.modules:  # the pool's process never created a CUDA context
        import torch

        assert torch.cuda.is_initialized() is False


def test_the_pool_process_never_imports_torch() -> None:
    code = ("import sys\nimport warpsmith.pool, warpsmith.pool.local, warpsmith.pool.ray_pool, warpsmith.pool.builds\n"
            "from warpsmith.pool.devices import visible_gpus\nvisible_gpus()\n"
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))[:5]\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_gpu_worker_is_pinned_to_its_one_gpu_before_it_starts() -> None:
    env = worker_environment("3", base={"PATH": "/usr/bin", "CUDA_VISIBLE_DEVICES": "0,1,2,3"})
    assert env["CUDA_VISIBLE_DEVICES"] == "3" and env["PATH"] == "/usr/bin"
    assert worker_environment(None, base={})["CUDA_VISIBLE_DEVICES"] == ""
    assert worker_environment("1", base={"HIP_VISIBLE_DEVICES": "0,1"})["HIP_VISIBLE_DEVICES"] == "1"
    assert worker_environment(None, base={}, threads=3)["OMP_NUM_THREADS"] == "3"
    assert worker_environment(None, base={"OMP_NUM_THREADS": "8"}, threads=3)["OMP_NUM_THREADS"] == "8"
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2, 5"}) == ["2", "5"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []


def test_a_job_for_an_unknown_task_fails_once_without_recycling_the_worker() -> None:
    job = seed_job("bad", "rmsnorm")
    job.candidate.task = "no_such_task"
    with make_pool("local", workers=1, gpus=[]) as pool:
        pid = wait_for(lambda: pool.worker_pids().get("cpu0"), 60, "the worker")
        pool.submit(job)
        with pytest.raises(ValueError, match="already submitted"):
            pool.submit(job)
        [outcome] = collect(pool, 1)
        assert pool.worker_pids().get("cpu0") == pid and pool.stats().recycled == 0
    assert outcome.result is None and outcome.attempts == 1
    assert outcome.error is not None and "unknown task 'no_such_task'" in outcome.error and "\n" not in outcome.error


def test_an_unknown_pool_kind_is_one_clear_line() -> None:
    with pytest.raises(ValueError, match="unknown pool kind 'slurm'; use 'local' or 'ray'"):
        make_pool("slurm")  # type: ignore[arg-type]


@pytest.mark.gpu
@pytest.mark.skipif(not visible_gpus(), reason="needs a CUDA GPU (nvidia-smi lists none)")
def test_gpu_workers_time_real_kernels_and_the_parent_never_creates_a_cuda_context() -> None:
    gpus = visible_gpus()
    with LocalPool(gpus=gpus) as pool:
        pids = wait_for(lambda: len(pool.worker_pids()) == len(gpus) and pool.worker_pids(), 120, "GPU workers")
        for i, gpu in enumerate(gpus):
            assert environ_of(pids[f"gpu{i}"])["CUDA_VISIBLE_DEVICES"] == gpu
        for i in range(2 * len(gpus)):
            pool.submit(seed_job(f"g{i}", "rmsnorm", suite="bench", stage="screen"))
        outcomes = collect(pool, 2 * len(gpus), timeout_s=600)
    for outcome in outcomes:
        assert outcome.result is not None and outcome.result.status == "correct", (outcome.error, outcome.result)
        assert outcome.result.mode == "device" and outcome.result.stage == "screen"
    if "torch" in sys.modules:
        import torch

        assert torch.cuda.is_initialized() is False


@pytest.mark.slow
def test_a_cpu_worker_warms_up_before_ready_so_its_first_job_forks_from_a_running_server() -> None:
    # The warm-up (pool/warmup.py) starts the worker's warm fork server before "ready": the first job is
    # then at least the server's second, and nothing of the server's start-up is inside the job's time.
    import re

    with LocalPool(workers=1, gpus=[]) as pool:
        assert pool.wait_ready(240), "the worker did not get ready"
        log = pool._slots[0].worker.log_path.read_text()  # noqa: SLF001 - the worker's own log line
        assert re.search(r"worker cpu0: warmed up in \d+\.\d\d s\n", log), log[-1000:]
        pool.submit(seed_job("first", "rmsnorm"))
        [outcome] = collect(pool, 1)
        pid = pool.worker_pids()["cpu0"]
    assert outcome.result is not None and outcome.result.status == "correct", outcome
    warm = [line for line in outcome.result.isolation if line.startswith("warm worker")]
    if warm and "ran cold" in warm[0]:
        pytest.skip(f"this host runs sandboxed jobs cold: {warm[0]}")
    assert warm and re.fullmatch(r"warm worker: job (\d+) of server \d+", warm[0]), outcome.result.isolation
    assert int(re.fullmatch(r"warm worker: job (\d+) of server \d+", warm[0]).group(1)) >= 2, warm
    assert not os.path.exists(f"/proc/{pid}"), "close() ended the worker"
