import torch
import triton
import triton.language as tl


@triton.jit
def _row_sum(x_ptr, out_ptr, cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for start in range(0, cols, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        acc += tl.load(x_ptr + row * cols + offs, mask=offs < cols, other=0.0)
    tl.store(out_ptr + row, tl.sum(acc, axis=0))


def kernel(x):
    x = x.contiguous()
    rows, cols = x.shape
    out = torch.empty((rows, 1), device=x.device, dtype=x.dtype)
    _row_sum[(rows,)](x, out, cols, BLOCK=256)
    return out
