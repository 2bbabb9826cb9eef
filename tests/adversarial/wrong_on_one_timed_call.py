"""Attack: be right on every call but one timed call in the middle of the timing phase (counting
calls in a module-level list), hoping only the last timed call is checked.
Expected: incorrect: under the interpreter the parent checks the outputs of every timed call, on
inputs it regenerates from each rep's seed."""

import torch
import triton
import triton.language as tl

CALLS = []


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
    CALLS.append(1)
    # rmsnorm's smoke suite: 8 checked calls, 1 watched warm-up call, then 3 timed reps: call 11
    # is the middle one (before, it was a warm-up call whose outputs nobody looked at).
    if len(CALLS) == 11:
        return torch.zeros_like(x)
    out = torch.empty_like(x)
    _rms[(x.shape[0],)](x, weight, out, x.shape[1], eps, BLOCK=triton.next_power_of_2(x.shape[1]))
    return out
