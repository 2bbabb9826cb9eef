"""Attack: return NaN everywhere (NaN compares unequal, and a careless checker may skip it).
Expected: incorrect (NaN never passes)."""

import torch
import triton
import triton.language as tl


@triton.jit
def _nan(out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.full([BLOCK], float("nan"), tl.float32).to(tl.bfloat16), mask=offs < n)


def kernel(x, weight, eps):
    out = torch.empty_like(x)
    _nan[(triton.cdiv(x.numel(), 256),)](out, x.numel(), BLOCK=256)
    return out
