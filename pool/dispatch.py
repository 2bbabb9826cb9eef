"""What the threaded pool backends (LocalPool, RayPool) share: the job book, the dispatcher thread's
life, the way a pool closes, and the interface calls that only hand work to the book.

Owns: `DispatchedPool`, their base: `submit` (refused once closed; the backend's `_accept` then
queues the job, or builds it first), `next_outcome`, `pending`, the context manager, `close`'s
guard (the first call closes, later ones return; the backend's `_shutdown` then stops its workers)
and the dispatcher thread, which calls the backend's `_tick` until the pool closes: an exception it
raises stops the pool, and `next_outcome` raises PoolClosed with that one line once nothing is left
to hand out. Does not own: workers, actors, dispatch (`_tick`), `stats`, or the book's rules (book.py).
"""

from __future__ import annotations

import threading
from typing import ClassVar, Self

from warpsmith.pool.book import JobBook, PoolClosed
from warpsmith.pool.runner import one_line
from warpsmith.records.jobs import EvalJob, EvalOutcome

CLOSED = "the pool is closed"


class DispatchedPool:
    kind: ClassVar[str]  # names the pool in the line it stops with, and its thread

    def __init__(self, max_attempts: int) -> None:
        self._book = JobBook(max_attempts)
        self._closed_reason: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"warpsmith-{self.kind.lower()}-pool", daemon=True)

    # ---- the interface (pool.protocol.EvaluationPool); stats() is the backend's ----
    def submit(self, job: EvalJob) -> None:
        if self._closed_reason is not None:
            raise PoolClosed(self._closed_reason)
        self._book.add(job)
        self._accept(job)

    def next_outcome(self, timeout_s: float | None = None) -> EvalOutcome | None:
        return self._book.next_outcome(timeout_s, self._closed_reason)

    def pending(self) -> int:
        return self._book.pending()

    def close(self) -> None:
        if self._closed_reason == CLOSED:
            return
        self._closed_reason = CLOSED
        self._stop.set()
        self._shutdown()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- what a backend provides ----
    def _accept(self, job: EvalJob) -> None:
        """`job` was booked: make it ready to dispatch (now, or after its build)."""
        raise NotImplementedError

    def _tick(self) -> None:
        """One round of the dispatcher: hand out jobs, collect answers, enforce deadlines."""
        raise NotImplementedError

    def _shutdown(self) -> None:
        """After the first `close()`: stop the dispatcher thread and every worker."""
        raise NotImplementedError

    # ---- the dispatcher thread ----
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._tick()
        except BaseException as exc:  # noqa: BLE001 - the caller hears it as one line from next_outcome
            reason = f"the {self.kind} pool stopped: {one_line(exc)}"
            self._closed_reason = reason
            self._book.outcomes.put(PoolClosed(reason))
