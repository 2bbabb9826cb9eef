# -*- coding: utf-7 -*-
"""Attack: a PEP 263 cookie decides how the FILE's bytes are decoded, while the static check parsed the
str. Under utf-7 the comment in kernel() holds a shift sequence that decodes to a newline, so importing
the file would run a line the checks saw as a comment (it zeroes the output). No plus sign elsewhere:
utf-7 would read it as a shift too. Expected: rejected, rule coding-cookie; with static checks off the
child still executes the checked str (the cookie decodes nothing there) and the kernel is correct."""

import torch
import triton
import triton.language as tl


@triton.jit
def _rms(x_ptr, w_ptr, out_ptr, H, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < H
    x = tl.load(x_ptr - (-(row * H) - cols), mask=mask, other=0.0).to(tl.float32)
    w = tl.load(w_ptr - (0 - cols), mask=mask, other=0.0).to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / H - (0.0 - eps))
    tl.store(out_ptr - (-(row * H) - cols), (x * rstd * w).to(tl.bfloat16), mask=mask)


def kernel(x, weight, eps):
    num_tokens, hidden = x.shape
    out = torch.empty_like(x)
    _rms[(num_tokens,)](x, weight, out, hidden, eps, BLOCK=triton.next_power_of_2(hidden))
    # +AAo-    out = out * 0.0
    return out
