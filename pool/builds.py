"""Native builds on a CPU pool, overlapped with the evaluations running on the workers.

Owns: building a CUDA / HIP candidate ahead of its evaluation through the toolchain's
`build_extension` (subprocesses of nvcc / hipcc: threads suffice, and nothing here imports
torch or touches a GPU). The build lands in the toolchain's shared cache, keyed by source,
language, arch and toolchain; the worker's `evaluate()` then builds the same key and finds it
there, so the GPU worker spends its lease timing, not compiling. Compile errors are cached the
same way; a build that raises or times out here is simply built again by the worker, whose
verdict is the one that counts (this pool only warms the cache).

The arch is the toolchain's own choice for this machine's GPU (the name the evaluator asks for
on the same GPU, see evaluator/native.py); on a machine with mixed GPUs a worker whose arch
differs builds for itself. Does not own: the cache, the compiler flags or any verdict.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from warpsmith.records.jobs import EvalJob

NATIVE = ("cuda", "hip")


def needs_build(job: EvalJob) -> bool:
    return job.candidate.language in NATIVE


def build_one(job: EvalJob) -> float:
    """Build `job`'s candidate into the shared cache; returns the seconds it took."""
    from warpsmith.evaluator.build import build_extension

    started = time.perf_counter()
    build_extension(job.candidate.source, job.candidate.language, timeout_s=job.timeout_s or 600.0)  # type: ignore[arg-type]
    return round(time.perf_counter() - started, 4)


class BuildPool:
    """`submit(job, done)`: build in the background, then call `done(job, seconds)` (also after a
    build that raised: the worker builds again and reports what went wrong)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(1, (os.cpu_count() or 2) // 2)
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="warpsmith-build")

    def submit(self, job: EvalJob, done: Callable[[EvalJob, float], None]) -> Future:
        def run() -> None:
            started = time.perf_counter()
            try:
                seconds = build_one(job)
            except Exception:  # noqa: BLE001 - only a cache warm-up: the worker's own build reports it
                seconds = round(time.perf_counter() - started, 4)
            done(job, seconds)

        return self._executor.submit(run)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
