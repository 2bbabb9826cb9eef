"""Seed for moe_combine: one program per (token, column block) loads its k rows as a tile and sums them.

Weights are applied in float32 and the sum is written once as bf16; dropped slots (inv_idx == -1)
are masked out of the load, so they contribute nothing.
"""

import torch
import triton
import triton.language as tl

CONFIG = {"BLOCK_H": 256, "num_warps": 4}
SEARCH_SPACE = {
    "BLOCK_H": [64, 128, 256, 512, 1024],
    "num_warps": [1, 2, 4, 8],
}


@triton.jit
def _combine_kernel(expert_out_ptr, weights_ptr, inv_ptr, out_ptr, hidden_size, top_k,
                    stride_expert, stride_out, BLOCK_K: tl.constexpr, BLOCK_H: tl.constexpr):
    token = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
    col_ok = cols < hidden_size
    slots = tl.arange(0, BLOCK_K)
    slot_ok = slots < top_k
    rows = tl.load(inv_ptr + token * top_k + slots, mask=slot_ok, other=-1)
    weights = tl.load(weights_ptr + token * top_k + slots, mask=slot_ok, other=0.0)
    routed = rows >= 0
    row_ptrs = expert_out_ptr + tl.where(routed, rows, 0).to(tl.int64)[:, None] * stride_expert
    values = tl.load(row_ptrs + cols[None, :], mask=routed[:, None] & col_ok[None, :], other=0.0)
    acc = tl.sum(values.to(tl.float32) * weights[:, None], axis=0)
    tl.store(out_ptr + token.to(tl.int64) * stride_out + cols, acc.to(out_ptr.dtype.element_ty), mask=col_ok)


def kernel(expert_out, topk_weights, inv_idx):
    num_tokens, top_k = inv_idx.shape
    hidden_size = expert_out.shape[1]
    expert_out = expert_out.contiguous()
    out = torch.empty((num_tokens, hidden_size), dtype=expert_out.dtype, device=expert_out.device)
    grid = (num_tokens, triton.cdiv(hidden_size, CONFIG["BLOCK_H"]))
    _combine_kernel[grid](
        expert_out, topk_weights.contiguous(), inv_idx.contiguous(), out, hidden_size, top_k,
        expert_out.stride(0), out.stride(0),
        BLOCK_K=triton.next_power_of_2(top_k), BLOCK_H=CONFIG["BLOCK_H"], num_warps=CONFIG["num_warps"],
    )
    return out
