"""Attack on large trials: guess which leaves the parent samples (the first, the last, and every other
16 KiB leaf) and compute only those; the rest is left as the allocation's poison.
Expected: incorrect (the leaves are drawn in the parent after the commitment; half of them are wrong)."""

import torch
import triton
import triton.language as tl


@triton.jit
def _swish(x_ptr, out_ptr, n, start, step, BLOCK: tl.constexpr):
    offs = start + tl.program_id(0) * step + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x / (1.0 + tl.exp(-x)), mask=mask)


def kernel(x):
    x = x.contiguous()
    out = torch.empty_like(x)
    n = x.numel()
    leaf = 4096  # 16 KiB of float32
    _swish[(triton.cdiv(n, 2 * leaf),)](x, out, n, 0, 2 * leaf, BLOCK=leaf)  # leaves 0, 2, 4, ...
    _swish[(1,)](x, out, n, (n - 1) // leaf * leaf, 0, BLOCK=leaf)  # and the last one
    return out
