"""Warming a worker before its first job, so a job's time is the evaluation's and nothing else.

Owns: `warm_up(device)`: one real evaluation of a built-in seed (silu_and_mul's Triton seed on the
smoke shapes) in this process, before the worker says it is ready. It pays, once and outside any
job, what a fresh process otherwise pays inside its first job: the sandbox's warm fork server
(sandbox/warm.py: a confined interpreter importing torch and triton, ~2.7 s on the 2-core build
machine, the largest item), the evaluator's lazily imported modules and its per-process caches
(hardware, evaluator version, static-check source caches). Measured in docs/pool.md.

Only CPU workers (interpreter mode) are warmed: device-mode evaluations run a fresh sandboxed
interpreter per child and have no fork server to start. Never raises: a warm-up that fails is one
line in the worker's log and the worker serves jobs cold. Does not own: the worker's protocol
(worker.py) or the sandbox (warpsmith.sandbox).
"""

from __future__ import annotations

import time

WARM_TASK = "silu_and_mul"


def warm_up(device: str) -> tuple[float, str | None]:
    """Evaluate one built-in seed on `device` ('cpu' only; others return at once).
    Returns (seconds spent, None) or (seconds, the one-line reason it failed)."""
    started = time.perf_counter()
    if device != "cpu":
        return 0.0, None
    from warpsmith.evaluator.evaluate import evaluate
    from warpsmith.pool.runner import one_line
    from warpsmith.records.evaluation import Candidate
    from warpsmith.tasklib import get_task

    try:
        task = get_task(WARM_TASK)
        seed = task.seed_path("triton")
        if seed is None:
            return time.perf_counter() - started, f"warm-up: {WARM_TASK} has no Triton seed"
        source = seed.read_text()
        result = evaluate(Candidate(task=WARM_TASK, language="triton", source=source, origin="seed"), task,
                          suite="smoke", device="cpu", gpu_index=0)
    except Exception as exc:  # noqa: BLE001 - a failed warm-up costs speed, never the worker
        return time.perf_counter() - started, f"warm-up raised {one_line(exc)}"
    problem = None if result.status == "correct" else f"warm-up seed ended {result.status}: {result.message[:200]}"
    return time.perf_counter() - started, problem
