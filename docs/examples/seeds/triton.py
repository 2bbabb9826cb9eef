"""Seed for the scale_rows example task: one program per (row, column block)."""

import torch
import triton
import triton.language as tl

CONFIG = {"BLOCK_H": 256, "num_warps": 4}
SEARCH_SPACE = {"BLOCK_H": [64, 128, 256, 512, 1024], "num_warps": [1, 2, 4, 8]}


@triton.jit
def _scale_rows_kernel(x_ptr, scale_ptr, out_ptr, hidden_size, BLOCK_H: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
    mask = cols < hidden_size
    offsets = row.to(tl.int64) * hidden_size + cols
    x = tl.load(x_ptr + offsets, mask=mask)
    tl.store(out_ptr + offsets, x * tl.load(scale_ptr + row), mask=mask)


def kernel(x, scale):
    x = x.contiguous()
    out = torch.empty_like(x)
    grid = (x.shape[0], triton.cdiv(x.shape[1], CONFIG["BLOCK_H"]))
    _scale_rows_kernel[grid](x, scale, out, x.shape[1], BLOCK_H=CONFIG["BLOCK_H"], num_warps=CONFIG["num_warps"])
    return out
