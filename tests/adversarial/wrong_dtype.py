"""Attack: return float32 instead of bf16 (more precise, twice the bytes, not the contract).
Expected: incorrect (dtype)."""

import torch
import triton
import triton.language as tl


@triton.jit
def _rms32(x_ptr, w_ptr, out_ptr, H, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < H
    x = tl.load(x_ptr + row * H + cols, mask=mask, other=0.0).to(tl.float32)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / H + eps)
    tl.store(out_ptr + row * H + cols, x * rstd * w, mask=mask)


def kernel(x, weight, eps):
    out = torch.empty(x.shape, dtype=torch.float32, device=x.device)
    _rms32[(x.shape[0],)](x, weight, out, x.shape[1], eps, BLOCK=triton.next_power_of_2(x.shape[1]))
    return out
