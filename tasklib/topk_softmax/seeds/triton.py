"""Seed for topk_softmax: each program holds BLOCK_T tokens' whole rows of E logits (BLOCK_E >= E).

Softmax in float32 with each row's max subtracted; then k rounds of (row max, lowest index holding it,
mask it out) fill [BLOCK_T, BLOCK_K] registers of weights and ids, renormalized by their row sums when
asked.
"""

import torch
import triton
import triton.language as tl

CONFIG = {"BLOCK_T": 4, "num_warps": 4}
SEARCH_SPACE = {
    "BLOCK_T": [1, 2, 4, 8, 16],
    "num_warps": [1, 2, 4, 8],
}


@triton.jit
def _topk_softmax_kernel(gating_ptr, weights_ptr, ids_ptr, num_tokens, num_experts, topk, stride_g,
                         RENORMALIZE: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_E: tl.constexpr,
                         BLOCK_K: tl.constexpr):
    rows = tl.program_id(0).to(tl.int64) * BLOCK_T + tl.arange(0, BLOCK_T)
    experts = tl.arange(0, BLOCK_E)
    in_row = rows[:, None] < num_tokens
    valid = in_row & (experts[None, :] < num_experts)
    logits = tl.load(gating_ptr + rows[:, None] * stride_g + experts[None, :], mask=valid, other=0.0)
    logits = tl.where(valid, logits.to(tl.float32), -3.0e38)
    shifted = tl.exp(logits - tl.max(logits, axis=1)[:, None])
    shifted = tl.where(valid, shifted, 0.0)
    # a real row's sum is >= 1 (its max contributes exp(0)); the floor keeps padded rows off 0 / 0
    probs = shifted / tl.maximum(tl.sum(shifted, axis=1), 1.0)[:, None]
    probs = tl.where(valid, probs, -1.0)
    slots = tl.arange(0, BLOCK_K)[None, :]
    weights = tl.zeros([BLOCK_T, BLOCK_K], dtype=tl.float32)
    ids = tl.zeros([BLOCK_T, BLOCK_K], dtype=tl.int32)
    for j in range(topk):
        best = tl.max(probs, axis=1)[:, None]
        index = tl.min(tl.where(probs == best, experts[None, :], BLOCK_E), axis=1)[:, None]
        weights = tl.where(slots == j, best, weights)
        ids = tl.where(slots == j, index, ids)
        probs = tl.where(experts[None, :] == index, -1.0, probs)
    if RENORMALIZE:
        weights = weights / tl.sum(weights, axis=1)[:, None]
    keep = in_row & (slots < topk)
    tl.store(weights_ptr + rows[:, None] * topk + slots, weights, mask=keep)
    tl.store(ids_ptr + rows[:, None] * topk + slots, ids, mask=keep)


def kernel(gating_output, topk, renormalize):
    num_tokens, num_experts = gating_output.shape
    gating_output = gating_output.contiguous()
    weights = torch.empty((num_tokens, topk), dtype=torch.float32, device=gating_output.device)
    ids = torch.empty((num_tokens, topk), dtype=torch.int32, device=gating_output.device)
    block_t = CONFIG["BLOCK_T"]
    _topk_softmax_kernel[(triton.cdiv(num_tokens, block_t),)](
        gating_output, weights, ids, num_tokens, num_experts, topk, gating_output.stride(0),
        RENORMALIZE=bool(renormalize), BLOCK_T=block_t, BLOCK_E=triton.next_power_of_2(num_experts),
        BLOCK_K=triton.next_power_of_2(topk), num_warps=CONFIG["num_warps"])
    return weights, ids
