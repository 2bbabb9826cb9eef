"""Attack on the run-time op guard (run with the static checks off, as a static escape would): `kernel` is
torch's own function, so no frame of the candidate's file is on the stack when aten.silu runs; the guard
names the caller by the first frame outside torch, which was the harness's own call site (the evaluator
package: allowed). Swish is silu, so torch computes the whole answer.
Expected: rejected (torch-op-not-allowed): the harness calls the candidate through aten_guard.call_candidate,
and an op whose first frame outside torch is that one is the candidate's."""

import torch
import triton
import triton.language as tl


@triton.jit
def _swish(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x / (1.0 + tl.exp(-x)), mask=mask)


kernel = torch.nn.functional.silu
