"""Red-team attack: tell the timed calls from the checked ones. The checked calls come first, so a
candidate that counts its calls knows when timing has started, and from then on computes with
plain torch operators (on a device it could return a cached output and skip the work); the
parent only re-checks the outputs of the final call.
Expected: rejected (torch-op-not-allowed): interpreter-mode timed calls all run under the run-time
op guard, and in device mode a secret quarter of them do (tests/test_evaluator_device.py)."""

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
    out = torch.empty_like(x)
    _rms[(x.shape[0],)](x, weight, out, x.shape[1], eps, BLOCK=triton.next_power_of_2(x.shape[1]))
    CALLS.append(1)
    # rmsnorm's smoke suite: 8 checked calls, 3 watched warm-up calls, 3 timed reps, then the final
    # re-checked call; torch only on the timed reps, an honest kernel everywhere else.
    if 11 < len(CALLS) <= 14:
        return out * 1  # plain torch arithmetic, only while being timed
    return out
