"""Seed for fused_add_rmsnorm: one program per row, two passes over H in BLOCK_H chunks.

Pass one adds x and residual in float32, rounds the sum to bf16, stores residual_out and accumulates
the sum of squares of the ROUNDED values in float32; pass two recomputes the rounded sum from the
inputs (no read-back of residual_out, so no cross-thread ordering is needed) and writes
r * rsqrt(mean + eps) * weight as bf16.
"""

import torch
import triton
import triton.language as tl

CONFIG = {"BLOCK_H": 1024, "num_warps": 4}
SEARCH_SPACE = {
    "BLOCK_H": [256, 512, 1024, 2048, 4096, 8192],
    "num_warps": [1, 2, 4, 8, 16],
}


@triton.jit
def _fused_add_rmsnorm_kernel(x_ptr, res_ptr, weight_ptr, out_ptr, res_out_ptr, hidden_size, eps,
                              stride_x, stride_res, stride_out, stride_res_out, BLOCK_H: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    x_row = x_ptr + row * stride_x
    res_row = res_ptr + row * stride_res
    out_row = out_ptr + row * stride_out
    res_out_row = res_out_ptr + row * stride_res_out
    squares = tl.zeros([BLOCK_H], dtype=tl.float32)
    for start in range(0, hidden_size, BLOCK_H):
        cols = start + tl.arange(0, BLOCK_H)
        mask = cols < hidden_size
        x = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32)
        res = tl.load(res_row + cols, mask=mask, other=0.0).to(tl.float32)
        rounded = (x + res).to(res_out_ptr.dtype.element_ty)
        tl.store(res_out_row + cols, rounded, mask=mask)
        r = rounded.to(tl.float32)
        squares += r * r
    rstd = 1.0 / tl.sqrt(tl.sum(squares, axis=0) / hidden_size + eps)
    for start in range(0, hidden_size, BLOCK_H):
        cols = start + tl.arange(0, BLOCK_H)
        mask = cols < hidden_size
        x = tl.load(x_row + cols, mask=mask, other=0.0).to(tl.float32)
        res = tl.load(res_row + cols, mask=mask, other=0.0).to(tl.float32)
        r = (x + res).to(res_out_ptr.dtype.element_ty).to(tl.float32)
        w = tl.load(weight_ptr + cols, mask=mask, other=0.0).to(tl.float32)
        tl.store(out_row + cols, (r * rstd * w).to(out_ptr.dtype.element_ty), mask=mask)


def kernel(x, residual, weight, eps):
    num_tokens, hidden_size = x.shape
    x = x.contiguous()
    residual = residual.contiguous()
    out = torch.empty_like(x)
    residual_out = torch.empty_like(x)
    block_h = min(CONFIG["BLOCK_H"], triton.next_power_of_2(hidden_size))
    _fused_add_rmsnorm_kernel[(num_tokens,)](
        x, residual, weight.contiguous(), out, residual_out, hidden_size, eps,
        x.stride(0), residual.stride(0), out.stride(0), residual_out.stride(0),
        BLOCK_H=block_h, num_warps=CONFIG["num_warps"])
    return out, residual_out
