"""gelu_and_mul: out = gelu(x[:, :H]) * x[:, H:] with EXACT (erf) GELU, float32 math, written bf16.

Owns: the task's name, text and activation; shapes, inputs, reference, checker (Task's default:
allclose at the bf16 tolerance 1e-2) and cost are the shared gated-activation ones
(tasklib/gated_activation.py). Seeds live in seeds/ beside this file. The tanh approximation is a
non-goal: the check shape "negative tail" (gates around -3, up values of RMS 100) refuses it.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch

from warpsmith.tasklib.gated_activation import GatedActivation

DESCRIPTION = """\
GeGLU activation (vLLM's gelu_and_mul, approximate="none"): out[t, h] = gelu(x[t, h]) * x[t, H + h]
for h < H, with the EXACT gelu(a) = 0.5 * a * (1 + erf(a / sqrt(2))). The first half of each row is
the gate, the second the up projection. The tanh approximation is not this task (it is 10-45 % off in
the negative tail around a = -3..-4, which a check shape with large up values exposes). Load bf16,
compute in float32, write bf16. Tolerance: bf16 default (1e-2 atol and rtol). Memory-bound: read x
once, write out once."""


def _exact_gelu(a: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.gelu(a, approximate="none")


class GeluAndMul(GatedActivation):
    name: str = "gelu_and_mul"
    description: str = DESCRIPTION
    source_dir: Path | None = Path(__file__).resolve().parent
    # scale, erf, add, two multiplies for gelu, multiply by up
    flops_per_element: ClassVar[int] = 6
    activation: ClassVar = staticmethod(_exact_gelu)


TASK = GeluAndMul()
