"""What the trusted parent decides from its own view of a finished child, never from the child's word.

Owns: the byte quota of one batch's work folder (`batch_quota`, checked by `quota_problem` after
the child is gone, before anything in it is read), the cap on each file read back
(`file_cap`), judging under a wall-clock limit (`judge_bounded`, `JUDGE_LIMIT_S`), the status of a failure the child reported (`error_status`: compile_error only
when the parent itself cannot compile the candidate's text). Does not own: reading the files (tensors_io.py), walking
the folder (warpsmith.sandbox.workdir) or the verdicts on outputs (correctness.py).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch

from warpsmith.evaluator import tensors_io
from warpsmith.records.evaluation import Violation
from warpsmith.sandbox.deadline import DeadlineExceeded, call_with_deadline
from warpsmith.sandbox.workdir import usage
from warpsmith.tasklib.base import Task

JUDGE_LIMIT_S = 300.0  # the parent's judging of one batch; past it the verdict is `rejected`
WORKDIR_SLACK = 128 << 20  # the candidate file, caches (Triton's compile cache on a device), the report
TIMED_COPIES = 8  # timed-output files per timed shape the quota allows for, each at most the shape's traffic
FILE_SLACK = 1 << 20  # torch.save's zip and pickle framing around a trial's tensors


def batch_quota(batch_bytes: int, task: Task, timed_shapes: list, with_timing: bool) -> int:
    """Bytes a batch's work folder may hold when its child is done: the trial files the parent
    planned (inputs and their outputs), the timed outputs bounded by each timed shape's memory
    traffic, and a fixed slack. The child's RLIMIT_FSIZE is the same number."""
    timed = sum(TIMED_COPIES * task.cost(shape).bytes for shape in timed_shapes) if with_timing else 0
    return batch_bytes + timed + WORKDIR_SLACK


def quota_problem(workdir: Any, quota: int, stopped_over: bool = False) -> str | None:
    """Why the folder may not be read (over the quota while the child ran, so the sandbox stopped
    it, or now; or too odd to measure), or None."""
    found = usage(workdir, cap=quota)
    if stopped_over or found.bytes > quota:
        return f"the work folder holds more than its quota of {quota} bytes"
    if not found.complete:
        return f"the work folder could not be measured ({found.entries} entries)"
    return None


def file_cap(name: str, expected: dict[int, tuple[Any, Any]], quota: int) -> int:
    """The most bytes the file `name` may hold: a trial file exactly what its trial's outputs and
    inputs-after-call need (plus framing); any other file no more than the folder's quota."""
    stem = name.removeprefix("outputs_").removesuffix(".pt")
    if name.startswith("outputs_") and stem.isdigit() and int(stem) in expected:
        inputs, reference = expected[int(stem)]
        return 2 * (tensors_io.nbytes(list(inputs)) + tensors_io.nbytes(list(reference))) + FILE_SLACK
    return quota


def error_status(language: str, source: str) -> str:
    """compile_error when the parent itself cannot compile the candidate's Python text; anything
    else the child reports (its message is the candidate's word) is a runtime_error. A native
    build failure is decided earlier, by the parent's own build."""
    if language != "triton":
        return "runtime_error"
    try:
        compile(source, "candidate.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return "compile_error"
    return "runtime_error"


def judge_bounded(run: Any, judge: Callable[[Any], Any]) -> Any:
    """`judge(run)` under JUDGE_LIMIT_S, on a scratch copy of the evaluation's `run` (and its
    result) that is adopted only when judging returns in time: an abandoned judge thread changes
    nothing the caller returns. Past the limit the verdict is `rejected`."""
    scratch = copy.copy(run)
    scratch.result = run.result.model_copy(deep=True)
    scratch.durations = scratch.result.durations_s
    limit = JUDGE_LIMIT_S
    # Thread-local torch state the judge must share with the caller: grad mode and the CUDA device.
    grad = torch.is_grad_enabled()
    device = torch.cuda.current_device() if torch.cuda.is_available() and torch.cuda.is_initialized() else None

    def work() -> Any:
        torch.set_grad_enabled(grad)
        if device is not None:
            torch.cuda.set_device(device)
        return judge(scratch)

    try:
        verdict = call_with_deadline(work, limit)
    except DeadlineExceeded:
        run.result.violations.append(Violation(rule="judging-deadline", message=f"judging exceeded {limit:g} s"))
        return "rejected", f"judging exceeded {limit:g} s"
    for field in type(run.result).model_fields:
        setattr(run.result, field, getattr(scratch.result, field))
    vars(run).update({k: v for k, v in vars(scratch).items() if k not in ("result", "durations")})
    run.durations = run.result.durations_s
    return verdict
