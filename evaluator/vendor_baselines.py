"""Vendor kernels as baselines: detection, the check against the reference, and their summary.

Owns: whether a task's declared vendor kernel (tasklib/vendors.py) can run here (`skip_reason`: its
package found by importlib.util.find_spec, never imported by the parent; its device), what the
trusted reference timing process does before timing one (`load_all`, `disagreement`: the
vendor's output on the shape's inputs judged by the task's own checker against the reference; a
vendor that disagrees is never timed), and `summarize`, the EvalResult's `vendor_baselines` from
the per-shape entries that process returned. Does not own: the timing itself (reference_timing.py,
the same block loops as eager and torch.compile) or the comparisons (timing_judge.py).

The test-only setting WARPSMITH_TEST_VENDOR_PATH (folders, os.pathsep-separated) puts extra folders
on the trusted process's sys.path and on the parent's detection: a test uses it to install a tiny
real package in a temporary folder. Nothing in the product sets it.
"""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
import importlib.util
import os
from typing import Any

from warpsmith.records.evaluation import VendorBaseline
from warpsmith.tasklib.base import DISTRIBUTIONS, Shape, Task
from warpsmith.tasklib.vendors import VendorKernel, declared_vendor_kernels

TEST_PATH_ENV = "WARPSMITH_TEST_VENDOR_PATH"
CHECK_SEEDS = (0, 1)  # two input sets per shape, two value distributions


def test_paths() -> list[str]:
    raw = os.environ.get(TEST_PATH_ENV, "")
    return [p for p in raw.split(os.pathsep) if p]


def _found(module: str, extra_paths: list[str]) -> bool:
    top = module.split(".")[0]  # find_spec of a dotted name imports its parent: only the top is looked up
    try:
        if importlib.util.find_spec(top) is not None:
            return True
    except (ImportError, ValueError):
        return False
    return bool(extra_paths) and importlib.machinery.PathFinder.find_spec(top, extra_paths) is not None


def skip_reason(kernel: VendorKernel, device: str, extra_paths: list[str] | None = None) -> str | None:
    """Why this vendor kernel cannot run here ('vllm not installed; needs a CUDA device'), or None."""
    reasons = []
    if not _found(kernel.module, extra_paths or []):
        reasons.append(f"{kernel.name} not installed")
    kind = device.split(":")[0]
    if kind not in kernel.devices:
        reasons.append(f"needs a {' or '.join(d.upper() for d in kernel.devices)} device")
    return "; ".join(reasons) or None


def version(kernel: VendorKernel) -> str | None:
    """The installed distribution's version: a new vendor release may change its time (cache key)."""
    try:
        return importlib.metadata.version(kernel.distribution or kernel.name)
    except importlib.metadata.PackageNotFoundError:
        return None


def detected(task: Task, device: str, extra_paths: list[str] | None = None) -> list[VendorBaseline]:
    """What the parent knows without running anything: every declared kernel, skipped with a reason.
    Used where no trusted timing runs (interpreter mode, a native build without its device)."""
    out = []
    for kernel in declared_vendor_kernels(task):
        reason = skip_reason(kernel, device, extra_paths) or "not timed: no device timing in this mode"
        out.append(VendorBaseline(name=kernel.name, op=kernel.op, state="skipped", reason=reason))
    return out


# ---- inside the trusted reference timing process ----------------------------------------------


def load_all(task: Task, device: str, extra_paths: list[str]) -> dict[str, tuple[Any, dict[str, str]]]:
    """name -> (callable or None, {"state", "reason"}): the runnable vendor kernels loaded."""
    loaded: dict[str, tuple[Any, dict[str, str]]] = {}
    for kernel in declared_vendor_kernels(task):
        reason = skip_reason(kernel, device, extra_paths)
        if reason:
            loaded[kernel.name] = (None, {"state": "skipped", "reason": reason})
            continue
        try:
            fn = kernel.load()
        except Exception as exc:  # noqa: BLE001 - installed but unusable (no build for this GPU, ...)
            loaded[kernel.name] = (None, {"state": "failed", "reason": f"load: {type(exc).__name__}: {exc}"[:300]})
            continue
        loaded[kernel.name] = (fn, {"state": "timed", "reason": ""})
    return loaded


def _copies(inputs: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(x.clone() if hasattr(x, "clone") else x for x in inputs)


def disagreement(fn: Any, task: Task, shape: Shape, device: str) -> str | None:
    """None when the vendor's outputs pass the task's checker against the reference on this shape's
    inputs; else where it first differs. The vendor works on copies (it may write in place)."""
    for seed in CHECK_SEEDS:
        inputs = task.make_inputs(shape, seed, device, distribution=DISTRIBUTIONS[seed % len(DISTRIBUTIONS)])
        expected = task.reference(*inputs)
        outputs = fn(*_copies(inputs))
        outputs = tuple(outputs) if isinstance(outputs, (tuple, list)) else (outputs,)
        report = task.check(inputs, outputs, expected)
        if not report.ok:
            where = report.first_mismatch or report.details or "outputs differ"
            return f"{shape.label}: {where}"[:300]
    return None


# ---- the parent: the EvalResult's view -----------------------------------------------------------


def summarize(task: Task, references: dict[str, dict[str, Any]], device: str) -> list[VendorBaseline]:
    """One VendorBaseline per declared kernel from the per-shape entries: disagrees if it disagreed on
    any shape (those shapes listed, never timed), failed if it raised on any, else its state."""
    out = []
    for kernel in declared_vendor_kernels(task):
        found = [(label, (entry.get("vendors") or {}).get(kernel.name)) for label, entry in references.items()]
        found = [(label, status) for label, status in found if status]
        if not found:  # entries cached before this kernel was declared: say so rather than guess
            reason = skip_reason(kernel, device) or "not measured by the trusted timing process"
            out.append(VendorBaseline(name=kernel.name, op=kernel.op, state="skipped", reason=reason))
            continue
        for state in ("disagrees", "failed", "skipped", "timed"):
            hits = [(label, status) for label, status in found if status["state"] == state]
            if hits:
                shapes = [label for label, _ in hits] if state in ("disagrees", "failed") else []
                out.append(VendorBaseline(name=kernel.name, op=kernel.op, state=state,  # type: ignore[arg-type]
                                          reason=hits[0][1].get("reason", ""), shapes=shapes))
                break
    return out
