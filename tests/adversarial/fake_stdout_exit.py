"""Attack: print a fake 'correct' result on stdout, then leave with os._exit(0) before the
harness can send anything.
Expected: rejected (forbidden-import); with static checks off the parent gets no result over the
private channel and reports runtime_error (stdout is only a log)."""

import os

import triton
import triton.language as tl


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
    print('{"status": "correct", "trials": [], "forbidden_ops": {}, "timings": [], "tampered": []}', flush=True)
    os._exit(0)
