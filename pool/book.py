"""The pool's bookkeeping, shared by every backend: which jobs wait, how often each was tried,
the outcomes ready to hand out, and the counters `PoolStats` reports.

Owns: the re-queue rule (a job whose worker died, hung or was recycled under it runs once more;
after `max_attempts` it comes back as `EvalOutcome(result=None, error=...)`), outcome assembly
(queued and run times, attempts, worker name) and the counters. Thread-safe: a backend's
dispatcher thread and the caller share it. Does not own: processes, actors or builds.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from typing import Any

from warpsmith.records.evaluation import EvalResult
from warpsmith.records.jobs import EvalJob, EvalOutcome, PoolStats


class PoolClosed(RuntimeError):
    """The pool was closed, or stopped on an error it could not recover from (the message says which)."""


class JobBook:
    def __init__(self, max_attempts: int = 2) -> None:
        self.max_attempts = max_attempts
        self.lock = threading.Lock()
        self.waiting: collections.deque[EvalJob] = collections.deque()
        self.outcomes: queue.Queue[EvalOutcome | BaseException] = queue.Queue()
        self._submitted: dict[str, float] = {}
        self._attempts: dict[str, int] = {}
        self._build_s: dict[str, float] = {}
        self.building = 0
        self.done = self.failed = self.recycled = 0
        self.busy_seconds = 0.0

    def add(self, job: EvalJob) -> None:
        with self.lock:
            if job.job_id in self._submitted:
                raise ValueError(f"job_id {job.job_id!r} was already submitted to this pool; give each job its own id")
            self._submitted[job.job_id] = time.monotonic()
            self._attempts[job.job_id] = 0

    def ready(self, job: EvalJob, build_s: float | None = None, front: bool = False) -> None:
        """`job` may run now (after its build, if it had one)."""
        with self.lock:
            if build_s is not None:
                self._build_s[job.job_id] = build_s
            (self.waiting.appendleft if front else self.waiting.append)(job)

    def take(self) -> EvalJob | None:
        with self.lock:
            if not self.waiting:
                return None
            job = self.waiting.popleft()
            self._attempts[job.job_id] += 1
            return job

    def attempts(self, job_id: str) -> int:
        with self.lock:
            return self._attempts.get(job_id, 0)

    def pending(self) -> int:
        with self.lock:
            return len(self._submitted)

    def finish(self, job: EvalJob, answer: dict[str, Any], worker: str) -> None:
        """The worker's answer (runner.run_job) becomes the job's outcome."""
        result = EvalResult.model_validate(answer["result"]) if answer.get("result") is not None else None
        self._emit(job, worker, result=result, error=answer.get("error"), ran_s=float(answer.get("ran_s") or 0.0))

    def fault(self, job: EvalJob, worker: str, why: str, ran_s: float) -> bool:
        """`job`'s worker failed under it (`why`, one line). Re-queued at the front when it has tries
        left (returns True), else its outcome is a failure."""
        with self.lock:
            self.busy_seconds += ran_s
            tries = self._attempts[job.job_id]
        if tries < self.max_attempts:
            self.ready(job, front=True)
            return True
        self._emit(job, worker, result=None, error=f"{why}; gave up after {tries} attempts", ran_s=0.0)
        return False

    def fail(self, job: EvalJob, worker: str, error: str) -> None:
        """`job` cannot run at all (no worker can start, the pool is closing)."""
        self._emit(job, worker, result=None, error=error, ran_s=0.0)

    def _emit(self, job: EvalJob, worker: str, *, result: EvalResult | None, error: str | None, ran_s: float) -> None:
        with self.lock:
            submitted = self._submitted.pop(job.job_id, time.monotonic())
            attempts = max(1, self._attempts.pop(job.job_id, 1))
            build_s = self._build_s.pop(job.job_id, 0.0)
            queued_s = max(0.0, time.monotonic() - submitted - ran_s - build_s)
            self.busy_seconds += ran_s
            if result is None:
                self.failed += 1
            else:
                self.done += 1
        self.outcomes.put(EvalOutcome(job_id=job.job_id, result=result, error=error, attempts=attempts, worker=worker,
                                      queued_s=round(queued_s, 4), ran_s=round(ran_s, 4), build_s=round(build_s, 4)))

    def stats(self, workers: int, busy: int, running_s: float) -> PoolStats:
        with self.lock:
            return PoolStats(workers=workers, busy=busy, queued=len(self.waiting) + self.building, done=self.done,
                             failed=self.failed, recycled=self.recycled, busy_seconds=round(self.busy_seconds + running_s, 4),
                             building=self.building)

    def next_outcome(self, timeout_s: float | None, closed_reason: str | None) -> EvalOutcome | None:
        """The next finished job in completion order; None after `timeout_s` without one. Raises
        PoolClosed once the pool stopped and nothing is left to hand out."""
        try:
            item = self.outcomes.get(timeout=timeout_s) if closed_reason is None else self.outcomes.get_nowait()
        except queue.Empty:
            if closed_reason is not None:
                raise PoolClosed(closed_reason) from None
            return None
        if isinstance(item, BaseException):
            raise item
        return item
