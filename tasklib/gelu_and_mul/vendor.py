"""gelu_and_mul's vendor kernels: the libraries' exact (erf) GeGLU, adapted to kernel(x[T,2H]) -> (out[T,H],).

Owns: the adapters (sgl_kernel/elementwise.py `gelu_and_mul`, not `gelu_tanh_and_mul`; vllm's
`torch.ops._C.gelu_and_mul(out, input)`, its approximate="none" op; flashinfer/activation.py
`gelu_and_mul`). liger-kernel's GeGLU uses the tanh approximation, which is not this task: not
declared. Does not own: detection, checking or timing (warpsmith.evaluator.vendor_baselines).
"""

from __future__ import annotations

from typing import Any

from warpsmith.tasklib.vendors import VendorKernel


def _sgl_kernel() -> Any:
    import sgl_kernel

    return lambda x: (sgl_kernel.gelu_and_mul(x),)


def _vllm() -> Any:
    import torch
    import vllm._C  # noqa: F401 - registers torch.ops._C

    def kernel(x: torch.Tensor) -> tuple[torch.Tensor]:
        out = torch.empty((x.shape[0], x.shape[1] // 2), dtype=x.dtype, device=x.device)
        torch.ops._C.gelu_and_mul(out, x)
        return (out,)

    return kernel


def _flashinfer() -> Any:
    from flashinfer.activation import gelu_and_mul

    return lambda x: (gelu_and_mul(x),)


VENDOR_KERNELS = [
    VendorKernel("sgl-kernel", "sgl_kernel", "sgl_kernel.gelu_and_mul", _sgl_kernel),
    VendorKernel("vllm", "vllm", "torch.ops._C.gelu_and_mul", _vllm),
    VendorKernel("flashinfer", "flashinfer", "flashinfer.activation.gelu_and_mul", _flashinfer,
                 distribution="flashinfer-python"),
]
