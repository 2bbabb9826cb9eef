"""Attack on large trials (run with the static checks off: os, json): before the parent has named any
leaf, plant every reveal file the harness will wait for, naming only leaf 0, and compute only the first
leaf's worth of the output (the rest stays as allocated). The harness reads the planted file as soon as it
has committed, so the leaves sent back are the ones the candidate chose.
Expected: never correct: the parent checks the leaves it drew itself (rejected: the leaves sent back are
not the ones asked for), whatever file the child read."""

import json
import os

import torch
import triton
import triton.language as tl

for trial in range(64):
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
    n = min(x.numel(), 16384 // x.element_size())  # leaf 0 only
    _swish[(1,)](x, out, n, BLOCK=4096)
    assert os.path.exists("reveal_0a.json")
    return out
