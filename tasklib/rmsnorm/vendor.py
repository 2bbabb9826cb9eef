"""rmsnorm's vendor kernels, adapted to kernel(x[T,H], weight[H], eps) -> (out[T,H],).

Owns: the adapters (sgl_kernel/elementwise.py `rmsnorm(input, weight, eps)`; vllm's
`torch.ops._C.rms_norm(out, input, weight, epsilon)`; flashinfer/norm.py `rmsnorm(input, weight,
eps)`; liger_kernel/ops/rms_norm.py `LigerRMSNormFunction.apply(X, W, eps)`, whose default "llama"
casting rounds the normalized row to bf16 before the weight: the checker decides whether that is
within the task's tolerance). Does not own: detection, checking or timing
(warpsmith.evaluator.vendor_baselines).
"""

from __future__ import annotations

from typing import Any

from warpsmith.tasklib.vendors import VendorKernel


def _sgl_kernel() -> Any:
    import sgl_kernel

    return lambda x, weight, eps: (sgl_kernel.rmsnorm(x, weight, eps),)


def _vllm() -> Any:
    import torch
    import vllm._C  # noqa: F401 - registers torch.ops._C

    def kernel(x: torch.Tensor, weight: torch.Tensor, eps: float) -> tuple[torch.Tensor]:
        out = torch.empty_like(x)
        torch.ops._C.rms_norm(out, x, weight, eps)
        return (out,)

    return kernel


def _flashinfer() -> Any:
    from flashinfer.norm import rmsnorm

    return lambda x, weight, eps: (rmsnorm(x, weight, eps),)


def _liger() -> Any:
    from liger_kernel.ops.rms_norm import LigerRMSNormFunction

    return lambda x, weight, eps: (LigerRMSNormFunction.apply(x, weight, eps),)


VENDOR_KERNELS = [
    VendorKernel("sgl-kernel", "sgl_kernel", "sgl_kernel.rmsnorm", _sgl_kernel),
    VendorKernel("vllm", "vllm", "torch.ops._C.rms_norm", _vllm),
    VendorKernel("flashinfer", "flashinfer", "flashinfer.norm.rmsnorm", _flashinfer, distribution="flashinfer-python"),
    VendorKernel("liger-kernel", "liger_kernel", "liger_kernel.ops.rms_norm.LigerRMSNormFunction", _liger),
]
