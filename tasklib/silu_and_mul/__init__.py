"""silu_and_mul: out = silu(x[:, :H]) * x[:, H:] (vLLM's convention), float32 math, written bf16.

Owns: the task's name, text and activation; shapes, inputs, reference, checker (Task's default:
allclose at the bf16 tolerance 1e-2) and cost are the shared gated-activation ones
(tasklib/gated_activation.py). Seeds live in seeds/ beside this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch

from warpsmith.tasklib.gated_activation import GatedActivation

DESCRIPTION = """\
SwiGLU activation (vLLM's silu_and_mul): out[t, h] = silu(x[t, h]) * x[t, H + h] for h < H, with
silu(a) = a * sigmoid(a) = a / (1 + exp(-a)). The FIRST half of each row is the gate, the second the
up projection. Load bf16, compute in float32, write bf16; gates reach +-120, so the sigmoid must not
overflow to NaN (exp(-a) to inf is fine, exp(a) / (1 + exp(a)) is not). Tolerance: bf16 default (1e-2
atol and rtol). Memory-bound: read x once, write out once."""


class SiluAndMul(GatedActivation):
    name: str = "silu_and_mul"
    description: str = DESCRIPTION
    source_dir: Path | None = Path(__file__).resolve().parent
    # negate, exp, add, divide, multiply by the gate, multiply by up
    flops_per_element: ClassVar[int] = 5
    activation: ClassVar = staticmethod(torch.nn.functional.silu)


TASK = SiluAndMul()
