"""`InlinePool`: the simplest real evaluation pool: one background thread, one job at a time.

Owns: running each submitted `EvalJob` with warpsmith.evaluator.evaluate.evaluate in a single
worker thread (the candidate itself runs in the evaluator's sandboxed child process, so a thread
is enough here), handing outcomes back in completion order, and its `PoolStats`. An exception
inside evaluate (not a verdict about the candidate: the evaluator turns those into an EvalResult)
re-queues the job once, then returns it with `result=None` and the error in one line, as the
protocol says. Does not own: several workers, GPU pinning, worker recycling (pool/local.py) or
machines (pool/ray_pool.py). `warpsmith evolve --workers 1` uses it until LocalPool lands.

On a device, this pool's process does get a CUDA context: evaluate() makes a large trial's inputs
and reference on the device in the calling process (evaluator/device_trials.py). Where the pool
process must stay free of CUDA (several GPUs), use LocalPool, whose workers are pinned processes.
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path
from typing import Any

from warpsmith.records.jobs import EvalJob, EvalOutcome, PoolStats

MAX_ATTEMPTS = 2
_STOP = object()
_WARM = object()


class InlinePool:
    """One worker thread evaluating jobs in submission order. Use as a context manager."""

    def __init__(self, *, device: str = "auto", gpu_index: int = 0, name: str = "inline0") -> None:
        self.device, self.gpu_index, self.name = device, gpu_index, name
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._outcomes: queue.Queue[EvalOutcome] = queue.Queue()
        self._lock = threading.Lock()
        self._pending = 0
        self._busy = False
        self._done = self._failed = 0
        self._busy_seconds = 0.0
        self._tasks: dict[tuple[str, str | None], Any] = {}
        self._thread = threading.Thread(target=self._work, name=f"warpsmith-{name}", daemon=True)
        self._closed = False
        self._thread.start()

    # --- the protocol ---------------------------------------------------------------------
    def submit(self, job: EvalJob) -> None:
        if self._closed:
            raise RuntimeError("the pool is closed")
        with self._lock:
            self._pending += 1
        self._jobs.put((job, time.monotonic(), 1))

    def next_outcome(self, timeout_s: float | None = None) -> EvalOutcome | None:
        try:
            outcome = self._outcomes.get(timeout=timeout_s)
        except queue.Empty:
            return None
        with self._lock:
            self._pending -= 1
        return outcome

    def pending(self) -> int:
        with self._lock:
            return self._pending

    def stats(self) -> PoolStats:
        with self._lock:
            return PoolStats(workers=1, busy=int(self._busy), queued=self._jobs.qsize(), done=self._done,
                             failed=self._failed, recycled=0, busy_seconds=self._busy_seconds)

    def wait_ready(self, timeout_s: float = 300.0) -> bool:
        """Warm this process up (pool.warmup: the sandbox's warm fork server, the evaluator's caches) in
        the worker thread, before any job queued after it, and wait up to `timeout_s` for it: the same
        start-up a LocalPool worker pays before it says ready, so a benchmark times both alike."""
        done = threading.Event()
        self._jobs.put((_WARM, done, 0))
        return done.wait(timeout_s)

    def close(self) -> None:
        """Stop after the job in hand (jobs still queued are dropped: their outcomes never come)."""
        if self._closed:
            return
        self._closed = True
        while True:  # drop what has not started: close means stop
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                break
        self._jobs.put(_STOP)
        self._thread.join(timeout=600)

    def __enter__(self) -> InlinePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the worker -----------------------------------------------------------------------
    def _task(self, job: EvalJob) -> Any:
        key = (job.candidate.task, job.task_file)
        if key not in self._tasks:
            from warpsmith.tasklib import get_task, load_task_file

            self._tasks[key] = load_task_file(job.task_file) if job.task_file else get_task(job.candidate.task)
        return self._tasks[key]

    def _run(self, job: EvalJob) -> Any:
        from warpsmith.evaluator.evaluate import evaluate

        return evaluate(
            job.candidate, self._task(job), suite=job.suite, device=self.device,  # type: ignore[arg-type]
            profile=job.profile, timeout_s=job.timeout_s,
            task_file=Path(job.task_file) if job.task_file else None,
            stage=job.stage, gpu_index=self.gpu_index, confirm=job.confirm,
        )

    def _work(self) -> None:
        while True:
            item = self._jobs.get()
            if item is _STOP:
                return
            job, queued_at, attempt = item
            if job is _WARM:
                from warpsmith.pool.devices import visible_gpus
                from warpsmith.pool.warmup import warm_up

                warm_up("cpu" if self.device == "cpu" or (self.device == "auto" and not visible_gpus()) else "cuda")
                queued_at.set()
                continue
            started = time.monotonic()
            with self._lock:
                self._busy = True
            try:
                result, error = self._run(job), None
            except Exception as exc:  # the evaluator's own fault, not a verdict: retried once
                result, error = None, f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500]
            ran = time.monotonic() - started
            with self._lock:
                self._busy = False
                self._busy_seconds += ran
            if error is not None and attempt < MAX_ATTEMPTS and not self._closed:
                self._jobs.put((job, queued_at, attempt + 1))
                continue
            with self._lock:
                self._done += 1
                self._failed += int(result is None)
            self._outcomes.put(EvalOutcome(job_id=job.job_id, result=result, error=error, attempts=attempt,
                                           worker=self.name, queued_s=started - queued_at, ran_s=ran))
