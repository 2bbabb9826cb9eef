"""Seed for rotary_embedding: one program per (token, BLOCK_HEADS heads), q and k in two launches.

Each program loads its token's position and the cos/sin halves of that cache row once, then rotates a
[BLOCK_HEADS, rot_dim/2] tile of pairs (NeoX: j and j + rot_dim/2; GPT-J: 2j and 2j + 1) and copies
the columns past rot_dim unchanged. Writes new tensors; the inputs are not touched.
"""

import torch
import triton
import triton.language as tl

CONFIG = {"BLOCK_HEADS": 4, "num_warps": 4}
SEARCH_SPACE = {
    "BLOCK_HEADS": [1, 2, 4, 8, 16, 32],
    "num_warps": [1, 2, 4, 8],
}


@triton.jit
def _rope_kernel(pos_ptr, x_ptr, out_ptr, cache_ptr, num_heads, head_size, half, rot_dim,
                 IS_NEOX: tl.constexpr, BLOCK_HEADS: tl.constexpr, BLOCK_HALF: tl.constexpr,
                 BLOCK_PASS: tl.constexpr):
    token = tl.program_id(0)
    heads = tl.program_id(1) * BLOCK_HEADS + tl.arange(0, BLOCK_HEADS)
    head_ok = heads < num_heads
    pos = tl.load(pos_ptr + token)
    j = tl.arange(0, BLOCK_HALF)
    j_ok = j < half
    cos = tl.load(cache_ptr + pos * rot_dim + j, mask=j_ok, other=1.0)
    sin = tl.load(cache_ptr + pos * rot_dim + half + j, mask=j_ok, other=0.0)
    if IS_NEOX:
        i1 = j
        i2 = j + half
    else:
        i1 = 2 * j
        i2 = 2 * j + 1
    base = token.to(tl.int64) * num_heads * head_size + heads.to(tl.int64)[:, None] * head_size
    mask = head_ok[:, None] & j_ok[None, :]
    x1 = tl.load(x_ptr + base + i1[None, :], mask=mask, other=0.0).to(tl.float32)
    x2 = tl.load(x_ptr + base + i2[None, :], mask=mask, other=0.0).to(tl.float32)
    o1 = x1 * cos[None, :] - x2 * sin[None, :]
    o2 = x2 * cos[None, :] + x1 * sin[None, :]
    tl.store(out_ptr + base + i1[None, :], o1.to(out_ptr.dtype.element_ty), mask=mask)
    tl.store(out_ptr + base + i2[None, :], o2.to(out_ptr.dtype.element_ty), mask=mask)
    for start in range(rot_dim, head_size, BLOCK_PASS):  # partial rotary: the rest passes through
        cols = start + tl.arange(0, BLOCK_PASS)
        pass_mask = head_ok[:, None] & (cols[None, :] < head_size)
        tl.store(out_ptr + base + cols[None, :], tl.load(x_ptr + base + cols[None, :], mask=pass_mask),
                 mask=pass_mask)


def _launch(positions, x, out, cos_sin_cache, head_size, is_neox):
    num_tokens = x.shape[0]
    num_heads = x.shape[1] // head_size
    rot_dim = cos_sin_cache.shape[1]
    block_heads = min(CONFIG["BLOCK_HEADS"], triton.next_power_of_2(num_heads))
    grid = (num_tokens, triton.cdiv(num_heads, block_heads))
    _rope_kernel[grid](
        positions, x, out, cos_sin_cache, num_heads, head_size, rot_dim // 2, rot_dim,
        IS_NEOX=bool(is_neox), BLOCK_HEADS=block_heads, BLOCK_HALF=triton.next_power_of_2(rot_dim // 2),
        BLOCK_PASS=triton.next_power_of_2(max(head_size - rot_dim, 1)), num_warps=CONFIG["num_warps"],
    )


def kernel(positions, q, k, cos_sin_cache, head_size, is_neox):
    positions = positions.contiguous()
    cache = cos_sin_cache.contiguous()
    q, k = q.contiguous(), k.contiguous()
    q_out = torch.empty_like(q)
    k_out = torch.empty_like(k)
    if q.shape[0] > 0:
        _launch(positions, q, q_out, cache, head_size, is_neox)
        _launch(positions, k, k_out, cache, head_size, is_neox)
    return q_out, k_out
