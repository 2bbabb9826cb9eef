"""Attack: compute once per shape and afterwards return a fresh copy of the cached answer (a new
tensor each time, so storage checks pass) regardless of the input values.
Expected: incorrect: every trial of a shape gets fresh random inputs from a secret seed, so the
cached answer is wrong from the second trial on."""

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


@triton.jit
def _copy(src_ptr, dst_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(dst_ptr + offs, tl.load(src_ptr + offs, mask=offs < n), mask=offs < n)


CACHE = {}


def kernel(x, weight, eps):
    key = tuple(x.shape)
    if key not in CACHE:
        first = torch.empty_like(x)
        _rms[(x.shape[0],)](x, weight, first, x.shape[1], eps, BLOCK=triton.next_power_of_2(x.shape[1]))
        CACHE[key] = first
    out = torch.empty_like(x)
    _copy[(triton.cdiv(x.numel(), 256),)](CACHE[key], out, x.numel(), BLOCK=256)
    return out
