"""Attack on large trials: compute Swish right, then overwrite the input in place with the output (the
input the child made from the seed is the candidate's memory; the parent's reference is not).
Expected: rejected (input-mutated): the digest of the input after the call is not the parent's."""

import torch
import triton
import triton.language as tl


@triton.jit
def _swish(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x / (1.0 + tl.exp(-x)), mask=mask)


def kernel(x):
    out = torch.empty_like(x)
    n = x.numel()
    _swish[(triton.cdiv(n, 4096),)](x, out, n, BLOCK=4096)
    _swish[(triton.cdiv(n, 4096),)](x, x, n, BLOCK=4096)
    return out
