"""silu_and_mul's vendor kernels: the libraries' SwiGLU, adapted to kernel(x[T,2H]) -> (out[T,H],).

Owns: the adapters (call signatures from each library's source: sgl_kernel/elementwise.py,
vllm's `torch.ops._C.silu_and_mul(out, input)` registered by `vllm._C`, flashinfer/activation.py,
liger_kernel/ops/swiglu.py). Does not own: detection, checking or timing
(warpsmith.evaluator.vendor_baselines). All four use vLLM's convention: gate first, up second.
"""

from __future__ import annotations

from typing import Any

from warpsmith.tasklib.vendors import VendorKernel


def _sgl_kernel() -> Any:
    import sgl_kernel

    return lambda x: (sgl_kernel.silu_and_mul(x),)


def _vllm() -> Any:
    import torch
    import vllm._C  # noqa: F401 - registers torch.ops._C

    def kernel(x: torch.Tensor) -> tuple[torch.Tensor]:
        out = torch.empty((x.shape[0], x.shape[1] // 2), dtype=x.dtype, device=x.device)
        torch.ops._C.silu_and_mul(out, x)
        return (out,)

    return kernel


def _flashinfer() -> Any:
    from flashinfer.activation import silu_and_mul

    return lambda x: (silu_and_mul(x),)


def _liger() -> Any:
    from liger_kernel.ops.swiglu import LigerSiLUMulFunction

    def kernel(x: Any) -> tuple[Any]:
        half = x.shape[1] // 2  # liger takes gate and up apart (it makes each half contiguous)
        return (LigerSiLUMulFunction.apply(x[:, :half], x[:, half:]),)

    return kernel


VENDOR_KERNELS = [
    VendorKernel("sgl-kernel", "sgl_kernel", "sgl_kernel.silu_and_mul", _sgl_kernel),
    VendorKernel("vllm", "vllm", "torch.ops._C.silu_and_mul", _vllm),
    VendorKernel("flashinfer", "flashinfer", "flashinfer.activation.silu_and_mul", _flashinfer,
                 distribution="flashinfer-python"),
    VendorKernel("liger-kernel", "liger_kernel", "liger_kernel.ops.swiglu.LigerSiLUMulFunction", _liger),
]
