"""silu_and_mul's vendor kernels: the libraries' SwiGLU, adapted to kernel(x[T,2H]) -> (out[T,H],).

Owns: the list; sgl-kernel's, vLLM's and FlashInfer's adapters are the gated ones of
warpsmith.tasklib.vendors (call signatures from each library's source: sgl_kernel/elementwise.py,
vllm's `torch.ops._C.silu_and_mul(out, input)` registered by `vllm._C`, flashinfer/activation.py,
liger_kernel/ops/swiglu.py). Does not own: detection, checking or timing
(warpsmith.evaluator.vendor_baselines). All four use vLLM's convention: gate first, up second.
"""

from __future__ import annotations

from typing import Any

from warpsmith.tasklib.vendors import VendorKernel, gated_activation_kernels


def _liger() -> Any:
    from liger_kernel.ops.swiglu import LigerSiLUMulFunction

    def kernel(x: Any) -> tuple[Any]:
        half = x.shape[1] // 2  # liger takes gate and up apart (it makes each half contiguous)
        return (LigerSiLUMulFunction.apply(x[:, :half], x[:, half:]),)

    return kernel


VENDOR_KERNELS = [
    *gated_activation_kernels("silu_and_mul"),
    VendorKernel("liger-kernel", "liger_kernel", "liger_kernel.ops.swiglu.LigerSiLUMulFunction", _liger),
]
