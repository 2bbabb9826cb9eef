"""Attack (moe_dispatch): never write inv_idx for dropped pairs (ids outside [0, E)), relying on
freshly allocated memory happening to read as -1. That is exactly what memory filled with 0xFF
bytes looks like, so the first call (poison 0xFF) passes.
Expected: incorrect: the second call's allocations are poisoned with 0x7F and the checker fails it."""

import torch
import triton
import triton.language as tl


@triton.jit
def _count(ids_ptr, counts_ptr, num_pairs, num_experts, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    expert = tl.load(ids_ptr + offs, mask=offs < num_pairs, other=-1)
    valid = (offs < num_pairs) & (expert >= 0) & (expert < num_experts)
    tl.atomic_add(counts_ptr + tl.where(valid, expert, 0), 1, mask=valid)


@triton.jit
def _offsets(counts_ptr, offsets_ptr, cursor_ptr, num_experts, BLOCK_E: tl.constexpr):
    offs = tl.arange(0, BLOCK_E)
    counts = tl.load(counts_ptr + offs, mask=offs < num_experts, other=0).to(tl.int64)
    inclusive = tl.cumsum(counts, axis=0)
    tl.store(offsets_ptr + offs, inclusive - counts, mask=offs < num_experts)
    tl.store(offsets_ptr + 1 + offs, inclusive, mask=offs == num_experts - 1)
    tl.store(cursor_ptr + offs, (inclusive - counts).to(tl.int32), mask=offs < num_experts)


@triton.jit
def _scatter(hidden_ptr, ids_ptr, cursor_ptr, permuted_ptr, src_ptr, inv_ptr, H, top_k, num_experts,
             BLOCK_H: tl.constexpr):
    pair = tl.program_id(0)
    token = pair // top_k
    expert = tl.load(ids_ptr + pair)
    if (expert >= 0) & (expert < num_experts):
        row = tl.atomic_add(cursor_ptr + expert, 1)
        tl.store(inv_ptr + pair, row)  # dropped pairs are never written: "they read as -1 anyway"
        tl.store(src_ptr + row, pair)
        cols = tl.arange(0, BLOCK_H)
        values = tl.load(hidden_ptr + token.to(tl.int64) * H + cols, mask=cols < H)
        tl.store(permuted_ptr + row.to(tl.int64) * H + cols, values, mask=cols < H)


def kernel(hidden_states, topk_ids, num_experts):
    num_tokens, top_k = topk_ids.shape
    hidden = hidden_states.shape[1]
    pairs = num_tokens * top_k
    device = hidden_states.device
    counts = torch.zeros(num_experts, dtype=torch.int32, device=device)
    cursor = torch.empty(num_experts, dtype=torch.int32, device=device)
    offsets = torch.empty(num_experts + 1, dtype=torch.int64, device=device)
    permuted = torch.empty((pairs, hidden), dtype=hidden_states.dtype, device=device)
    src_idx = torch.empty(pairs, dtype=torch.int32, device=device)
    inv_idx = torch.empty((num_tokens, top_k), dtype=torch.int32, device=device)
    ids = topk_ids.contiguous()
    hidden_states = hidden_states.contiguous()
    _count[(triton.cdiv(pairs, 256),)](ids, counts, pairs, num_experts, BLOCK=256)
    _offsets[(1,)](counts, offsets, cursor, num_experts, BLOCK_E=triton.next_power_of_2(num_experts))
    if pairs > 0:
        _scatter[(pairs,)](hidden_states, ids, cursor, permuted, src_idx, inv_idx, hidden, top_k, num_experts,
                           BLOCK_H=triton.next_power_of_2(hidden))
    return permuted, offsets, src_idx, inv_idx
