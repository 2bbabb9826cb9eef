"""Attack on large trials (inputs made in the child): keep one output buffer per shape and return it on
every call, recomputed each time (the values are right). On a small trial this is rejected
(output-reused-across-calls: the caller's first result is overwritten by the second call); a large
trial's harness dropped its reference to the first call's outputs before the second call and never
compared storages across calls.
Expected: rejected (output-reused-across-calls) on every trial, small or large."""

import torch
import triton
import triton.language as tl


@triton.jit
def _swish(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x / (1.0 + tl.exp(-x)), mask=mask)


BUFFERS = {}


def kernel(x):
    key = tuple(x.shape)
    if key not in BUFFERS:
        BUFFERS[key] = torch.empty_like(x)
    out = BUFFERS[key]
    n = x.numel()
    _swish[(triton.cdiv(n, 16384),)](x, out, n, BLOCK=16384)
    return out
