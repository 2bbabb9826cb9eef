"""The one interface every evaluation pool offers (local processes or Ray actors).

Owns: `EvaluationPool`. Does not own: the records it moves (warpsmith.records.jobs) or any
backend (pool/local.py, pool/ray_pool.py, ...).
"""

from __future__ import annotations

from typing import Protocol

from warpsmith.records.jobs import EvalJob, EvalOutcome, PoolStats


class EvaluationPool(Protocol):
    """Submit jobs, collect outcomes as they finish (in completion order), close when done.

    `next_outcome(timeout_s)` returns None when nothing finished within the timeout;
    `pending()` counts jobs submitted and not yet returned. A pool is a context manager:
    leaving it stops every worker, even after an exception."""

    def submit(self, job: EvalJob) -> None: ...

    def next_outcome(self, timeout_s: float | None = None) -> EvalOutcome | None: ...

    def pending(self) -> int: ...

    def stats(self) -> PoolStats: ...

    def close(self) -> None: ...

    def __enter__(self) -> EvaluationPool: ...

    def __exit__(self, *exc: object) -> None: ...
