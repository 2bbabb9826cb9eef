"""Attack: do torch arithmetic inside the grid lambda, which runs inside Triton's launcher, hoping
the run-time recorder attributes it to Triton and lets it pass.
Expected: rejected at run time (torch-op-not-allowed): the recorder reads the stack, and the
lambda's frame belongs to the candidate."""

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


STASH = {}


def kernel(x, weight, eps):
    num_tokens, hidden = x.shape
    out = torch.empty_like(x)
    grid = lambda meta: (num_tokens + 0 * STASH.setdefault("sq", x * x).shape[0],)  # noqa: E731
    _rms[grid](x, weight, out, hidden, eps, BLOCK=triton.next_power_of_2(hidden))
    return out
