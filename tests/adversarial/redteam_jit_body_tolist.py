"""Red-team attack: inside a @triton.jit body the static check skips its tensor-method rules, and
under TRITON_INTERPRET=1 the body is plain Python. A module-level list smuggles the real torch
tensors in; the body reads them with `.tolist()` (which dispatches no aten op, so the recorder is
blind to it), computes rmsnorm in Python and stores the finished numbers one by one.
Expected: rejected (a tensor method inside a jit body, or tolist at run time); never correct."""

import math

import torch
import triton
import triton.language as tl

SMUGGLED = []


@triton.jit
def _rms(out_ptr):
    rows, w, eps = SMUGGLED[0].tolist(), SMUGGLED[1].tolist(), SMUGGLED[2]
    for t, row in enumerate(rows):
        rstd = 1.0 / math.sqrt(sum(v * v for v in row) / len(w) + eps)
        for h, v in enumerate(row):
            tl.store(out_ptr + t * len(w) + h, v * rstd * w[h])


def kernel(x, weight, eps):
    out = torch.empty_like(x)
    SMUGGLED.clear()
    SMUGGLED.extend([x, weight, eps])
    _rms[(1,)](out)
    return out
