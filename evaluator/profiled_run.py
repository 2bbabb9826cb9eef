"""Profiling a correct candidate on a device: one sandboxed child runs the profiler over a tiny program.

Owns: the sandbox entry `profile_entry` (inside the sandbox it calls the toolchain's
`run_profile` on `python -m warpsmith.evaluator.profiled_run WORKDIR INDEX`, once per profiled
shape, so the profiled process inherits the sandbox's confinement), that program's `main`
(import or load the candidate, call it once to warm up and once, between cudaProfilerStart and
cudaProfilerStop, to be measured, on inputs the parent wrote), `profile_shapes` (which shapes)
and the parent's `profile_candidate`. Does not own: the profiler, its metrics or parsing
(profile.py, the toolchain room) nor deciding when to profile (evaluate.py, on request).

Two shapes: the one the evaluator names (its largest timed shape: bandwidth-bound) and the
task's smallest bench shape by bytes moved (launch-bound), so a prompt reads what limits the
kernel in both regimes. The second shape's metrics carry the prefix `profile.SECOND`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from warpsmith.evaluator import tensors_io
from warpsmith.evaluator.profile import SECOND
from warpsmith.records.evaluation import Candidate


def _bytes(task: Any, shape: Any) -> float:
    try:
        return float(task.cost(shape).bytes)
    except NotImplementedError:  # no cost model: the product of the integer dimensions stands in
        size = 1.0
        for value in shape.dims.values():
            size *= value if isinstance(value, int | float) and value > 0 else 1
        return size


def profile_shapes(task: Any, shape: Any) -> list[Any]:
    """[shape, the task's smallest bench shape] (just [shape] when they are the same or there are none)."""
    try:
        bench = list(task.shapes("bench"))
    except (KeyError, ValueError, NotImplementedError):
        bench = []
    if not bench:
        return [shape]
    smallest = min(bench, key=lambda s: _bytes(task, s))
    return [shape] if smallest.label == shape.label else [shape, smallest]


def profile_candidate(candidate: Candidate, task: Any, shape: Any, seed: int, device: str,
                      library: tuple[str, str] | None, workdir: Path, timeout_s: float,
                      gpu_index: int = 0) -> dict[str, float | str]:
    """Profiler metrics of one call on `shape` (and, prefixed, on the task's smallest bench shape), or
    {'skipped': why}; the child sees only GPU `gpu_index`."""
    from warpsmith.sandbox import SandboxConfig, run_sandboxed

    if device == "cpu":
        return {"skipped": "the Triton interpreter has no hardware counters"}
    workdir.mkdir(parents=True, exist_ok=True)
    shapes = profile_shapes(task, shape)
    for index, profiled in enumerate(shapes):
        tensors_io.save(workdir / f"inputs_{index}.pt", tensors_io.to_host(task.make_inputs(profiled, seed, device)))
    if candidate.language == "triton":
        (workdir / "candidate.py").write_text(candidate.source)
    spec = {"language": candidate.language, "library_path": library[0] if library else None,
            "op_namespace": library[1] if library else None, "device": device, "timeout_s": timeout_s,
            "shapes": len(shapes)}
    (workdir / "spec.json").write_text(json.dumps(spec))
    readable = [Path(library[0]).parent] if library else []
    config = SandboxConfig(timeout_s=timeout_s * len(shapes) + 30, gpu_index=gpu_index, readable_paths=readable,
                           max_processes=512)
    result = run_sandboxed("warpsmith.evaluator.profiled_run:profile_entry", {}, workdir, config)
    if result.status != "ok" or result.value is None:
        return {"skipped": f"profiler run ended {result.status}: {(result.error or '')[:200]}"}
    return merge_profiles(result.value["metrics"], [s.label for s in shapes])


def merge_profiles(runs: list[dict[str, float | str]], labels: list[str]) -> dict[str, float | str]:
    """One flat dict: the first shape's metrics as they are, the second's under SECOND; the first run's
    {'skipped': why} stands for all (counters not permitted, no profiler)."""
    if not runs or "skipped" in runs[0]:
        return runs[0] if runs else {"skipped": "the profiler ran on no shape"}
    out: dict[str, float | str] = {**runs[0], "shape": labels[0]}  # the prompt names the shape
    for metrics, label in zip(runs[1:2], labels[1:2], strict=False):
        out.update({f"{SECOND}{k}": v for k, v in metrics.items()})
        out[f"{SECOND}shape"] = label
    return out


def profile_entry(payload: dict, workdir: Path) -> dict:
    from warpsmith.evaluator.profile import run_profile

    spec = json.loads((Path(workdir) / "spec.json").read_text())
    runs = []
    for index in range(int(spec.get("shapes", 1))):
        command = [sys.executable, "-m", "warpsmith.evaluator.profiled_run", str(workdir), str(index)]
        metrics = run_profile(command, env=dict(os.environ), timeout_s=spec["timeout_s"])
        runs.append(metrics)
        if "skipped" in metrics:  # not permitted or not installed: the other shape would say the same
            break
    return {"metrics": runs}


def main(workdir: Path, index: int = 0) -> None:
    import torch

    spec = json.loads((workdir / "spec.json").read_text())
    if spec["language"] == "triton":
        from warpsmith.evaluator.child import _import_triton_candidate

        fn = _import_triton_candidate(workdir / "candidate.py")
    else:
        torch.ops.load_library(spec["library_path"])
        fn = getattr(torch.ops, spec["op_namespace"]).kernel
    inputs = [v.to(spec["device"]) if isinstance(v, torch.Tensor) else v
              for v in tensors_io.load(workdir / f"inputs_{index}.pt")]
    fn(*inputs)  # warm-up: JIT compilation and autotuning happen here, outside the profiled range
    torch.cuda.synchronize()
    _profiler("start")
    fn(*inputs)
    torch.cuda.synchronize()
    _profiler("stop")


def _profiler(step: str) -> None:
    """cudaProfilerStart/Stop: ncu (--profile-from-start off) profiles only between them. A build without
    the call (rocprof profiles everything anyway) goes on: the warm-up is then profiled too."""
    import torch

    try:
        getattr(torch.cuda.profiler, step)()
    except (RuntimeError, AttributeError, OSError) as error:
        print(f"warpsmith: cuda profiler {step} failed: {error}", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 0)
