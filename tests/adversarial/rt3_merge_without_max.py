# Attack (third red team): the merge_attn_states seed changed to skip subtracting the larger LSE before exp.
"""Seed for merge_attn_states: one program per BLOCK_ROWS (token, head) rows, D in one BLOCK_D tile.

+inf LSEs are read as -inf; the larger LSE is subtracted before exp; a row whose sides are both
empty (-inf) writes v = 0 and lse = -inf instead of the NaN that -inf - -inf would give.
"""

import torch
import triton
import triton.language as tl

CONFIG = {"BLOCK_ROWS": 1, "num_warps": 4}
SEARCH_SPACE = {
    "BLOCK_ROWS": [1, 2, 4, 8],
    "num_warps": [1, 2, 4, 8],
}


@triton.jit
def _merge_kernel(va_ptr, lsea_ptr, vb_ptr, lseb_ptr, v_ptr, lse_ptr, num_rows, head_dim,
                  BLOCK_ROWS: tl.constexpr, BLOCK_D: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_ROWS + tl.arange(0, BLOCK_ROWS)
    row_ok = rows < num_rows
    a = tl.load(lsea_ptr + rows, mask=row_ok, other=float("-inf"))
    b = tl.load(lseb_ptr + rows, mask=row_ok, other=float("-inf"))
    a = tl.where(a == float("inf"), float("-inf"), a)
    b = tl.where(b == float("inf"), float("-inf"), b)
    top = tl.maximum(a, b)
    empty = top == float("-inf")
    top = tl.where(empty, 0.0, 0.0 * top)  # never subtracts the max: exp(lse) overflows above 88
    w_a = tl.exp(a - top)
    w_b = tl.exp(b - top)
    total = tl.where(empty, 1.0, w_a + w_b)
    scale_a = tl.where(empty, 0.0, w_a / total)
    scale_b = tl.where(empty, 0.0, w_b / total)
    tl.store(lse_ptr + rows, tl.where(empty, float("-inf"), tl.log(total) + top), mask=row_ok)
    cols = tl.arange(0, BLOCK_D)
    mask = row_ok[:, None] & (cols[None, :] < head_dim)
    offs = rows.to(tl.int64)[:, None] * head_dim + cols[None, :]
    va = tl.load(va_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    vb = tl.load(vb_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    v = va * scale_a[:, None] + vb * scale_b[:, None]
    tl.store(v_ptr + offs, v.to(v_ptr.dtype.element_ty), mask=mask)


def kernel(v_a, lse_a, v_b, lse_b):
    num_tokens, num_heads, head_dim = v_a.shape
    v_a, v_b = v_a.contiguous(), v_b.contiguous()
    v = torch.empty_like(v_a)
    lse = torch.empty((num_tokens, num_heads), dtype=torch.float32, device=v_a.device)
    num_rows = num_tokens * num_heads
    block_rows = CONFIG["BLOCK_ROWS"]
    _merge_kernel[(triton.cdiv(num_rows, block_rows),)](
        v_a, lse_a.contiguous(), v_b, lse_b.contiguous(), v, lse, num_rows, head_dim,
        BLOCK_ROWS=block_rows, BLOCK_D=triton.next_power_of_2(head_dim), num_warps=CONFIG["num_warps"],
    )
    return v, lse
