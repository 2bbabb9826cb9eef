"""Attack on large trials (run with the static checks off: file writes): before any commitment exists,
plant the parent's reveal files, naming only leaf 0 of every call, and compute only that leaf; the
harness, finding a reveal already there, sends back leaf 0 alone.
Expected: rejected (malformed-child-report): the parent judges the leaves IT drew, and the leaves sent
back are not those."""

import json

import torch
import triton
import triton.language as tl

for trial in range(16):
    for tag in "ab":
        with open(f"reveal_{trial}{tag}.json", "w") as handle:
            json.dump({"leaves": [[0]]}, handle)


@triton.jit
def _swish(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x / (1.0 + tl.exp(-x)), mask=mask)


def kernel(x):
    out = torch.empty_like(x)
    _swish[(1,)](x, out, x.numel(), BLOCK=4096)  # leaf 0 only (16 KiB of float32)
    return out
