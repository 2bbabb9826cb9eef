"""Profiling a correct candidate on a device: one sandboxed child runs the profiler over a tiny program.

Owns: the sandbox entry `profile_entry` (inside the sandbox it calls the toolchain's
`run_profile` on `python -m warpsmith.evaluator.profiled_run WORKDIR`, so the profiled
process inherits the sandbox's confinement), that program's `main` (import or load the
candidate, call it once to warm up and once to be measured, on inputs the parent wrote),
and the parent's `profile_candidate`. Does not own: the profiler, its metrics or parsing
(profile.py, the toolchain room) nor deciding when to profile (evaluate.py, on request).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from warpsmith.evaluator import tensors_io
from warpsmith.records.evaluation import Candidate


def profile_candidate(candidate: Candidate, task: Any, shape: Any, seed: int, device: str,
                      library: tuple[str, str] | None, workdir: Path, timeout_s: float,
                      gpu_index: int = 0) -> dict[str, float | str]:
    """Profiler metrics of one call on `shape`, or {'skipped': why}; the child sees only GPU `gpu_index`."""
    from warpsmith.sandbox import SandboxConfig, run_sandboxed

    if device == "cpu":
        return {"skipped": "the Triton interpreter has no hardware counters"}
    workdir.mkdir(parents=True, exist_ok=True)
    tensors_io.save(workdir / "inputs.pt", tensors_io.to_host(task.make_inputs(shape, seed, device)))
    if candidate.language == "triton":
        (workdir / "candidate.py").write_text(candidate.source)
    spec = {"language": candidate.language, "library_path": library[0] if library else None,
            "op_namespace": library[1] if library else None, "device": device, "timeout_s": timeout_s}
    (workdir / "spec.json").write_text(json.dumps(spec))
    readable = [Path(library[0]).parent] if library else []
    config = SandboxConfig(timeout_s=timeout_s + 30, gpu_index=gpu_index, readable_paths=readable, max_processes=512)
    result = run_sandboxed("warpsmith.evaluator.profiled_run:profile_entry", {}, workdir, config)
    if result.status != "ok" or result.value is None:
        return {"skipped": f"profiler run ended {result.status}: {(result.error or '')[:200]}"}
    metrics = result.value["metrics"]
    return metrics if "skipped" in metrics else {**metrics, "shape": shape.label}  # the prompt names the shape


def profile_entry(payload: dict, workdir: Path) -> dict:
    from warpsmith.evaluator.profile import run_profile

    spec = json.loads((Path(workdir) / "spec.json").read_text())
    command = [sys.executable, "-m", "warpsmith.evaluator.profiled_run", str(workdir)]
    metrics = run_profile(command, env=dict(os.environ), timeout_s=spec["timeout_s"])
    return {"metrics": metrics}


def main(workdir: Path) -> None:
    import torch

    spec = json.loads((workdir / "spec.json").read_text())
    if spec["language"] == "triton":
        from warpsmith.evaluator.child import _import_triton_candidate

        fn = _import_triton_candidate(workdir / "candidate.py")
    else:
        torch.ops.load_library(spec["library_path"])
        fn = getattr(torch.ops, spec["op_namespace"]).kernel
    inputs = [v.to(spec["device"]) if isinstance(v, torch.Tensor) else v for v in tensors_io.load(workdir / "inputs.pt")]
    fn(*inputs)  # warm-up: JIT compilation and autotuning happen here
    fn(*inputs)
    torch.cuda.synchronize()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
