"""Vendor kernels a task declares as baselines: what to detect, what to call, how to adapt it.

Owns: `VendorKernel` (one library's kernel for one task: the module whose presence is detected,
the op shown to people, the devices it runs on, and `load`, which imports the library and returns a
function with the task's own signature) and `declared_vendor_kernels(task)`, which finds a task's
list: a `vendor_kernels` attribute on the task (a task file may declare its own), else
`VENDOR_KERNELS` in the `vendor` module beside the task's package (tasklib/<task>/vendor.py); and
`gated_activation_kernels`, the adapters silu_and_mul and gelu_and_mul share (the libraries name both
ops alike and call them alike).
Does not own: detection against the machine, the check against the reference or the timing
(warpsmith.evaluator.vendor_baselines, run in the trusted reference timing process).

Nothing here imports a vendor library: `load` does, and only the trusted timing process calls it.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class VendorKernel:
    """`load()` -> kernel(*task inputs) -> task outputs (a tuple in `output_names` order).

    The adapter may write into the tensors it is given (serving ops work in place): the timing
    process hands it fresh copies for every call, and checks its outputs on copies too."""

    name: str  # the package as people know it: 'sgl-kernel', 'vllm', 'flashinfer', 'liger-kernel'
    module: str  # what importlib.util.find_spec looks for: 'sgl_kernel', 'vllm', ...
    op: str  # what is called, shown beside its time: 'sgl_kernel.fused_add_rmsnorm'
    load: Callable[[], Callable[..., tuple[Any, ...]]]
    devices: tuple[str, ...] = ("cuda",)  # most vendor kernels are CUDA-only
    distribution: str | None = None  # the installed distribution's name when it differs from `name`


def vendor_module_path(task: Any) -> Path | None:
    """tasklib/<task>/vendor.py of a shipped task, when there is one."""
    module = sys.modules.get(type(task).__module__)
    where = getattr(module, "__file__", None)
    if not type(task).__module__.startswith("warpsmith.tasklib.") or not where:
        return None
    path = Path(where).parent / "vendor.py"
    return path if Path(where).name == "__init__.py" and path.is_file() else None


@functools.cache
def _load_vendor_module(path: Path, name: str) -> ModuleType:
    # Loaded by path, never bound as an attribute of the task's package: the task's definition hash
    # (tasklib/identity.py) follows the package's globals, and declaring baselines changes no task.
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def declared_vendor_kernels(task: Any) -> list[VendorKernel]:
    """The task's vendor kernels, [] when it declares none."""
    own = getattr(task, "vendor_kernels", None)
    if own is not None:
        return list(own)
    path = vendor_module_path(task)
    if path is None:
        return []
    return list(getattr(_load_vendor_module(path, f"{type(task).__module__}.vendor"), "VENDOR_KERNELS", []))


def gated_activation_kernels(op: str) -> list[VendorKernel]:
    """sgl-kernel's, vLLM's and FlashInfer's `op` (silu_and_mul or gelu_and_mul: each library names and
    calls both alike, gate first, up second), adapted to kernel(x[T,2H]) -> (out[T,H],)."""

    def sgl_kernel() -> Any:
        import sgl_kernel

        return lambda x: (getattr(sgl_kernel, op)(x),)

    def vllm() -> Any:
        import torch
        import vllm._C  # noqa: F401 - registers torch.ops._C

        def kernel(x: torch.Tensor) -> tuple[torch.Tensor]:
            out = torch.empty((x.shape[0], x.shape[1] // 2), dtype=x.dtype, device=x.device)
            getattr(torch.ops._C, op)(out, x)
            return (out,)

        return kernel

    def flashinfer() -> Any:
        import flashinfer.activation

        return lambda x: (getattr(flashinfer.activation, op)(x),)

    return [
        VendorKernel("sgl-kernel", "sgl_kernel", f"sgl_kernel.{op}", sgl_kernel),
        VendorKernel("vllm", "vllm", f"torch.ops._C.{op}", vllm),
        VendorKernel("flashinfer", "flashinfer", f"flashinfer.activation.{op}", flashinfer,
                     distribution="flashinfer-python"),
    ]
