"""`LocalPool`: evaluations in parallel on this machine, one worker process per GPU (or N CPU
workers in interpreter mode), native builds on a CPU build pool, faults survived.

Owns: the dispatcher (one background thread): it starts and replaces workers, hands each idle
worker one job at a time (a GPU worker's job is its exclusive lease of that GPU: builds happen
elsewhere, so the lease is spent timing), reads answers in completion order, and enforces the
pool's deadline per job: the job's timeout (or the evaluator's default) twice, plus `margin_s`
(the evaluator's own sandbox limit fires first for a hanging candidate; the deadline catches a
worker that hangs itself). A worker that dies, hangs past the deadline or raises is killed with
its process group and replaced, and its job re-queued once (JobBook); a worker that met a
sandbox timeout is replaced after answering. A worker slot that fails to start `start_failures`
times in a row is disabled with its one-line reason; with none left, jobs fail with that line.

Workers warm up before they say ready (pool/warmup.py); `wait_ready()` waits for all of them,
so a caller can keep start-up out of what it times. `close()` sends every idle worker EOF first
and then reaps them, so they end together.

The pool's own process never imports torch (devices are counted with nvidia-smi, builds call
the toolchain directly), so it never creates a CUDA context. `close()` (also on leaving a `with`
block, even on an exception) stops every worker and reaps it; jobs still pending then get no
outcome (`pending()` says how many). Does not own: a worker's inside (worker.py, runner.py).
"""

from __future__ import annotations

import atexit
import os
import select
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from warpsmith.pool.builds import BuildPool, needs_build
from warpsmith.pool.devices import visible_gpus
from warpsmith.pool.dispatch import CLOSED, DispatchedPool
from warpsmith.pool.worker_process import WorkerProcess
from warpsmith.records.jobs import EvalJob, PoolStats

DEADLINE_FACTOR = 2.0  # an evaluation may run several sandboxed children, each under the job's timeout
TICK_S = 0.5


@dataclass
class _Slot:
    name: str
    gpu: str | None
    worker: WorkerProcess | None = None
    start_failures: int = 0
    disabled: str | None = None


class LocalPool(DispatchedPool):
    """`LocalPool(workers=N, gpus=[...])`: `gpus=None` uses every GPU this process may see (one
    worker each; `workers` keeps the first N), `gpus=[]` forces CPU workers (`workers` of them,
    default one per core). A job's deadline is `deadline_factor` x its timeout + `margin_s`."""

    kind = "local"

    def __init__(self, workers: int | None = None, gpus: list[int | str] | None = None, *,
                 build_workers: int | None = None, margin_s: float = 120.0, deadline_factor: float = DEADLINE_FACTOR,
                 max_attempts: int = 2, start_failures: int = 3) -> None:
        gpu_ids = visible_gpus() if gpus is None else [str(g) for g in gpus]
        if gpu_ids:
            self._slots = [_Slot(f"gpu{i}", gpu) for i, gpu in enumerate(gpu_ids[:workers] if workers else gpu_ids)]
        else:
            self._slots = [_Slot(f"cpu{i}", None) for i in range(max(1, workers or os.cpu_count() or 1))]
        self.margin_s, self.deadline_factor, self.start_failures = margin_s, deadline_factor, start_failures
        super().__init__(max_attempts)
        self._builds = BuildPool(build_workers)
        self._log_dir = Path(tempfile.mkdtemp(prefix="warpsmith-pool-"))
        self._wake_r, self._wake_w = os.pipe()
        self._default_timeout: dict[str, float] = {}
        for slot in self._slots:
            self._start(slot)
        self._thread.start()
        atexit.register(self.close)

    # ---- the interface (pool.protocol.EvaluationPool; the rest is DispatchedPool's) ----
    def _accept(self, job: EvalJob) -> None:
        if needs_build(job):
            with self._book.lock:
                self._book.building += 1
            self._builds.submit(job, self._built)
        else:
            self._book.ready(job)
        self._wake()

    def stats(self) -> PoolStats:
        now = time.monotonic()
        workers = [s.worker for s in self._slots if s.worker is not None]
        busy = [w for w in workers if w.job is not None]
        return self._book.stats(workers=sum(1 for s in self._slots if not s.disabled), busy=len(busy),
                                running_s=sum(now - w.job_started for w in busy))

    def _shutdown(self) -> None:
        atexit.unregister(self.close)
        os.write(self._wake_w, b"x")  # the dispatcher stops now rather than at its next tick
        self._thread.join(timeout=30)
        self._builds.close()
        for slot in self._slots:  # every idle worker hears EOF first, so they all end at the same time
            if slot.worker is not None and slot.worker.job is None:
                slot.worker.request_stop()
        for slot in self._slots:
            if slot.worker is not None:
                # a busy worker is killed at once; an idle one ends on EOF (its warm sandbox servers with it)
                slot.worker.stop(grace_s=0.0 if slot.worker.job is not None else 5.0)
                slot.worker = None
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)
        shutil.rmtree(self._log_dir, ignore_errors=True)

    def wait_ready(self, timeout_s: float = 300.0) -> bool:
        """Block until every worker slot that is not disabled has a ready (imported, warmed) worker, or
        `timeout_s` passed; whether they all are. For benchmarks and callers that keep start-up out
        of what they time; jobs submitted earlier simply wait for their worker."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self._closed_reason is None:
            live = [s for s in self._slots if s.disabled is None]
            if live and all(s.worker is not None and s.worker.ready for s in live):
                return True
            time.sleep(0.05)
        return False

    def worker_pids(self) -> dict[str, int]:
        """The live workers' process ids by name (for diagnostics and fault tests)."""
        return {s.name: s.worker.pid for s in self._slots if s.worker is not None and s.worker.proc.poll() is None}

    def busy_workers(self) -> dict[str, str]:
        """Worker name -> the job id it is evaluating now."""
        return {s.name: s.worker.job.job_id for s in self._slots if s.worker is not None and s.worker.job is not None}

    # ---- the dispatcher thread ----
    def _wake(self) -> None:
        if self._closed_reason == CLOSED:  # its pipe may be closed, and the fd reused
            return
        try:
            os.write(self._wake_w, b"x")
        except OSError:  # closed: nothing is waiting any more
            pass

    def _built(self, job: EvalJob, seconds: float) -> None:
        with self._book.lock:
            self._book.building -= 1
        self._book.ready(job, build_s=seconds)
        self._wake()

    def _start(self, slot: _Slot) -> None:
        # each worker's share of the cores for its own torch work (inputs, references, judging)
        threads = max(1, (os.cpu_count() or 1) // len(self._slots))
        slot.worker = WorkerProcess(slot.name, slot.gpu, self._log_dir, threads=threads)

    def _tick(self) -> None:
        for slot in self._slots:
            if slot.worker is None and slot.disabled is None:
                self._start(slot)
        self._dispatch()
        live = {s.worker.fileno(): s for s in self._slots if s.worker is not None}
        deadlines = [s.worker.deadline for s in live.values() if s.worker is not None and s.worker.job is not None]
        timeout = max(0.0, min([TICK_S, *(d - time.monotonic() for d in deadlines)]))
        readable, _, _ = select.select([self._wake_r, *live], [], [], timeout)
        for fd in readable:
            if fd == self._wake_r:
                os.read(self._wake_r, 4096)
            else:
                self._on_readable(live[fd])
        now = time.monotonic()
        for slot in self._slots:
            worker = slot.worker
            if worker is not None and worker.job is not None and now > worker.deadline:
                limit = worker.deadline - worker.job_started
                self._on_fault(slot, f"worker {slot.name} passed the pool's deadline of {limit:.0f} s and was killed")
        if all(s.disabled for s in self._slots):
            reason = "; ".join(sorted({s.disabled or "" for s in self._slots}))
            while (job := self._book.take()) is not None:
                self._book.fail(job, "", reason)

    def _dispatch(self) -> None:
        for slot in self._slots:
            worker = slot.worker
            if worker is None or not worker.ready or worker.job is not None or worker.proc.poll() is not None:
                continue
            job = self._book.take()
            if job is None:
                return
            timeout = job.timeout_s or self._default_timeout.get(worker.device, 600.0)
            try:
                worker.send(job, self.deadline_factor * timeout + self.margin_s)
            except OSError:  # it died between its last answer and this job: a fault like any other
                self._on_death(slot)

    def _on_readable(self, slot: _Slot) -> None:
        worker = slot.worker
        assert worker is not None
        messages, ended = worker.read()
        for message in messages:
            if message.get("ready"):
                worker.ready, slot.start_failures = True, 0
                self._default_timeout[worker.device] = float(message.get("default_timeout_s") or 600.0)
            elif worker.job is not None and message.get("job_id") == worker.job.job_id:
                if message.get("fault"):
                    self._on_fault(slot, f"worker {slot.name}: {message.get('error')}")
                    return
                job, ran_s = worker.job, time.monotonic() - worker.job_started
                worker.job = None
                message["ran_s"] = ran_s  # the parent's clock, dispatch to answer
                self._book.finish(job, message, slot.name)
            else:  # a line that is not ours to expect: the worker is not to be trusted with more work
                self._on_fault(slot, f"worker {slot.name} wrote an unexpected message: {str(message)[:120]}")
                return
        if ended:
            self._on_death(slot)

    def _on_death(self, slot: _Slot) -> None:
        worker = slot.worker
        assert worker is not None
        worker.reap()
        if worker.job is not None:
            self._on_fault(slot, f"worker {slot.name} died mid-evaluation ({worker.ending()}; {worker.last_log_line()})")
            return
        slot.worker = None
        if worker.ready:  # ended after answering, as asked (a recycle after a sandbox timeout)
            with self._book.lock:
                self._book.recycled += 1
            return
        slot.start_failures += 1
        if slot.start_failures >= self.start_failures:
            slot.disabled = (f"worker {slot.name} could not start ({worker.ending()}, {slot.start_failures} tries): "
                             f"{worker.last_log_line() or 'no output'}")

    def _on_fault(self, slot: _Slot, why: str) -> None:
        """Kill and replace `slot`'s worker; its job (if it had one) is re-queued once, then recorded as failed."""
        worker = slot.worker
        assert worker is not None
        job, ran_s = worker.job, time.monotonic() - worker.job_started
        worker.job = None
        worker.kill()
        slot.worker = None
        with self._book.lock:
            self._book.recycled += 1
        if job is not None:
            self._book.fault(job, slot.name, why, ran_s)
