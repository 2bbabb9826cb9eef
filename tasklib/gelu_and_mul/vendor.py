"""gelu_and_mul's vendor kernels: the libraries' exact (erf) GeGLU, adapted to kernel(x[T,2H]) -> (out[T,H],).

Owns: the list; the adapters are the gated ones of warpsmith.tasklib.vendors (sgl_kernel/elementwise.py
`gelu_and_mul`, not `gelu_tanh_and_mul`; vllm's `torch.ops._C.gelu_and_mul(out, input)`, its
approximate="none" op; flashinfer/activation.py `gelu_and_mul`). liger-kernel's GeGLU uses the tanh approximation, which is not this task: not
declared. Does not own: detection, checking or timing (warpsmith.evaluator.vendor_baselines).
"""

from __future__ import annotations

from warpsmith.tasklib.vendors import gated_activation_kernels

VENDOR_KERNELS = gated_activation_kernels("gelu_and_mul")
