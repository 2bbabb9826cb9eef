"""Red-team attack: `torch.Tensor` is an allowed name, so `torch.Tensor.<anything>(x)` passes the
static check; `tolist` dispatches no aten op, so the recorder never sees it. The whole rmsnorm is
computed in plain Python from `torch.Tensor.tolist`, and a @triton.jit kernel only stores the
finished numbers one by one (a "kernel" that computes nothing).
Expected: rejected (torch-op-not-allowed: tolist); never correct."""

import math

import torch
import triton
import triton.language as tl


@triton.jit
def _put(out_ptr, index, value):
    tl.store(out_ptr + index, value)


def kernel(x, weight, eps):
    rows, w = torch.Tensor.tolist(x), torch.Tensor.tolist(weight)
    out = torch.empty_like(x)
    hidden = len(w)
    for t, row in enumerate(rows):
        rstd = 1.0 / math.sqrt(sum(v * v for v in row) / hidden + eps)
        for h, v in enumerate(row):
            _put[(1,)](out, t * hidden + h, v * rstd * w[h])
    return out
