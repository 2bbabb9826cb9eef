"""Correctness in the trusted parent: which trials to run, and judging what the child wrote back.

Owns: the trial plan (shapes x seeds x value distributions: every check shape under every
distribution, every seed offset by a secret drawn per evaluation so a candidate cannot precompute
answers), and the verification of
one trial's file: outputs are exactly `torch.Tensor`, the right count, dtype, shape and
device; they do not live in an input's storage or in the previous call's; the inputs are
bitwise unchanged after each call; and the task's checker passes on the outputs of BOTH
poisoned calls (an output that is only right when uninitialised memory happens to hold a
lucky pattern fails the second). Does not own: running anything (child.py) or the task's
tolerance rules (task.check).

Outputs of the two calls are not required to be bitwise identical: the tasks allow free
order within an expert (atomics) and leave rows past the last expert unchecked, so each
call is judged against the parent's reference on its own instead.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel

from warpsmith.evaluator import tensors_io
from warpsmith.records.evaluation import Mode, ShapeCorrectness, Violation
from warpsmith.tasklib.base import DISTRIBUTIONS, Shape, Task

# In interpreter mode bench shapes are far too slow, so the small shapes get extra random trials.
EXTRA_SMALL_SHAPE_TRIALS = 3
SEED_STRIDE = 7919  # keeps trial seeds of different shapes apart


class Trial(BaseModel):
    id: int
    suite: str
    shape: Shape
    seed: int
    distribution: str


def plan_trials(task: Task, suite: str, mode: Mode, secret: int) -> list[Trial]:
    """Every shape of the suite (smoke, check: smoke + check, bench: + 5 trials per bench shape on a
    device); in interpreter mode and for the smoke suite the smoke shapes get extra trials.

    Every check shape runs once per value distribution: what a trial exercises is fixed by the plan,
    and the secret only chooses the values (no seed leaves a distribution untried on a shape)."""
    groups: list[tuple[str, Shape, int]] = [(s, shape, 1) for s in ("smoke",) for shape in task.shapes("smoke")]
    if suite in ("check", "bench"):
        groups += [("check", shape, len(DISTRIBUTIONS)) for shape in task.shapes("check")]
    if suite == "bench" and mode == "device":
        groups += [("bench", shape, max(5, len(task.trial_seeds))) for shape in task.shapes("bench")]
    if mode == "interpreter" or suite == "smoke":
        groups = [(s, shape, n + EXTRA_SMALL_SHAPE_TRIALS if s == "smoke" else n) for s, shape, n in groups]
    trials: list[Trial] = []
    for shape_index, (source, shape, count) in enumerate(groups):
        for j in range(count):
            base = task.trial_seeds[j % len(task.trial_seeds)] + j // len(task.trial_seeds) * 101
            seed = (secret + shape_index * SEED_STRIDE + base) % (2**31)
            distribution = DISTRIBUTIONS[(shape_index + j) % len(DISTRIBUTIONS)]
            trials.append(Trial(id=len(trials), suite=source, shape=shape, seed=seed, distribution=distribution))
    return trials


def _reject(rule: str, message: str) -> Violation:
    return Violation(rule=rule, message=message, severity="reject")


def _record(trial: Trial, ok: bool, details: str, **errors: Any) -> ShapeCorrectness:
    return ShapeCorrectness(shape=trial.shape.label, trial=trial.id, distribution=trial.distribution, ok=ok,
                            details=details, **errors)


def verify_trial(
    task: Task, trial: Trial, inputs: tuple[Any, ...], expected: tuple[torch.Tensor, ...], saved: dict
) -> tuple[ShapeCorrectness, list[Violation]]:
    """Judge one trial's file; the first failing property decides the record's details."""
    violations: list[Violation] = []
    where = f"{trial.shape.label} (trial {trial.id})"
    for tag, poison in (("a", "0xFF"), ("b", "0x7F")):
        outputs, args_after = saved[f"out_{tag}"], saved[f"args_after_{tag}"]
        for name, before, after in zip(task.input_names, inputs, args_after, strict=True):
            if not tensors_io.values_equal(before, after):
                violations.append(_reject("input-mutated", f"kernel() modified input {name!r} on {where}"))
        device_type = expected[0].device.type if expected else "cpu"
        for i, out in enumerate(outputs):
            if isinstance(out, str) or type(out) is not torch.Tensor:
                kind = out.removeprefix(tensors_io.NOT_A_TENSOR) if isinstance(out, str) else type(out).__name__
                violations.append(_reject("output-not-plain-tensor", f"output {i} is a {kind}, not a torch.Tensor"))
            elif (odd := tensors_io.layout_problem(out, device_type)) is not None:
                violations.append(_reject("output-not-plain-tensor", f"output {i} is {odd} on {where}"))
            elif tensors_io.shares_storage(out, args_after):
                violations.append(_reject("output-aliases-input", f"output {i} shares memory with an input on {where}"))
            elif tag == "b" and tensors_io.shares_storage(out, list(saved["out_a"])):
                violations.append(_reject(
                    "output-reused-across-calls", f"output {i} of the second call is the first call's memory on {where}"
                ))
        if violations:
            return _record(trial, False, violations[0].message), violations
        problem = _structure_problem(task, outputs, expected)
        if problem:
            return _record(trial, False, f"call {tag}: {problem}", first_mismatch=problem), []
        report = task.check(inputs, tuple(outputs), expected)
        if not report.ok:
            details = report.details or "outputs differ from the reference"
            if tag == "b":
                details = f"second call (fresh allocations poisoned with {poison}) is wrong: uninitialised output? {details}"
            return _record(trial, False, details, max_abs_err=report.max_abs_err, max_rel_err=report.max_rel_err,
                           first_mismatch=report.first_mismatch), []
        last_report = report
    return _record(trial, True, "", max_abs_err=last_report.max_abs_err, max_rel_err=last_report.max_rel_err), []


def _structure_problem(task: Task, outputs: list, expected: tuple[torch.Tensor, ...]) -> str | None:
    if len(outputs) != len(expected):
        return f"returned {len(outputs)} outputs, expected {len(expected)} ({', '.join(task.output_names)})"
    for name, out, ref in zip(task.output_names, outputs, expected, strict=True):
        if out.dtype != ref.dtype:
            return f"{name}: dtype {out.dtype}, expected {ref.dtype}"
        if out.shape != ref.shape:
            return f"{name}: shape {tuple(out.shape)}, expected {tuple(ref.shape)}"
    return None


def verify_outputs(task: Task, inputs: tuple[Any, ...], outputs: list, expected: tuple[torch.Tensor, ...]) -> str | None:
    """Re-check outputs of a timed call; None when they pass, else why not."""
    if any(type(o) is not torch.Tensor for o in outputs):
        return "a timed call returned something that is not a torch.Tensor"
    device_type = expected[0].device.type if expected else "cpu"
    for odd in (tensors_io.layout_problem(o, device_type) for o in outputs):
        if odd:
            return f"a timed call returned {odd}"
    problem = _structure_problem(task, outputs, expected)
    if problem:
        return problem
    report = task.check(inputs, tuple(outputs), expected)
    return None if report.ok else (report.details or report.first_mismatch or "differs from the reference")
