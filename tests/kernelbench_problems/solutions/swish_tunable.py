import torch
import triton
import triton.language as tl

CONFIG = {"BLOCK": 1024, "num_warps": 4}
SEARCH_SPACE = {"BLOCK": [256, 512, 1024, 2048], "num_warps": [2, 4, 8]}


@triton.jit
def _swish(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x / (1.0 + tl.exp(-x)), mask=mask)


def kernel(x):
    x = x.contiguous()
    out = torch.empty_like(x)
    n = x.numel()
    _swish[(triton.cdiv(n, CONFIG["BLOCK"]),)](x, out, n, BLOCK=CONFIG["BLOCK"], num_warps=CONFIG["num_warps"])
    return out
