"""`CallPool`: an evaluation pool that runs each job in the caller's thread, through a given evaluate function.

Owns: the pool `optimize` evaluates with by default (one evaluation at a time, as it always did; the
candidate itself runs in the evaluator's sandboxed child anyway): jobs are queued by `submit` and
each is evaluated when `next_outcome` is asked, with the Task object in hand (so a KernelBench or
FlashInfer-Trace task, which no worker could rebuild by name, evaluates too) and with the keyword
arguments the evaluator takes (stage only where a screen differs from the full suite, confirm,
profile, the task file and the GPU index only when set: a test's measuring function may take no
more). An exception from evaluate is not a verdict about the candidate: it propagates, and the run
ends 'failed' (or 'interrupted' for Ctrl-C) with nothing lost. Does not own: parallel workers
(warpsmith.pool: LocalPool, RayPool, InlinePool, which `evolve` picks through search.pools).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from warpsmith.agents.coordinator import default_evaluate
from warpsmith.records.evaluation import EvalResult
from warpsmith.records.jobs import EvalJob, EvalOutcome, PoolStats
from warpsmith.tasklib.base import Task


class CallPool:
    def __init__(self, tasks: list[Task], *, evaluate: Callable[..., EvalResult] = default_evaluate,
                 device: str = "auto", gpu_index: int | None = None, stages: bool = False) -> None:
        self.tasks = {task.name: task for task in tasks}
        self.evaluate, self.device, self.gpu_index, self.stages = evaluate, device, gpu_index, stages
        self.on_start: Callable[[EvalJob], None] = lambda job: None
        """Told as each job starts (optimize's progress line: 'evaluating <hash> (<idea>)')."""
        self._jobs: deque[EvalJob] = deque()
        self._done = self._failed = 0
        self._busy_seconds = 0.0

    def submit(self, job: EvalJob) -> None:
        self._jobs.append(job)

    def next_outcome(self, timeout_s: float | None = None) -> EvalOutcome | None:
        if not self._jobs:
            return None
        job = self._jobs.popleft()
        extra: dict[str, Any] = {}
        if self.stages:
            extra["stage"] = job.stage
        if job.confirm:
            extra["confirm"] = True
        if job.profile:
            extra["profile"] = True
        if job.task_file:
            extra["task_file"] = Path(job.task_file)
        if self.gpu_index is not None:
            extra["gpu_index"] = self.gpu_index
        self.on_start(job)
        started = time.monotonic()
        result = self.evaluate(job.candidate, self.tasks[job.candidate.task], suite=job.suite, device=self.device,
                               timeout_s=job.timeout_s, **extra)
        ran = time.monotonic() - started
        self._done += 1
        self._busy_seconds += ran
        return EvalOutcome(job_id=job.job_id, result=result, worker="caller", ran_s=ran)

    def pending(self) -> int:
        return len(self._jobs)

    def stats(self) -> PoolStats:
        return PoolStats(workers=1, busy=0, queued=len(self._jobs), done=self._done, failed=self._failed,
                         busy_seconds=self._busy_seconds)

    def close(self) -> None:
        self._jobs.clear()

    def __enter__(self) -> CallPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
