"""One job, evaluated inside a worker (a local worker process or a Ray actor): task in, result out.

Owns: turning an `EvalJob` into one `evaluate(...)` call (the task from tasklib by name or from
the job's task file; the stage, confirm, profile and timeout the job carries) and the worker's
answer: a result, or one line saying why there is none and whether the worker is suspect
(`fault`: it raised inside the evaluator, so the worker is recycled and the job re-queued once).
A job whose task cannot be loaded is the job's fault, not the worker's: no re-queue.

Does not own: which device the worker has (the caller sets CUDA_VISIBLE_DEVICES before this
module's imports of torch run, and passes `device`), queues, retries or workers.
Imports torch (through the evaluator) only inside `run_job`, so importing it is cheap and safe
in a process that must never touch CUDA.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from warpsmith.records.jobs import EvalJob

# A worker that met a sandbox timeout is replaced before its next job: a kernel that hung the GPU
# can leave the worker's own context unusable (the leaked memory and hangs peers report).
RECYCLE_AFTER = frozenset({"timeout"})


def default_timeout_s(device: str) -> float:
    """The evaluator's per-child limit when the job sets none (its own default for the mode)."""
    from warpsmith.evaluator.evaluate import DEFAULT_TIMEOUT_S

    return DEFAULT_TIMEOUT_S["interpreter" if device == "cpu" else "device"]


def one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def run_job(job: EvalJob, device: str) -> dict[str, Any]:
    """Evaluate `job` on `device` ('cpu' or 'cuda': the one GPU this worker sees, as index 0).

    Returns {"job_id", "result": EvalResult as JSON-able dict | None, "error", "fault", "recycle", "ran_s"}."""
    from warpsmith.evaluator.evaluate import evaluate
    from warpsmith.tasklib import TaskFileError, UnknownTaskError, get_task, load_task_file

    started = time.perf_counter()
    answer: dict[str, Any] = {"job_id": job.job_id, "result": None, "error": None, "fault": False,
                              "recycle": False, "ran_s": 0.0}
    try:
        task = load_task_file(job.task_file) if job.task_file else get_task(job.candidate.task)
    except (TaskFileError, UnknownTaskError) as exc:
        answer["error"] = str(exc).splitlines()[0][:300]
        return answer
    try:
        result = evaluate(job.candidate, task, suite=job.suite, device=device, profile=job.profile,  # type: ignore[arg-type]
                          timeout_s=job.timeout_s, task_file=Path(job.task_file) if job.task_file else None,
                          stage=job.stage, gpu_index=0, confirm=job.confirm)
    except Exception as exc:  # noqa: BLE001 - an evaluator or task error: the worker is suspect, say it in one line
        answer.update(error=f"the evaluator raised {one_line(exc)}", fault=True, recycle=True)
    else:
        answer["result"] = result.model_dump(mode="json")
        answer["recycle"] = result.status in RECYCLE_AFTER
    answer["ran_s"] = round(time.perf_counter() - started, 4)
    return answer
