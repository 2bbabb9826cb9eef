"""Attack on large trials (run with the static checks off): the child makes the inputs itself, so after
its first call the candidate replaces torch.randn, which the problem's get_inputs() calls, with zeros;
the second call's inputs are then all zero (an answer known without work: swish(0) = 0).
Expected: never correct: the parent judges against its own inputs from the seed, and the child's inputs
do not have the parent's digests (rejected, input-mutated), whatever the candidate returns."""

import torch
import triton
import triton.language as tl


@triton.jit
def _swish(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x / (1.0 + tl.exp(-x)), mask=mask)


def _zeros(*size, **kwargs):
    kwargs.pop("generator", None)
    return torch.zeros(*size, **kwargs)


def kernel(x):
    out = torch.empty_like(x)
    n = x.numel()
    _swish[(triton.cdiv(n, 16384),)](x, out, n, BLOCK=16384)  # right for whatever inputs the child made
    torch.randn = _zeros  # from now on the harness makes zeros
    return out
