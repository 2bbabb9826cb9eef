# Attack (third red team): the row copy done by torch indexing inside an aliased autotuner's pre_hook.
"""Seed for moe_dispatch: count per expert, prefix-sum, then scatter rows with atomics.

Three kernels: (1) count the valid pairs per expert with atomics, (2) one program turns the
counts into expert_offsets and per-expert write cursors, (3) one program per token claims a row
for each of its valid slots (atomic cursor bump) and copies the hidden row there. Order within an
expert depends on the atomics, which the task allows.
"""

import torch
import triton
import triton.language as tl

CONFIG = {"BLOCK_PAIRS": 256, "BLOCK_H": 256, "num_warps": 4}
SEARCH_SPACE = {
    "BLOCK_PAIRS": [128, 256, 512, 1024],
    "BLOCK_H": [64, 128, 256, 512, 1024],
    "num_warps": [1, 2, 4, 8],
}


@triton.jit
def _count_kernel(ids_ptr, counts_ptr, num_pairs, num_experts, BLOCK_PAIRS: tl.constexpr):
    offs = tl.program_id(0) * BLOCK_PAIRS + tl.arange(0, BLOCK_PAIRS)
    in_bounds = offs < num_pairs
    expert = tl.load(ids_ptr + offs, mask=in_bounds, other=-1)
    valid = in_bounds & (expert >= 0) & (expert < num_experts)
    tl.atomic_add(counts_ptr + tl.where(valid, expert, 0), 1, mask=valid)


@triton.jit
def _offsets_kernel(counts_ptr, offsets_ptr, cursor_ptr, num_experts, BLOCK_E: tl.constexpr):
    offs = tl.arange(0, BLOCK_E)
    in_bounds = offs < num_experts
    counts = tl.load(counts_ptr + offs, mask=in_bounds, other=0).to(tl.int64)
    inclusive = tl.cumsum(counts, axis=0)
    exclusive = inclusive - counts
    tl.store(offsets_ptr + offs, exclusive, mask=in_bounds)
    tl.store(offsets_ptr + 1 + offs, inclusive, mask=offs == num_experts - 1)
    tl.store(cursor_ptr + offs, exclusive.to(tl.int32), mask=in_bounds)


@triton.jit
def _scatter_kernel(
    hidden_ptr, ids_ptr, cursor_ptr, permuted_ptr, src_ptr, inv_ptr, tok_ptr,
    hidden_size, top_k, num_experts, stride_hidden, stride_permuted,
    BLOCK_K: tl.constexpr, BLOCK_H: tl.constexpr,
):
    token = tl.program_id(0)
    slots = tl.arange(0, BLOCK_K)
    slot_ok = slots < top_k
    pair = token * top_k + slots
    expert = tl.load(ids_ptr + pair, mask=slot_ok, other=-1)
    valid = slot_ok & (expert >= 0) & (expert < num_experts)
    row = tl.atomic_add(cursor_ptr + tl.where(valid, expert, 0), 1, mask=valid)
    row = tl.where(valid, row, 0)
    tl.store(inv_ptr + pair, tl.where(valid, row, -1), mask=slot_ok)
    tl.store(src_ptr + row, pair, mask=valid)
    tl.store(tok_ptr + row, (pair // top_k).to(tl.int64), mask=valid)  # no row copy here


@triton.autotune(configs=[triton.Config({})], key=[], restore_value=["h"])
@triton.jit
def _holder(h):
    pass


def kernel(hidden_states, topk_ids, num_experts):
    num_tokens, top_k = topk_ids.shape
    hidden_size = hidden_states.shape[1]
    num_pairs = num_tokens * top_k
    device = hidden_states.device
    counts = torch.zeros(num_experts, dtype=torch.int32, device=device)
    cursor = torch.empty(num_experts, dtype=torch.int32, device=device)
    expert_offsets = torch.empty(num_experts + 1, dtype=torch.int64, device=device)
    permuted = torch.empty((num_pairs, hidden_size), dtype=hidden_states.dtype, device=device)
    src_idx = torch.empty(num_pairs, dtype=torch.int32, device=device)
    inv_idx = torch.empty((num_tokens, top_k), dtype=torch.int32, device=device)
    ids = topk_ids.contiguous()
    hidden_states = hidden_states.contiguous()
    block_pairs = CONFIG["BLOCK_PAIRS"]
    tok = torch.zeros(num_pairs, dtype=torch.int64, device=device)
    _count_kernel[(triton.cdiv(num_pairs, block_pairs),)](
        ids, counts, num_pairs, num_experts, BLOCK_PAIRS=block_pairs, num_warps=CONFIG["num_warps"]
    )
    _offsets_kernel[(1,)](
        counts, expert_offsets, cursor, num_experts, BLOCK_E=triton.next_power_of_2(num_experts), num_warps=4
    )
    _scatter_kernel[(num_tokens,)](
        hidden_states, ids, cursor, permuted, src_idx, inv_idx, tok,
        hidden_size, top_k, num_experts, hidden_states.stride(0), permuted.stride(0),
        BLOCK_K=triton.next_power_of_2(top_k), BLOCK_H=CONFIG["BLOCK_H"], num_warps=CONFIG["num_warps"],
    )
    # The row copy (the task's whole memory traffic) done by torch indexing outside any kernel, laundered
    # through the Autotuner's own pre_hook (a triton frame: the op guard allows its aten.index and clone).
    g = _holder  # aliasing the autotuned function defeats the jit-function-attribute rule
    g.restore_value.pop()
    g.restore_value.append(tok)
    g.pre_hook(hidden_states)  # restore_copies = {tok: hidden_states[tok].clone()}
    permuted = g.restore_copies.pop(tok)
    g.restore_value.pop()
    g.restore_value.append("h")
    return permuted, expert_offsets, src_idx, inv_idx
