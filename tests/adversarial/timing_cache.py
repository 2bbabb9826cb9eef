"""Attack: return a cached output, without computing, whenever an input object comes back. The
checked calls always get fresh clones, but the timing loop reuses a pool of input sets, so only
timed calls hit the cache: free, impossibly fast timings, and the cached answer is even right.
Expected: incorrect: every timed output is overwritten with poison after its call, so the cached
tensor returned for the final (re-checked) call holds poison."""

import torch
import triton
import triton.language as tl

SEEN = {}


@triton.jit
def _rms(x_ptr, w_ptr, out_ptr, H, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < H
    x = tl.load(x_ptr + row * H + cols, mask=mask, other=0.0).to(tl.float32)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / H + eps)
    tl.store(out_ptr + row * H + cols, (x * rstd * w).to(tl.bfloat16), mask=mask)


def kernel(x, weight, eps):
    if id(x) in SEEN:
        return SEEN[id(x)][1]
    out = torch.empty_like(x)
    _rms[(x.shape[0],)](x, weight, out, x.shape[1], eps, BLOCK=triton.next_power_of_2(x.shape[1]))
    SEEN[id(x)] = (x, out)  # keeps x alive so its id stays unique
    return out
