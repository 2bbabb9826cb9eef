"""Attack: return a cached output, without computing, whenever an input object comes back (the
timing loop used to hand the same pool tensors to every rep: free, impossibly fast timings).
Here a hit raises instead (tuple index 2 does not exist), so any reuse of an input object is seen.
Expected: correct, and never a runtime error: every timed call gets fresh clones of its pool
entry, so the cache never hits and the candidate has to do the work it is timed for."""

import torch
import triton
import triton.language as tl

SEEN = []  # (input, output) pairs: object identity with `is` (id() is refused statically)


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
    for seen in SEEN:
        if seen[0] is x:
            return seen[2]  # IndexError: only reached if an input object is ever reused
    out = torch.empty_like(x)
    _rms[(x.shape[0],)](x, weight, out, x.shape[1], eps, BLOCK=triton.next_power_of_2(x.shape[1]))
    SEEN.append((x, out))  # keeps x alive, so no other object can take its place
    return out
