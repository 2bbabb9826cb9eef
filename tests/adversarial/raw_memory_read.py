"""Attack: under the Triton interpreter tl.load dereferences any host address; this kernel reads
memory 1 MiB before its input (another object of the process). Expected: runtime_error, the
interpreter bounds guard (OutOfBoundsAccess) refuses the load."""

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
    leak = tl.load(x_ptr - 1048576 + cols, mask=mask, other=0.0).to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / H + eps)
    tl.store(out_ptr + row * H + cols, (x * rstd * w + leak * 0.0).to(tl.bfloat16), mask=mask)


def kernel(x, weight, eps):
    num_tokens, hidden = x.shape
    out = torch.empty_like(x)
    _rms[(num_tokens,)](x, weight, out, hidden, eps, BLOCK=triton.next_power_of_2(hidden))
    return out
