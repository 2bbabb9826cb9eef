"""fused_add_rmsnorm's vendor kernels, adapted to kernel(x, residual, weight, eps) -> (out, residual_out).

Owns: the adapters. All three libraries work in place with the same convention (sgl_kernel/
elementwise.py and flashinfer/norm.py `fused_add_rmsnorm(input, residual, weight, eps)`, vllm's
`torch.ops._C.fused_add_rms_norm(input, residual, weight, epsilon)`): residual += input, then
input = rmsnorm(residual) * weight; so (input, residual) after the call are (out, residual_out).
The timing process hands every call fresh copies, so writing in place is the vendor's real cost
and no copy is added to its time. Does not own: detection, checking or timing
(warpsmith.evaluator.vendor_baselines).
"""

from __future__ import annotations

from typing import Any

from warpsmith.tasklib.vendors import VendorKernel


def _in_place(op: Any) -> Any:
    def kernel(x: Any, residual: Any, weight: Any, eps: float) -> tuple[Any, Any]:
        op(x, residual, weight, eps)
        return x, residual

    return kernel


def _sgl_kernel() -> Any:
    import sgl_kernel

    return _in_place(sgl_kernel.fused_add_rmsnorm)


def _vllm() -> Any:
    import torch
    import vllm._C  # noqa: F401 - registers torch.ops._C

    return _in_place(torch.ops._C.fused_add_rms_norm)


def _flashinfer() -> Any:
    from flashinfer.norm import fused_add_rmsnorm

    return _in_place(fused_add_rmsnorm)


VENDOR_KERNELS = [
    VendorKernel("sgl-kernel", "sgl_kernel", "sgl_kernel.fused_add_rmsnorm", _sgl_kernel),
    VendorKernel("vllm", "vllm", "torch.ops._C.fused_add_rms_norm", _vllm),
    VendorKernel("flashinfer", "flashinfer", "flashinfer.norm.fused_add_rmsnorm", _flashinfer,
                 distribution="flashinfer-python"),
]
