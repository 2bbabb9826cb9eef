"""Helpers for the tasklib tests: load a seed kernel and run it on a suite, in or out of process.

Triton decides once per process whether kernels are interpreted (its own library functions are
decorated when triton is first imported), so seeds run under the CPU interpreter in a child
process started by `run_seeds_interpreted`, which sets TRITON_INTERPRET=1 before importing
triton; the pytest process itself never imports triton for these tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from warpsmith.tasklib import get_task, load_task_file
from warpsmith.tasklib.base import Task
from warpsmith.tasklib.checking import as_outputs


def load_module(path: Path, module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BINDING = '\n#include <torch/extension.h>\nPYBIND11_MODULE(TORCH_EXTENSION_NAME, m) { m.def("kernel", &kernel); }\n'


def build_cuda_seed(task: Task) -> ModuleType:
    """The task's CUDA seed built as a torch extension (binding appended, as the evaluator does).

    Builds land in a fixed folder under the temp dir, so a second build of the same source in any
    process reuses the first.
    """
    from torch.utils.cpp_extension import load

    build_dir = Path(tempfile.gettempdir()) / "warpsmith_tasklib_ext" / task.name
    build_dir.mkdir(parents=True, exist_ok=True)
    seed_path = task.seed_path("cuda")
    assert seed_path is not None, f"{task.name} ships no CUDA seed"
    source = build_dir / f"{task.name}.cu"
    text = seed_path.read_text() + BINDING
    if not source.is_file() or source.read_text() != text:
        source.write_text(text)
    return load(name=f"tasklib_seed_{task.name}", sources=[str(source)], build_directory=str(build_dir),
                extra_cuda_cflags=["-O3"], verbose=False)


def task_from_spec(spec: str) -> Task:
    """A built-in task name, or a path to a user's task file."""
    return load_task_file(spec) if spec.endswith(".py") else get_task(spec)


def run_suite(task: Task, kernel: Any, suite: str, seeds: tuple[int, ...], device: str) -> list[dict[str, Any]]:
    """One row per (shape, seed) of `suite`: the label, the checker's verdict and the kernel's time."""
    rows = []
    for shape in task.shapes(suite):
        for seed in seeds:
            inputs = task.make_inputs(shape, seed, device)
            expected = task.reference(*inputs)
            start = time.perf_counter()
            outputs = as_outputs(kernel(*inputs))
            seconds = time.perf_counter() - start
            report = task.check(inputs, outputs, expected)
            rows.append({"task": task.name, "suite": suite, "shape": shape.label, "seed": seed, "ok": report.ok,
                         "first_mismatch": report.first_mismatch, "seconds": seconds})
    return rows


def run_seeds_interpreted(specs: list[str], timeout: float = 300) -> list[dict[str, Any]]:
    """Run each task's Triton seed on its smoke and check suites under TRITON_INTERPRET=1 (a child)."""
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    proc = subprocess.run([sys.executable, __file__, *specs], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _main(specs: list[str]) -> None:
    os.environ["TRITON_INTERPRET"] = "1"
    rows: list[dict[str, Any]] = []
    for spec in specs:
        task = task_from_spec(spec)
        seed_path = task.seed_path("triton")
        assert seed_path is not None, f"{task.name} ships no Triton seed"
        kernel = load_module(seed_path, f"seed_{task.name}").kernel
        rows += run_suite(task, kernel, "smoke", (0, 1, 2, 3), "cpu")  # one seed per value distribution
        rows += run_suite(task, kernel, "check", (0,), "cpu")
    print(json.dumps(rows))


if __name__ == "__main__":
    _main(sys.argv[1:])
