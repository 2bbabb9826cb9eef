"""fused_add_rmsnorm: residual_out = bf16(x + residual); out = rmsnorm(residual_out) * weight in float32.

Owns: the task's contract (docs/tasklib.md), its shapes, inputs, reference, checker and cost. Seeds
live in seeds/ beside this file. Unlike vLLM's in-place op the kernel returns both tensors and leaves
its inputs untouched (the evaluator refuses a mutated input). residual_out must be one of the two
bf16 neighbours of the exact sum (see `check`). One check shape sets eps to the mean
square of residual_out, so a kernel that ignores eps fails on every trial of every distribution; one
sets residual = -2x + d, so a kernel that normalizes x instead of the sum fails likewise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from warpsmith.tasklib.base import CheckReport, Cost, Shape
from warpsmith.tasklib.checking import allclose_report, failed, structure_problem
from warpsmith.tasklib.rmsnorm import (
    RmsNormFamily,
    norm_shape,
    norm_weight,
    rms_normalized,
    shape_eps,
)
from warpsmith.tasklib.values import random_values

DESCRIPTION = """\
Fused residual add + RMSNorm (a pre-norm transformer layer): residual_out = x + residual, rounded
to bf16 (round to nearest even, as a bf16 add does); out = r * rsqrt(mean(r^2) + eps) * weight with
r = residual_out as float32 (the ROUNDED sum, as vLLM's fused_add_rms_norm), mean over H, float32
math, written bf16. Returns new tensors; x and residual must not be modified. residual_out is
checked to one rounding (either bf16 neighbour of the exact sum: Triton's CPU interpreter truncates on
.to(bf16)); out has tolerance 2e-2 (two chained bf16 roundings).
Memory-bound: read x, residual and weight once, write out and residual_out once."""

SIGNATURE = """\
kernel(x[T,H] bf16, residual[T,H] bf16, weight[H] bf16, eps: float) -> (out[T,H] bf16, residual_out[T,H] bf16)"""


OUT_TOLERANCE = 2e-2  # two chained bf16 roundings, see FusedAddRmsNorm.check


FLIPPING_RESIDUAL = "minus_two_x"  # options["residual"]: residual = -2x + d, so the sum is ~ -x


def add_rounded(x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
    """x + residual rounded once to the inputs' dtype: the float32 sum of two bf16 values is exact
    (or, when their exponents differ by more than 15, rounds to the same bf16 as the exact sum)."""
    return (x.float() + residual.float()).to(x.dtype)


def unfaithful_sum(name: str, got: torch.Tensor, x: torch.Tensor, residual: torch.Tensor) -> str | None:
    """Where `got` is not one of the two bf16 values nearest the exact sum x + residual, or None."""
    exact = x.float() + residual.float()  # exact: see add_rounded
    value = got.to(exact.device).float()
    representable = exact.to(got.dtype).float() == exact
    # frexp: exact = m * 2**e with 0.5 <= |m| < 1, so bf16's 8 significant bits space values 2**(e-8) apart
    gap = torch.ldexp(torch.ones_like(exact), torch.frexp(exact).exponent - 8)
    faithful = torch.where(representable, value == exact, (value - exact).abs() < gap)
    bad = ~faithful | torch.isnan(value)
    if not bool(bad.any()):
        return None
    first = int(bad.flatten().nonzero()[0])
    H = exact.shape[1]
    return (f"{name}[{first // H}, {first % H}]: got {value.flatten()[first].item()!r}, exact sum "
            f"{exact.flatten()[first].item()!r} ({int(bad.sum())} of {bad.numel()} elements not x + residual "
            "rounded to bf16)")


class FusedAddRmsNorm(RmsNormFamily):
    name: str = "fused_add_rmsnorm"
    description: str = DESCRIPTION
    signature: str = SIGNATURE
    input_names: tuple[str, ...] = ("x", "residual", "weight", "eps")
    output_names: tuple[str, ...] = ("out", "residual_out")
    source_dir: Path | None = Path(__file__).resolve().parent

    normalized: ClassVar[str] = "r"

    def check_shapes(self) -> list[Shape]:
        return super().check_shapes() + [
            # the sum is ~ -x whatever the distribution: normalizing x instead flips every output's sign
            norm_shape("T=3 H=96 residual=-2x+d", 3, 96, options={"residual": FLIPPING_RESIDUAL}),
        ]

    def make_inputs(
        self, shape: Shape, seed: int, device: str | torch.device = "cpu", distribution: str | None = None
    ) -> tuple[Any, ...]:
        generator, dist, x = self.draw_x(shape, seed, distribution)
        T, H = x.shape
        residual = random_values((T, H), dist, generator, torch.bfloat16)
        if shape.options.get("residual") == FLIPPING_RESIDUAL:
            # d at a tenth of x's RMS: the sum -x + d points away from x even when x is offset-dominated
            d = residual.float() - residual.float().mean()
            d = d * (0.1 * float(x.float().pow(2).mean().sqrt()) / max(float(d.pow(2).mean().sqrt()), 1e-30))
            residual = (-2 * x.float() + d).to(torch.bfloat16)
        weight = norm_weight(H, generator)
        eps = shape_eps(shape, add_rounded(x, residual))
        return x.to(device), residual.to(device), weight.to(device), eps

    def reference(
        self, x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor, eps: float
    ) -> tuple[torch.Tensor, ...]:
        residual_out = add_rounded(x, residual)
        return rms_normalized(residual_out.float(), weight, eps).to(x.dtype), residual_out

    def check(
        self, inputs: tuple[Any, ...], outputs: tuple[torch.Tensor, ...], expected: tuple[torch.Tensor, ...]
    ) -> CheckReport:
        """residual_out a faithful rounding of x + residual, then out allclose at 1e-2.

        residual_out: the float32 sum of two bf16 values is exact, so its rounding has one right answer
        under round-to-nearest-even (a GPU's cast); Triton's CPU interpreter truncates on `.to(bf16)`, so
        either bf16 neighbour of the exact sum passes (the sum itself where it is representable), and
        nothing farther (no add, a wrong operand, a second rounding step that moves it two ulps).
        out, tolerance 2e-2 (atol and rtol): out is the second of two chained bf16 roundings (residual_out,
        then out); bf16 keeps 8 significant bits, so each rounding costs up to one ulp (0.4-0.8 %) when it
        truncates (Triton's CPU interpreter) and half that to nearest (a GPU), and float32 sums in another
        order move rstd by ~1e-6; ignoring the weight (~50 %), eps (~40 % on the eps shape) or the residual
        is far outside. Normalizing the unrounded sum instead of residual_out moves
        out by at most ~1 ulp: no sound tolerance can tell it from rounding noise, so that clause of the
        contract is advice, not checked."""
        if (problem := structure_problem(outputs, expected, self.output_names)) is not None:
            return failed(problem)
        if (problem := unfaithful_sum("residual_out", outputs[1], inputs[0], inputs[1])) is not None:
            return failed(problem, f"{problem}; residual_out must be x + residual rounded to bf16 (one of the "
                                   "two bf16 values nearest the exact sum)")
        return allclose_report("out", outputs[0], expected[0], OUT_TOLERANCE)

    def cost(self, shape: Shape) -> Cost:
        T, H = int(shape["T"]), int(shape["H"])
        # read x, residual and weight; write out and residual_out; add, square-and-add, scale twice
        return Cost(bytes=4 * T * H * 2 + H * 2, flops=5 * T * H)


TASK = FusedAddRmsNorm()
