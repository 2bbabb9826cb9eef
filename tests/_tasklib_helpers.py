"""Helpers for the tasklib tests: load a seed kernel (interpreted or compiled) and run it on a suite."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from warpsmith.tasklib.base import CheckReport, Task
from warpsmith.tasklib.checking import as_outputs


def load_triton_seed(task: Task, interpret: bool) -> ModuleType:
    """Import the task's Triton seed as a fresh module; `interpret` picks Triton's CPU interpreter.

    Triton decides at decoration time whether an @triton.jit function is interpreted, so the
    variable is set while the module body runs and restored afterwards.
    """
    path = task.seed_path("triton")
    assert path is not None, f"{task.name} ships no Triton seed"
    return load_module(path, f"seed_{task.name}_{'interp' if interpret else 'device'}", interpret)


def load_module(path: Path, module_name: str, interpret: bool) -> ModuleType:
    previous = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1" if interpret else "0"
    try:
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if previous is None:
            del os.environ["TRITON_INTERPRET"]
        else:
            os.environ["TRITON_INTERPRET"] = previous
    return module


def run_suite(task: Task, kernel: Any, suite: str, seeds: tuple[int, ...], device: str) -> list[tuple[str, CheckReport]]:
    """(shape label and seed, the checker's report) for every shape of `suite` and every seed."""
    reports = []
    for shape in task.shapes(suite):
        for seed in seeds:
            inputs = task.make_inputs(shape, seed, device)
            expected = task.reference(*inputs)
            outputs = as_outputs(kernel(*inputs))
            reports.append((f"{shape.label} seed={seed}", task.check(inputs, outputs, expected)))
    return reports
