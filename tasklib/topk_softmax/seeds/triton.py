"""Seed for topk_softmax: one program per token holds its whole row of E logits (BLOCK_E >= E).

Softmax in float32 with the row max subtracted; then k rounds of (max, lowest index holding it,
mask it out) fill BLOCK_K-wide registers of weights and ids, renormalized by their sum when asked.
"""

import torch
import triton
import triton.language as tl

CONFIG = {"num_warps": 4}
SEARCH_SPACE = {
    "num_warps": [1, 2, 4, 8],
}


@triton.jit
def _topk_softmax_kernel(gating_ptr, weights_ptr, ids_ptr, num_experts, topk, stride_g,
                         RENORMALIZE: tl.constexpr, BLOCK_E: tl.constexpr, BLOCK_K: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    offs = tl.arange(0, BLOCK_E)
    mask = offs < num_experts
    logits = tl.load(gating_ptr + row * stride_g + offs, mask=mask, other=0.0).to(tl.float32)
    logits = tl.where(mask, logits, -3.0e38)
    shifted = tl.exp(logits - tl.max(logits, axis=0))
    shifted = tl.where(mask, shifted, 0.0)
    probs = shifted / tl.sum(shifted, axis=0)
    probs = tl.where(mask, probs, -1.0)
    slots = tl.arange(0, BLOCK_K)
    weights = tl.zeros([BLOCK_K], dtype=tl.float32)
    ids = tl.zeros([BLOCK_K], dtype=tl.int32)
    for j in range(topk):
        best = tl.max(probs, axis=0)
        index = tl.min(tl.where(probs == best, offs, BLOCK_E), axis=0)
        weights = tl.where(slots == j, best, weights)
        ids = tl.where(slots == j, index, ids)
        probs = tl.where(offs == index, -1.0, probs)
    if RENORMALIZE:
        weights = weights / tl.sum(weights, axis=0)
    keep = slots < topk
    tl.store(weights_ptr + row * topk + slots, weights, mask=keep)
    tl.store(ids_ptr + row * topk + slots, ids, mask=keep)


def kernel(gating_output, topk, renormalize):
    num_tokens, num_experts = gating_output.shape
    gating_output = gating_output.contiguous()
    weights = torch.empty((num_tokens, topk), dtype=torch.float32, device=gating_output.device)
    ids = torch.empty((num_tokens, topk), dtype=torch.int32, device=gating_output.device)
    _topk_softmax_kernel[(num_tokens,)](
        gating_output, weights, ids, num_experts, topk, gating_output.stride(0),
        RENORMALIZE=bool(renormalize), BLOCK_E=triton.next_power_of_2(num_experts),
        BLOCK_K=triton.next_power_of_2(topk), num_warps=CONFIG["num_warps"])
    return weights, ids
