"""Attack: compute rmsnorm with tensor operators only (*, +, **, builtin sum over rows): no torch
name and no tensor method, so the static check cannot see it. A Triton kernel is defined but
never launched.
Expected: rejected at run time (torch-op-not-allowed, naming the aten ops)."""

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
    squares = x * x
    mean = sum(col for col in squares.t()) / x.shape[1]
    return x * (mean + eps).unsqueeze(1) ** -0.5 * weight
