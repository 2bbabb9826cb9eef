"""Native candidates are built on the pool's CPU build pool, not on a worker: a real nvcc build of
the rmsnorm CUDA seed into a fresh build cache while no worker holds the job, then the worker's
evaluation finds the build in the cache (on this GPU-less machine the verdict is `compiled`)."""

from __future__ import annotations

import shutil

import pytest

from tests._pool_helpers import collect, seed_job, wait_for
from warpsmith.pool.builds import needs_build
from warpsmith.pool.local import LocalPool


def test_only_native_jobs_go_to_the_build_pool() -> None:
    assert needs_build(seed_job("c", "rmsnorm", language="cuda"))
    assert not needs_build(seed_job("t", "rmsnorm"))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc on PATH")
def test_a_cuda_job_is_built_off_the_worker_and_the_worker_finds_it_cached(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WARPSMITH_CACHE", str(tmp_path / "cache"))  # a fresh build cache: a real compile
    with LocalPool(workers=1, gpus=[], build_workers=1) as pool:
        pool.submit(seed_job("native", "rmsnorm", language="cuda", suite="smoke"))
        stats = wait_for(lambda: (s := pool.stats()).building == 1 and s, 30, "the build to start")
        assert stats.queued == 1 and pool.busy_workers() == {}, "the worker is not held while it compiles"
        [outcome] = collect(pool, 1, timeout_s=600)
    result = outcome.result
    assert result is not None and result.status == "compiled", (outcome.error, result and result.message)
    assert outcome.build_s > 5.0, "nvcc ran on the build pool"
    assert result.durations_s["compile"] < outcome.build_s / 3, "the worker's build was a cache hit"
