"""The evaluator's bridge to the toolchain's build (build.py, owned by the toolchain room).

Owns: which architecture a native candidate is built for, whether this machine can run it,
and the set of torch.Tensor method names the native static check treats as compute.
Does not own: compiling (build.py) or profiling (profiled_run.py, profile.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import torch

from warpsmith.evaluator.build_toolchain import arch_specific
from warpsmith.records.evaluation import Candidate, Hardware


def compute_methods(allowed_torch_ops: Iterable[str]) -> frozenset[str]:
    """torch.Tensor method names that are not allocation, views or metadata the task allows."""
    allowed = set(allowed_torch_ops)
    return frozenset(n for n in dir(torch.Tensor) if not n.startswith("_") and n not in allowed)


def native_device_matches(language: str, device: str) -> bool:
    if device == "cpu":
        return False
    is_rocm = torch.version.hip is not None
    return (language == "hip") == is_rocm


def target_arch(language: str, hardware: Hardware | None) -> str | None:
    """The arch to build for: the evaluation device's (CUDA: its arch-specific target, sm_90 ->
    sm_90a, so wgmma / TMA are usable), or None for build_extension's own choice (this machine's
    GPU asked of the driver tools, which gives the same name, else sm_90a / gfx90a). Either way the
    same source on the same GPU gets the same build cache key from every caller."""
    backend = "rocm" if language == "hip" else "cuda"
    if hardware is None or not hardware.arch or hardware.backend != backend:
        return None
    return arch_specific(hardware.arch) if language == "cuda" else hardware.arch


def build_native(candidate: Candidate, hardware: Hardware | None, timeout_s: float,
                 task: Any = None) -> tuple[Any, float]:
    """Build through the toolchain's build_extension; returns (BuildResult, seconds). With `task`, a
    CUDA ModelNew (native_module.py) builds its load_inline CUDA text with each exported function bound."""
    from warpsmith.evaluator.build import build_extension
    from warpsmith.evaluator.native_module import parse

    started = time.perf_counter()
    form = parse(candidate.source, task, candidate.language) if task is not None else None
    source, functions = (form.cuda_source, form.functions) if form is not None else (candidate.source, ("kernel",))
    # The toolchain's default cache folder: one build per source, shared by every caller.
    built = build_extension(source, candidate.language, arch=target_arch(candidate.language, hardware),
                            timeout_s=timeout_s, functions=functions)
    return built, round(time.perf_counter() - started, 4)
