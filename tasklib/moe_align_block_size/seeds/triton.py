"""Seed for moe_align_block_size: count, padded prefix sum, fill pads and block experts, scatter ids.

Four kernels: (1) count valid pairs per expert with atomics, (2) one program rounds each count
up to the block size, prefix-sums it into segment starts and ends and writes the total, (3) each
program takes BLOCK_FILL blocks, finds each block's expert by counting the segments that end
before it, and writes the sentinel into its pad slots, (4) pairs claim a slot in their expert's
segment with an atomic cursor bump. Order within a segment depends on the
atomics, which the task allows.
"""

import torch
import triton
import triton.language as tl

CONFIG = {"BLOCK_PAIRS": 256, "BLOCK_FILL": 16, "num_warps": 4}
SEARCH_SPACE = {
    "BLOCK_PAIRS": [128, 256, 512, 1024],
    "BLOCK_FILL": [4, 8, 16, 32, 64],
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
def _segments_kernel(counts_ptr, cursor_ptr, seg_end_ptr, total_ptr, num_experts, block_size,
                     BLOCK_E: tl.constexpr):
    offs = tl.arange(0, BLOCK_E)
    in_bounds = offs < num_experts
    counts = tl.load(counts_ptr + offs, mask=in_bounds, other=0)
    padded = (counts + block_size - 1) // block_size * block_size
    inclusive = tl.cumsum(padded, axis=0)
    tl.store(cursor_ptr + offs, inclusive - padded, mask=in_bounds)
    tl.store(seg_end_ptr + offs, inclusive, mask=in_bounds)
    tl.store(total_ptr + offs * 0, inclusive, mask=offs == num_experts - 1)


@triton.jit
def _blocks_kernel(counts_ptr, seg_end_ptr, total_ptr, sorted_ptr, expert_ids_ptr, num_experts, sentinel,
                   block_size, BLOCK_E: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_FILL: tl.constexpr):
    blocks = tl.program_id(0) * BLOCK_FILL + tl.arange(0, BLOCK_FILL)
    live = blocks < tl.load(total_ptr) // block_size
    experts = tl.arange(0, BLOCK_E)
    seg_ends = tl.load(seg_end_ptr + experts, mask=experts < num_experts, other=2147483647)
    block_start = blocks * block_size
    # a block's expert = how many segments end at or before the block starts (skips empty experts)
    expert = tl.sum((seg_ends[None, :] <= block_start[:, None]).to(tl.int32), axis=1)
    tl.store(expert_ids_ptr + blocks, expert, mask=live)
    safe_expert = tl.where(live, expert, 0)
    count = tl.load(counts_ptr + safe_expert, mask=live, other=0)
    seg_end = tl.load(seg_end_ptr + safe_expert, mask=live, other=0)
    real_end = seg_end - (count + block_size - 1) // block_size * block_size + count
    lanes = tl.arange(0, BLOCK_B)
    slots = block_start[:, None] + lanes[None, :]
    is_pad = live[:, None] & (lanes[None, :] < block_size) & (slots >= real_end[:, None])
    tl.store(sorted_ptr + slots, tl.zeros([BLOCK_FILL, BLOCK_B], dtype=tl.int32) + sentinel, mask=is_pad)


@triton.jit
def _scatter_kernel(ids_ptr, cursor_ptr, sorted_ptr, num_pairs, num_experts, BLOCK_PAIRS: tl.constexpr):
    offs = tl.program_id(0) * BLOCK_PAIRS + tl.arange(0, BLOCK_PAIRS)
    in_bounds = offs < num_pairs
    expert = tl.load(ids_ptr + offs, mask=in_bounds, other=-1)
    valid = in_bounds & (expert >= 0) & (expert < num_experts)
    slot = tl.atomic_add(cursor_ptr + tl.where(valid, expert, 0), 1, mask=valid)
    tl.store(sorted_ptr + tl.where(valid, slot, 0), offs, mask=valid)


def kernel(topk_ids, num_experts, block_size):
    num_pairs = topk_ids.numel()
    device = topk_ids.device
    capacity = num_pairs + num_experts * (block_size - 1)
    ids = topk_ids.contiguous()
    counts = torch.zeros(num_experts, dtype=torch.int32, device=device)
    cursor = torch.empty(num_experts, dtype=torch.int32, device=device)
    seg_end = torch.empty(num_experts, dtype=torch.int32, device=device)
    sorted_token_ids = torch.empty(capacity, dtype=torch.int32, device=device)
    expert_ids = torch.empty(capacity // block_size, dtype=torch.int32, device=device)
    num_tokens_post_pad = torch.empty(1, dtype=torch.int32, device=device)
    block_pairs = CONFIG["BLOCK_PAIRS"]
    block_e = triton.next_power_of_2(num_experts)
    pair_grid = (triton.cdiv(num_pairs, block_pairs),)
    _count_kernel[pair_grid](ids, counts, num_pairs, num_experts, BLOCK_PAIRS=block_pairs,
                             num_warps=CONFIG["num_warps"])
    _segments_kernel[(1,)](counts, cursor, seg_end, num_tokens_post_pad, num_experts, block_size,
                           BLOCK_E=block_e, num_warps=4)
    _blocks_kernel[(triton.cdiv(capacity // block_size, CONFIG["BLOCK_FILL"]),)](
        counts, seg_end, num_tokens_post_pad, sorted_token_ids, expert_ids, num_experts, num_pairs, block_size,
        BLOCK_E=block_e, BLOCK_B=triton.next_power_of_2(block_size), BLOCK_FILL=CONFIG["BLOCK_FILL"],
        num_warps=CONFIG["num_warps"],
    )
    _scatter_kernel[pair_grid](ids, cursor, sorted_token_ids, num_pairs, num_experts,
                               BLOCK_PAIRS=block_pairs, num_warps=CONFIG["num_warps"])
    return sorted_token_ids, expert_ids, num_tokens_post_pad
