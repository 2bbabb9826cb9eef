"""The reference's times, measured in a trusted process where no candidate code is ever loaded.

Owns: `reference_timings` (parent side): per shape, eager PyTorch and torch.compile of
`task.reference` and of each vendor kernel the task declares (vendor_baselines.py: detected,
checked against the reference with the task's checker, timed only if it agrees), timed by the very block loops the candidate is timed with (timing.py:
fresh inputs per rep, L2 flushed, the call queued behind the flush; a CUDA-graph time too
for launch-bound shapes), cached on disk per (task definition, shape, hardware, torch and
triton versions); and the process itself (`python -m warpsmith.evaluator.reference_timing`,
spec on stdin, JSON on stdout), which imports only the task, torch, timing.py and the vendor
libraries (trusted third-party code; never the candidate's).
Does not own: the candidate's timing (timing.py, timing_parent.py) or comparisons
(timing_judge.py). Interpreter mode never calls this: there, no reference time exists.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from warpsmith.evaluator import vendor_baselines
from warpsmith.evaluator.hardware import cache_dir
from warpsmith.records.evaluation import Hardware
from warpsmith.sandbox.environment import pinned_gpu
from warpsmith.tasklib.base import DISTRIBUTIONS, Shape, Task
from warpsmith.tasklib.identity import task_definition_hash
from warpsmith.tasklib.vendors import declared_vendor_kernels, vendor_module_path

CACHE_VERSION = "2"  # bump when the method below changes: old cached times are not comparable
# Launch-bound shapes are also timed as CUDA graphs: eager device time under LAUNCH_BOUND_US, or
# the task's fewest bytes movable at peak bandwidth in under LAUNCH_BOUND_FLOOR_US.
LAUNCH_BOUND_US, LAUNCH_BOUND_FLOOR_US = 20.0, 5.0
REPS, MAX_BLOCKS, TARGET_RSE = 20, 10, 0.01
PROCESS_TIMEOUT_S = 1800.0


def _task_key(task: Task) -> str:
    """The task's definition (reference, inputs, checker, shapes, tolerances): the same hash that keys
    evaluations in the store."""
    return task_definition_hash(task)


def _adapter_digest(task: Task) -> str | None:
    """The task's vendor adapters (tasklib/<task>/vendor.py): a changed adapter is measured again."""
    path = vendor_module_path(task)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path else None


def _plain(value: Any) -> Any:
    """Sets in a stable order: a frozenset's iteration order changes with the hash seed per process."""
    return sorted(map(str, value)) if isinstance(value, (set, frozenset)) else str(value)


def _shape_key(task_key: str, shape: Shape, hardware: Hardware, vendors: dict[str, Any]) -> str:
    versions = {k: hardware.toolchain.get(k) for k in ("torch", "triton")}
    raw = json.dumps([CACHE_VERSION, task_key, shape.model_dump(), hardware.fingerprint, hardware.device_name,
                      versions, vendors], sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _cache_path(key: str) -> Path:
    path = cache_dir() / "reference_timings"
    path.mkdir(parents=True, exist_ok=True)
    return path / f"{key}.json"


def reference_timings(task: Task, shapes: list[Shape], device: str, hardware: Hardware,
                      gpu_index: int | None = None, task_file: Path | None = None) -> dict[str, dict[str, Any]]:
    """Per shape label: {"cuda_events": {"eager": [us...], "compile": [us...] | None, "wall_per_rep_us": x},
    "cuda_graph": {...} | None, "compile_error": str | None, "vendors": {name: {"state", "reason"}}}, each
    method's row also holding "vendors": {name: [us...]} for the vendor kernels that agreed; from the
    cache or a fresh trusted process. Raises RuntimeError (one line) when the process fails: a
    reference that raises is the task's fault."""
    task_key = _task_key(task)
    extra = vendor_baselines.test_paths()
    vendors = {"versions": {k.name: vendor_baselines.version(k) for k in declared_vendor_kernels(task)},
               "adapters": _adapter_digest(task), "test_paths": extra}  # a new release, adapter or test package
    keys = {s.label: _shape_key(task_key, s, hardware, vendors) for s in shapes}
    found: dict[str, dict[str, Any]] = {}
    for shape in shapes:
        path = _cache_path(keys[shape.label])
        try:
            found[shape.label] = json.loads(path.read_text())
        except (OSError, ValueError):  # not cached yet, or unreadable: measured again
            pass
    missing = [s for s in shapes if s.label not in found]
    if missing:
        try:
            fresh = _run_process(task, missing, device, hardware, gpu_index, task_file, extra)
        except RuntimeError as exc:
            if not declared_vendor_kernels(task):
                raise
            # a vendor library that kills the process never costs the eager and compile baselines
            fresh = _run_process(task, missing, device, hardware, gpu_index, task_file, extra, with_vendors=False)
            for entry in fresh["shapes"].values():
                entry["vendors"] = {k.name: {"state": "failed", "reason": f"with the vendor kernels loaded, {exc}"[:300]}
                                    for k in declared_vendor_kernels(task)}
        for shape in missing:
            entry = fresh["shapes"][shape.label]
            path = _cache_path(keys[shape.label])
            tmp = path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp")
            tmp.write_text(json.dumps(entry))
            os.replace(tmp, path)  # a concurrent evaluation never reads half a file
            found[shape.label] = entry
    return found


def _run_process(task: Task, shapes: list[Shape], device: str, hardware: Hardware, gpu_index: int | None,
                 task_file: Path | None, vendor_paths: list[str], with_vendors: bool = True) -> dict[str, Any]:
    from warpsmith.tasklib.registry import spec_of

    spec = {"task": task.name, "task_spec": spec_of(task).model_dump(), "device": device,
            "shapes": [s.model_dump() for s in shapes], "l2_bytes": hardware.l2_bytes,
            "bandwidth_gbps": hardware.memory_bandwidth_gbps, "vendor_paths": vendor_paths,
            "with_vendors": with_vendors}
    env = dict(os.environ)
    if gpu_index is not None and device.startswith("cuda"):  # the process sees the chosen GPU as device 0
        env["CUDA_VISIBLE_DEVICES"] = env["HIP_VISIBLE_DEVICES"] = pinned_gpu(gpu_index, os.environ)
    env.pop("TRITON_INTERPRET", None)
    done = subprocess.run([sys.executable, "-P", "-m", "warpsmith.evaluator.reference_timing"], input=json.dumps(spec),
                          capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S, env=env)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"the reference timing process failed for {task.name}: {last}"[:500])
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- the trusted process -----------------------------------------------------------------------


def _time(fn: Any, task: Task, shape: Shape, method: str, device: str, flush: Any) -> dict[str, Any]:
    import time

    from warpsmith.evaluator import timing
    from warpsmith.evaluator.timing_parent import rse

    clock = timing.trusted_clock()
    samples: list[float] = []
    walls: list[float] = []
    for block in range(MAX_BLOCKS if method != "wall_clock" else 1):
        t0 = time.monotonic()  # like the parent's clock on a candidate's block: input generation included
        seeds = range(block * REPS, (block + 1) * REPS)
        inputs = [task.make_inputs(shape, s, device, distribution=DISTRIBUTIONS[s % len(DISTRIBUTIONS)])
                  for s in seeds]
        numbers, outs = timing.measure_block(fn, inputs, method, clock, _unguarded, flush,
                                             warmup=3 if block == 0 else 0)
        walls.append((time.monotonic() - t0) * 1e6 / len(inputs))
        del outs, inputs
        if numbers.get("capture_failed"):
            raise RuntimeError(numbers["capture_failed"])
        samples += numbers["device_us"]
        if len(samples) >= REPS and rse(samples) < TARGET_RSE:
            break
    return {"samples": samples, "wall_per_rep_us": min(walls)}


def _launch_bound(task: Task, shape: Shape, eager_us: list[float], bandwidth_gbps: float | None) -> bool:
    """Also when the task says so (a `timing_method = "cuda_graph"` attribute on its class)."""
    if getattr(task, "timing_method", None) == "cuda_graph" or sorted(eager_us)[len(eager_us) // 2] < LAUNCH_BOUND_US:
        return True
    return bool(bandwidth_gbps) and task.cost(shape).bytes / (bandwidth_gbps * 1e3) < LAUNCH_BOUND_FLOOR_US


def _unguarded() -> Any:
    import contextlib

    return contextlib.nullcontext()


def _check_vendors(vendors: dict[str, tuple[Any, dict[str, str]]], task: Task, shape: Shape,
                   device: str) -> dict[str, dict[str, str]]:
    """Per vendor, this shape's state: one that disagrees with the reference is never timed."""
    states = {}
    for name, (fn, status) in vendors.items():
        state = dict(status)
        if fn is not None:
            try:
                mismatch = vendor_baselines.disagreement(fn, task, shape, device)
            except Exception as exc:  # noqa: BLE001 - a vendor that raises on this shape
                state = {"state": "failed", "reason": f"{shape.label}: {type(exc).__name__}: {exc}"[:300]}
            else:
                if mismatch:
                    state = {"state": "disagrees", "reason": mismatch}
        states[name] = state
    return states


def _time_vendors(vendors: dict[str, tuple[Any, dict[str, str]]], states: dict[str, dict[str, str]], task: Task,
                  shape: Shape, method: str, device: str, flush: Any) -> dict[str, list[float]]:
    timed = {}
    for name, (fn, _) in vendors.items():
        if states[name]["state"] != "timed":
            continue
        try:
            timed[name] = _time(fn, task, shape, method, device, flush)["samples"]
        except Exception as exc:  # noqa: BLE001 - e.g. a vendor op that cannot be captured in a CUDA graph
            if method == "cuda_graph":
                continue  # events stand for it, as for the reference
            states[name] = {"state": "failed", "reason": f"{shape.label}: {type(exc).__name__}: {exc}"[:300]}
    return timed


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    from warpsmith.evaluator import timing
    from warpsmith.tasklib.registry import task_from_spec

    sys.path[:0] = spec.get("vendor_paths") or []  # the test-only setting (vendor_baselines.py)
    task = task_from_spec(spec.get("task_spec") or {"kind": "builtin", "name": spec["task"]})
    device = spec["device"]
    vendors = vendor_baselines.load_all(task, device, spec.get("vendor_paths") or []) if spec.get(
        "with_vendors", True) else {}
    flush = timing.flush_buffer(spec.get("l2_bytes"), device)
    compiled = None
    compile_error = None
    if device.startswith("cuda"):
        try:
            compiled = torch.compile(task.reference, dynamic=True)
        except Exception as exc:  # noqa: BLE001 - no compiler here: the eager baseline stands alone
            compile_error = f"{type(exc).__name__}: {exc}"[:300]
    out: dict[str, Any] = {}
    for raw in spec["shapes"]:
        shape = Shape(**raw)
        methods = ["cuda_events"] if device.startswith("cuda") else ["wall_clock"]
        entry: dict[str, Any] = {"compile_error": compile_error, "vendors": _check_vendors(vendors, task, shape, device)}
        for method in methods:  # cuda_graph is appended for launch-bound shapes
            try:
                eager = _time(task.reference, task, shape, method, device, flush)
            except RuntimeError:
                if method != "cuda_graph":
                    raise
                break  # the reference cannot be captured: the shape is compared on events only
            row = {"eager": eager["samples"], "wall_per_rep_us": eager["wall_per_rep_us"], "compile": None}
            if compiled is not None and entry["compile_error"] is None:
                try:
                    row["compile"] = _time(compiled, task, shape, method, device, flush)["samples"]
                except Exception as exc:  # noqa: BLE001 - one shape the compiler cannot do
                    entry["compile_error"] = f"{type(exc).__name__}: {exc}"[:300]
            row["vendors"] = _time_vendors(vendors, entry["vendors"], task, shape, method, device, flush)
            entry[method] = row
            if method == "cuda_events" and _launch_bound(task, shape, row["eager"], spec.get("bandwidth_gbps")):
                methods.append("cuda_graph")
        entry.setdefault("cuda_graph", None)
        out[shape.label] = entry
    return {"shapes": out, "candidate_modules": sorted(m for m in sys.modules if m.startswith("warpsmith_candidate")),
            "child_imported": "warpsmith.evaluator.child" in sys.modules}


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.stdin.read()))))
