"""Attack: the Triton interpreter re-reads a @triton.jit function from its file and starts at the LAST
line beginning with `def ` (FunctionRewriter._find_def), so the `def` inside the string at the end
of this body is what runs: a body the static checks never looked at (here it writes zeros).
Expected: rejected before running, rule interpreter-source-mismatch."""

import torch
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
    """
def _rms(x_ptr, w_ptr, out_ptr, H, eps, BLOCK: tl.constexpr):
    cols = tl.arange(0, BLOCK)
    tl.store(out_ptr + tl.program_id(0) * H + cols, tl.zeros([BLOCK], dtype=tl.bfloat16), mask=cols < H)
    #"""


def kernel(x, weight, eps):
    num_tokens, hidden = x.shape
    out = torch.empty_like(x)
    _rms[(num_tokens,)](x, weight, out, hidden, eps, BLOCK=triton.next_power_of_2(hidden))
    return out
