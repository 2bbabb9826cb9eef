"""The pool's records: an evaluation job in, its outcome out, and how busy the pool is.

Owns: `EvalJob`, `EvalOutcome`, `PoolStats`. Does not own: how jobs are run (warpsmith.pool)
or what is done with outcomes (warpsmith.search, the single writer of a run).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from warpsmith.records.evaluation import Candidate, EvalResult
from warpsmith.records.tasks import TaskSpec

Stage = Literal["screen", "full"]


class EvalJob(BaseModel):
    """One candidate to evaluate on one task; `job_id` is unique within a pool's life."""

    job_id: str
    candidate: Candidate
    suite: str = "bench"
    stage: Stage = "full"
    confirm: bool = Field(default=False, description="A confirming re-evaluation of a suspicious speedup.")
    profile: bool = False
    timeout_s: float | None = None
    task_file: str | None = Field(default=None, description="A task defined by a file instead of a built-in name.")
    task_spec: TaskSpec | None = Field(default=None, description="The task as data (any kind: built-in, file, "
                                       "KernelBench, FlashInfer-Trace); a worker rebuilds it with task_from_spec.")


class EvalOutcome(BaseModel):
    """What came back for one job: a result, or why none could be had after `attempts` tries.

    A worker that dies or times out is recycled and its job re-queued once; a job that fails
    twice comes back with `result=None` and `error` saying what happened."""

    job_id: str
    result: EvalResult | None = None
    error: str | None = None
    attempts: int = 1
    worker: str = Field(default="", description="Which worker ran it, e.g. 'gpu0', 'cpu1', 'ray:node-3/gpu0'.")
    queued_s: float = 0.0
    ran_s: float = 0.0
    build_s: float = Field(default=0.0, description="Seconds its native build took on the pool's CPU build workers.")


class PoolStats(BaseModel):
    """A snapshot for progress display and the busy-fraction benchmark."""

    workers: int
    busy: int
    queued: int
    done: int
    failed: int
    recycled: int = Field(default=0, description="Workers replaced after a fault or a timeout.")
    busy_seconds: float = Field(default=0.0, description="Sum over workers of time spent evaluating.")
    building: int = Field(default=0, description="Native builds in flight on the CPU build pool (counted in queued too).")
