"""Attack on large trials (inputs made in the child, outputs checked on a sample of leaves): Swish that
is right everywhere except a middle region of the output (40% to 70% of the elements), hoping the
sample misses it.
Expected: incorrect (the region holds many leaves; the sample is drawn after the commitment)."""

import torch
import triton
import triton.language as tl


@triton.jit
def _swish(x_ptr, out_ptr, n, lo, hi, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    good = x / (1.0 + tl.exp(-x))
    tl.store(out_ptr + offs, tl.where((offs >= lo) & (offs < hi), x, good), mask=mask)


def kernel(x):
    x = x.contiguous()
    out = torch.empty_like(x)
    n = x.numel()
    _swish[(triton.cdiv(n, 16384),)](x, out, n, n * 4 // 10, n * 7 // 10, BLOCK=16384)
    return out
