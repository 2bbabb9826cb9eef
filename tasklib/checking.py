"""Comparisons shared by the tasks' checkers: output structure, dtype-aware allclose, exact equality.

Owns: the default tolerances (fp32 1e-4, fp16/bf16 1e-2, fp8 5e-2, used as both atol and rtol),
the rules that NaN in an output never passes and that infinities compare as values (an output
holds +-inf exactly where the reference does, with the same sign), and turning a mismatch into a `CheckReport`
that says where it first differs. Does not own: task-specific rules (order-free MoE checks live
in each task) or the evaluator's own output-type checks. Nothing here raises on a malformed
output: a wrong count, type, shape or dtype is a failed report with a one-line reason.
"""

from __future__ import annotations

from typing import Any

import torch

from warpsmith.tasklib.base import CheckReport

TOLERANCES: dict[torch.dtype, float] = {
    torch.float64: 1e-6,
    torch.float32: 1e-4,
    torch.float16: 1e-2,
    torch.bfloat16: 1e-2,
    torch.float8_e4m3fn: 5e-2,
    torch.float8_e5m2: 5e-2,
}


def tolerance_for(dtype: torch.dtype) -> float:
    """The default atol = rtol for outputs of `dtype`; integer and bool outputs compare exactly."""
    if not dtype.is_floating_point:
        return 0.0
    if dtype not in TOLERANCES:
        raise ValueError(f"no default tolerance for {dtype}")
    return TOLERANCES[dtype]


def as_outputs(outputs: Any) -> tuple[Any, ...]:
    """A kernel's return value as a tuple (a single tensor counts as one output)."""
    return tuple(outputs) if isinstance(outputs, (tuple, list)) else (outputs,)


def structure_problem(outputs: Any, expected: tuple[torch.Tensor, ...], names: tuple[str, ...]) -> str | None:
    """Why `outputs` cannot be compared with `expected` (count, type, shape, dtype), or None."""
    got = as_outputs(outputs)
    if len(got) != len(expected):
        return f"expected {len(expected)} outputs ({', '.join(names)}), got {len(got)}"
    for name, out, exp in zip(names, got, expected, strict=False):
        if not isinstance(out, torch.Tensor):
            return f"{name}: expected a torch.Tensor, got {type(out).__name__}"
        if tuple(out.shape) != tuple(exp.shape):
            return f"{name}: shape {tuple(out.shape)}, expected {tuple(exp.shape)}"
        if out.dtype != exp.dtype:
            return f"{name}: dtype {out.dtype}, expected {exp.dtype}"
    return None


def _index_text(flat_index: int, shape: torch.Size) -> str:
    coords = []
    for size in reversed(shape):
        coords.append(flat_index % size if size else 0)
        flat_index //= max(size, 1)
    return "[" + ", ".join(str(c) for c in reversed(coords)) + "]"


def allclose_report(
    name: str, actual: torch.Tensor, expected: torch.Tensor, tol: float | None = None
) -> CheckReport:
    """|actual - expected| <= tol + tol * |expected| where expected is finite; where it is +-inf, actual
    must be that same infinity (infinities are values: a finite number there fails). NaN never passes."""
    tol = tolerance_for(expected.dtype) if tol is None else tol
    # float32 arithmetic is exact enough for every tolerance here and halves the memory of float64
    work = torch.float32 if expected.dtype.is_floating_point and expected.dtype != torch.float64 else torch.float64
    act = actual.to(expected.device, work)
    exp = expected.to(work)
    diff = (act - exp).abs()
    infinite = torch.isinf(exp)
    # tol * |inf| is inf, so the tolerance test alone would pass any finite value where inf is expected
    close = torch.where(infinite, act == exp, diff <= tol + tol * exp.abs())
    bad = ~close | torch.isnan(act) | (torch.isinf(act) & ~infinite)
    finite = torch.isfinite(diff)
    max_abs = float(diff[finite].max()) if bool(finite.any()) else None
    rel = diff / exp.abs().clamp_min(tol)
    max_rel = float(rel[finite].max()) if bool(finite.any()) else None
    if not bool(bad.any()):
        return CheckReport(ok=True, max_abs_err=max_abs, max_rel_err=max_rel)
    first = int(bad.flatten().nonzero()[0])
    where = _index_text(first, actual.shape)
    mismatch = f"{name}{where}: got {act.flatten()[first].item()!r}, expected {exp.flatten()[first].item()!r}"
    details = (f"{int(bad.sum())} of {bad.numel()} elements of {name} outside atol=rtol={tol} "
               "(NaN never passes; +-inf only where the reference holds it)")
    return CheckReport(ok=False, max_abs_err=max_abs, max_rel_err=max_rel, first_mismatch=mismatch, details=details)


def exact_mismatch(name: str, actual: torch.Tensor, expected: torch.Tensor) -> str | None:
    """Where an integer (or bitwise) comparison first differs, or None when equal."""
    act = actual.to(expected.device)
    if tuple(act.shape) != tuple(expected.shape):
        return f"{name}: shape {tuple(act.shape)}, expected {tuple(expected.shape)}"
    differs = act.long() != expected.long()
    if not bool(differs.any()):
        return None
    first = int(differs.flatten().nonzero()[0])
    return (
        f"{name}{_index_text(first, act.shape)}: got {act.flatten()[first].item()}, "
        f"expected {expected.flatten()[first].item()} ({int(differs.sum())} differ)"
    )


def bitwise_mismatch(name: str, actual: torch.Tensor, expected: torch.Tensor) -> str | None:
    """Where two same-dtype tensors first differ bit for bit (NaN payloads and -0.0 included)."""
    act = actual.to(expected.device).contiguous()
    exp = expected.contiguous()
    if act.numel() == 0:
        return None
    row_bytes = act.reshape(act.shape[0], -1).view(torch.uint8)
    exp_bytes = exp.reshape(exp.shape[0], -1).view(torch.uint8)
    differs = (row_bytes != exp_bytes).any(dim=1)
    if not bool(differs.any()):
        return None
    row = int(differs.nonzero()[0])
    return f"{name}[{row}] differs from the row it should hold ({int(differs.sum())} rows differ)"


def allclose_outputs(
    names: tuple[str, ...], outputs: Any, expected: tuple[torch.Tensor, ...], tol: float | None = None
) -> CheckReport:
    """Every output allclose to its expected tensor (dtype's tolerance unless `tol`); the first failure wins."""
    if (problem := structure_problem(outputs, expected, names)) is not None:
        return failed(problem)
    reports = [allclose_report(n, o, e, tol) for n, o, e in zip(names, as_outputs(outputs), expected, strict=True)]
    if (bad := next((r for r in reports if not r.ok), None)) is not None:
        return bad
    abs_errs = [r.max_abs_err for r in reports if r.max_abs_err is not None]
    rel_errs = [r.max_rel_err for r in reports if r.max_rel_err is not None]
    return CheckReport(ok=True, max_abs_err=max(abs_errs, default=None), max_rel_err=max(rel_errs, default=None))


def failed(first_mismatch: str, details: str = "") -> CheckReport:
    return CheckReport(ok=False, first_mismatch=first_mismatch, details=details or first_mismatch)


class ElementwiseChecked:
    """The checker of a task whose outputs compare element by element under one `tolerance` (None: the
    dtype's default): the whole outputs (`check`) or a sample of one output's elements, flat and in the
    same order (`check_sampled`: large trials are judged this way, evaluator/device_trials.py). Mixed
    into tasks made from data (KernelBench, FlashInfer-Trace) ahead of `Task`."""

    output_names: tuple[str, ...]
    tolerance: float | None

    def check(self, inputs: tuple[Any, ...], outputs: tuple[torch.Tensor, ...],
              expected: tuple[torch.Tensor, ...]) -> CheckReport:
        return allclose_outputs(self.output_names, outputs, expected, tol=self.tolerance)

    def check_sampled(self, name: str, actual: torch.Tensor, expected: torch.Tensor) -> CheckReport:
        return allclose_report(name, actual, expected, tol=self.tolerance)
