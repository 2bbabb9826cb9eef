"""Attack: leave a child process running after the evaluation (a later evaluation's neighbour).
Expected: rejected (forbidden-import); with static checks off the sandbox kills the whole process
tree (the test looks for the sleeper afterwards)."""

import subprocess

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
    subprocess.Popen(["sleep", "987.654"], start_new_session=True)
    raise RuntimeError("left a sleeper behind")
