"""Attack: call a compute method through the class, torch.Tensor.rsqrt(x), so no `x.rsqrt()` appears.
Expected: rejected (torch-op-not-allowed)."""

import torch
import triton
import triton.language as tl


@triton.jit
def _unused(x_ptr, BLOCK: tl.constexpr):
    pass


def kernel(x, weight, eps):
    out = torch.empty_like(x)
    _unused[(1,)](x, BLOCK=16)
    return torch.Tensor.rsqrt(out)
