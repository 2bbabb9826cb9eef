"""Seed for moe_fused_gate: one program per token (or per BLOCK_T tokens), everything in registers.

The token's E logits are loaded as a [groups, experts-per-group] tile; the group score is the best
plus the second-best biased score of each row; the topk_group best rows are kept by repeated argmax;
then topk experts are picked by repeated argmax over the kept rows (lowest index on ties), their
sigmoid values gathered, renormalized and scaled.
"""

import torch
import triton
import triton.language as tl

CONFIG = {"BLOCK_T": 1, "num_warps": 4}
SEARCH_SPACE = {
    "BLOCK_T": [1, 2, 4],
    "num_warps": [1, 2, 4, 8],
}


@triton.jit
def _gate_token(scores_ptr, bias_ptr, weights_ptr, ids_ptr, token, num_tokens, num_experts, num_groups,
                per_group, topk_group, topk, factor, BLOCK_G: tl.constexpr, BLOCK_PG: tl.constexpr,
                BLOCK_K: tl.constexpr):
    groups = tl.arange(0, BLOCK_G)
    cols = tl.arange(0, BLOCK_PG)
    flat = groups[:, None] * per_group + cols[None, :]
    limit = tl.where(token < num_tokens, num_experts, 0)  # a token past the end reads nothing
    valid = (groups[:, None] < num_groups) & (cols[None, :] < per_group) & (flat < limit)
    logits = tl.load(scores_ptr + token.to(tl.int64) * num_experts + flat, mask=valid, other=0.0)
    s = 1.0 / (1.0 + tl.exp(-logits))
    choice = tl.where(valid, s + tl.load(bias_ptr + flat, mask=valid, other=0.0), float("-inf"))
    # group score: best + second best of each row (the first best removed by its lowest column)
    best = tl.max(choice, axis=1)
    best_col = tl.min(tl.where(choice == best[:, None], cols[None, :], BLOCK_PG), axis=1)
    second = tl.max(tl.where(cols[None, :] == best_col[:, None], float("-inf"), choice), axis=1)
    group_score = tl.where(groups < num_groups, best + second, float("-inf"))
    kept = groups < 0
    for _ in range(topk_group):
        top = tl.max(group_score, axis=0)
        pick = tl.min(tl.where(group_score == top, groups, BLOCK_G), axis=0)
        kept = kept | (groups == pick)
        group_score = tl.where(groups == pick, float("-inf"), group_score)
    work = tl.where(kept[:, None] & valid, choice, float("-inf"))
    slots = tl.arange(0, BLOCK_K)
    out_ids = tl.zeros([BLOCK_K], dtype=tl.int32)
    out_w = tl.zeros([BLOCK_K], dtype=tl.float32)
    for j in range(topk):
        top = tl.max(tl.max(work, axis=1), axis=0)
        idx = tl.min(tl.min(tl.where(work == top, flat, num_experts * 2), axis=1), axis=0)
        hit = (flat == idx) & valid  # padded columns alias the next group's flat ids
        weight = tl.sum(tl.sum(tl.where(hit, s, 0.0), axis=1), axis=0)
        out_ids = tl.where(slots == j, idx, out_ids)
        out_w = tl.where(slots == j, weight, out_w)
        work = tl.where(hit, float("-inf"), work)
    out_w = out_w / tl.sum(out_w, axis=0) * factor
    row = token.to(tl.int64) * topk
    mask = slots < tl.where(token < num_tokens, topk, 0)
    tl.store(ids_ptr + row + slots, out_ids, mask=mask)
    tl.store(weights_ptr + row + slots, out_w, mask=mask)


@triton.jit
def _gate_kernel(scores_ptr, bias_ptr, weights_ptr, ids_ptr, num_tokens, num_experts, num_groups, per_group,
                 topk_group, topk, factor, BLOCK_T: tl.constexpr, BLOCK_G: tl.constexpr,
                 BLOCK_PG: tl.constexpr, BLOCK_K: tl.constexpr):
    for i in range(BLOCK_T):
        token = tl.program_id(0) * BLOCK_T + i
        _gate_token(scores_ptr, bias_ptr, weights_ptr, ids_ptr, token, num_tokens, num_experts, num_groups,
                    per_group, topk_group, topk, factor, BLOCK_G, BLOCK_PG, BLOCK_K)


def kernel(scores, bias, num_expert_group, topk_group, topk, routed_scaling_factor):
    num_tokens, num_experts = scores.shape
    per_group = num_experts // num_expert_group
    scores = scores.contiguous()
    weights = torch.empty((num_tokens, topk), dtype=torch.float32, device=scores.device)
    ids = torch.empty((num_tokens, topk), dtype=torch.int32, device=scores.device)
    block_t = CONFIG["BLOCK_T"]
    _gate_kernel[(triton.cdiv(num_tokens, block_t),)](
        scores, bias.contiguous(), weights, ids, num_tokens, num_experts, num_expert_group, per_group,
        topk_group, topk, float(routed_scaling_factor), BLOCK_T=block_t,
        BLOCK_G=triton.next_power_of_2(num_expert_group), BLOCK_PG=triton.next_power_of_2(per_group),
        BLOCK_K=triton.next_power_of_2(topk), num_warps=CONFIG["num_warps"],
    )
    return weights, ids
