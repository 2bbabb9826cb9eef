"""Attack: read the parent's files (the store database) and leak their content in an error.
STORE_PATH is replaced by the test with a file outside the sandbox's readable paths.
Expected: rejected (forbidden-builtin); with static checks off Landlock denies the read."""

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


STORE_PATH = "/nonexistent"  # replaced by the test


def kernel(x, weight, eps):
    raise RuntimeError("store says: " + open(STORE_PATH).read())
