"""rmsnorm: out = x * rsqrt(mean(x^2 over H) + eps) * weight, computed in float32, written bf16.

Owns: the task's contract (TASKS.md), its shapes, inputs, reference and cost; the checker is
Task's default (allclose at the bf16 tolerance 1e-2, NaN never passes). Seeds live in seeds/ beside this file.
One check shape sets eps to the mean square of its own inputs (`options["eps"]`), so a kernel that
ignores eps fails on every trial of every distribution, not only where the values happen to be small.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from warpsmith.tasklib.base import Cost, Shape, Suite, Task
from warpsmith.tasklib.values import random_values

DESCRIPTION = """\
RMSNorm: out[t] = x[t] * rsqrt(mean(x[t]^2) + eps) * weight, the mean over the hidden size H.
Compute in float32 (load bf16, accumulate the sum of squares in float32), write bf16. One row per
token; memory-bound: read x and weight once, write out once. Tolerance: bf16 default (1e-2)."""

SIGNATURE = "kernel(x[T,H] bf16, weight[H] bf16, eps: float) -> out[T,H] bf16"

# model -> hidden size of its RMSNorm
RMSNORM_MODELS: dict[str, int] = {
    "qwen3-30b": 2048,
    "llama3-8b": 4096,
    "qwen3-32b": 5120,
    "deepseek-v3": 7168,
    "llama3-70b": 8192,
}
BENCH_TOKENS: tuple[int, ...] = (1, 16, 128, 512, 2048, 8192)
DEFAULT_EPS = 1e-6


EPS_TIMES_MEAN_SQUARE = "times_mean_square"  # options["eps"]: eps = dims["eps"] * mean(x^2) of the inputs


def _shape(label: str, T: int, H: int, eps: float = DEFAULT_EPS, *, relative: bool = False) -> Shape:
    options = {"eps": EPS_TIMES_MEAN_SQUARE} if relative else {}
    return Shape(label=label, dims={"T": T, "H": H, "eps": eps}, options=options)


class RmsNorm(Task):
    name: str = "rmsnorm"
    description: str = DESCRIPTION
    signature: str = SIGNATURE
    input_names: tuple[str, ...] = ("x", "weight", "eps")
    output_names: tuple[str, ...] = ("out",)
    source_dir: Path | None = Path(__file__).resolve().parent

    def shapes(self, suite: Suite) -> list[Shape]:
        if suite == "smoke":
            return [_shape("tiny T=4 H=64", 4, 64)]
        if suite == "check":
            return [
                _shape("T=1 H=128", 1, 128),
                _shape("H=1 T=3", 3, 1),
                _shape("H=7 T=5 (odd)", 5, 7),
                _shape("H=200 (not /128) T=5", 5, 200),
                _shape("H=1000 T=3 eps=1e-5", 3, 1000, 1e-5),
                _shape("H=2880 (gpt-oss) T=3", 3, 2880),
                # eps as large as the inputs' mean square, whatever the distribution: ignoring it is
                # ~40 % off on every trial (a fixed eps is negligible next to offset_scaled values)
                _shape("T=3 H=96 eps=mean(x^2)", 3, 96, 1.0, relative=True),
                _shape("T=7 H=96 eps=0.1", 7, 96, 0.1),
            ]
        if suite == "bench":
            return [_shape(f"{model} H={H} T={T}", T, H) for model, H in RMSNORM_MODELS.items() for T in BENCH_TOKENS]
        raise ValueError(f"unknown suite {suite!r}")

    def make_inputs(
        self, shape: Shape, seed: int, device: str | torch.device = "cpu", distribution: str | None = None
    ) -> tuple[Any, ...]:
        generator = torch.Generator().manual_seed(seed)
        T, H = int(shape["T"]), int(shape["H"])
        dist = self.pick_distribution(seed, distribution)
        x = random_values((T, H), dist, generator, torch.bfloat16)
        weight = (1.0 + 0.5 * torch.randn(H, generator=generator)).to(torch.bfloat16)
        eps = float(shape["eps"])
        if shape.options.get("eps") == EPS_TIMES_MEAN_SQUARE:
            eps = max(eps * float(x.float().pow(2).mean()), DEFAULT_EPS)
        return x.to(device), weight.to(device), eps

    def reference(self, x: torch.Tensor, weight: torch.Tensor, eps: float) -> tuple[torch.Tensor, ...]:
        xf = x.float()
        rstd = torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + eps)
        return ((xf * rstd * weight.float()).to(x.dtype),)

    def cost(self, shape: Shape) -> Cost:
        T, H = int(shape["T"]), int(shape["H"])
        # read x and weight, write out; square-and-add, then scale twice per element
        return Cost(bytes=2 * T * H * 2 + H * 2, flops=4 * T * H)


TASK = RmsNorm()
