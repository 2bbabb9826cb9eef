import torch
import triton
import triton.language as tl


@triton.jit
def _layer_norm(x_ptr, w_ptr, b_ptr, out_ptr, cols, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK)
    mask = offs < cols
    x = tl.load(x_ptr + row * cols + offs, mask=mask, other=0.0)
    mean = tl.sum(x, axis=0) / cols
    centered = tl.where(mask, x - mean, 0.0)
    var = tl.sum(centered * centered, axis=0) / cols
    w = tl.load(w_ptr + offs, mask=mask)
    b = tl.load(b_ptr + offs, mask=mask)
    tl.store(out_ptr + row * cols + offs, centered / tl.sqrt(var + eps) * w + b, mask=mask)


def kernel(x, weight, bias):
    x = x.contiguous()
    rows, cols = x.shape
    out = torch.empty_like(x)
    _layer_norm[(rows,)](x, weight, bias, out, cols, 1e-5, BLOCK=triton.next_power_of_2(cols))
    return out
