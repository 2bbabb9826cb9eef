"""moe_combine: sum each token's expert outputs weighted by its router weights.

Owns: the task's contract (TASKS.md), its shapes, inputs, reference, checker (tolerance 2e-2)
and cost. Seeds live in seeds/ beside this file. Inputs are built from real routing: inv_idx is
what moe_dispatch's reference produces for skewed router ids (-1 for pairs dropped under
expert parallelism), the weights are a softmax over the k slots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from warpsmith.tasklib.base import CheckReport, Cost, Shape
from warpsmith.tasklib.checking import allclose_outputs
from warpsmith.tasklib.moe_common import (
    HiddenRowsTask,
    group_pairs,
    local_experts,
    moe_shape,
    topk_ids_for,
)
from warpsmith.tasklib.values import random_values

DESCRIPTION = """\
Combine expert outputs: out[t] = sum_j topk_weights[t, j] * expert_out[inv_idx[t, j]], per token.
expert_out holds one row per routed (token, slot) pair, grouped by expert (moe_dispatch's layout);
inv_idx[t, j] is the row of pair (t, j), or -1 when the pair was dropped (its expert is not local),
which contributes nothing. Accumulate in float32, write bf16. Tolerance 2e-2 (atol and rtol).
Memory-bound: each routed row is read once and each token's output written once."""

SIGNATURE = """\
kernel(expert_out[T*k, H] bf16, topk_weights[T,k] float32, inv_idx[T,k] int32) -> out[T,H] bf16"""

TOLERANCE = 2e-2


class MoeCombine(HiddenRowsTask):
    name: str = "moe_combine"
    description: str = DESCRIPTION
    signature: str = SIGNATURE
    input_names: tuple[str, ...] = ("expert_out", "topk_weights", "inv_idx")
    output_names: tuple[str, ...] = ("out",)
    source_dir: Path | None = Path(__file__).resolve().parent

    def check_shapes(self) -> list[Shape]:
        return [
            moe_shape("T=1 E=8 k=2 H=96", 1, 2, 8, H=96),
            moe_shape("k=1 T=7 E=4 H=64", 7, 1, 4, H=64, routing="uniform"),
            moe_shape("H=200 (not /128) T=17 E=8 k=2", 17, 2, 8, H=200),
            moe_shape("H=1 T=5 E=4 k=2", 5, 2, 4, H=1),
            moe_shape("one hot expert T=13 E=16 k=4 H=96", 13, 4, 16, H=96, routing="hot"),
            moe_shape("zipf T=13 E=32 k=8 H=96", 13, 8, 32, H=96),
            moe_shape("ep8 T=24 E=64 k=6 H=80 (dropped pairs)", 24, 6, 64, ep=8, H=80),
        ]

    def make_inputs(
        self, shape: Shape, seed: int, device: str | torch.device = "cpu", distribution: str | None = None
    ) -> tuple[Any, ...]:
        generator = torch.Generator().manual_seed(seed)
        topk_ids = topk_ids_for(shape, generator)
        T, k = topk_ids.shape
        pairs, _ = group_pairs(topk_ids, local_experts(shape))
        inv_idx = torch.full((T * k,), -1, dtype=torch.int32)
        inv_idx[pairs] = torch.arange(pairs.numel(), dtype=torch.int32)
        weights = torch.softmax(torch.randn((T, k), generator=generator), dim=1)
        dist = self.pick_distribution(seed, distribution)
        expert_out = random_values((T * k, int(shape["H"])), dist, generator, torch.bfloat16)
        return expert_out.to(device), weights.to(device), inv_idx.view(T, k).to(device)

    def reference(self, expert_out: torch.Tensor, topk_weights: torch.Tensor, inv_idx: torch.Tensor) -> tuple[torch.Tensor, ...]:
        routed = inv_idx >= 0
        rows = expert_out.float()[inv_idx.clamp_min(0).long()]  # [T, k, H]
        weights = torch.where(routed, topk_weights.float(), torch.zeros_like(topk_weights, dtype=torch.float32))
        out = (rows * weights[:, :, None]).sum(dim=1)
        return (out.to(expert_out.dtype),)

    def check(
        self, inputs: tuple[Any, ...], outputs: tuple[torch.Tensor, ...], expected: tuple[torch.Tensor, ...]
    ) -> CheckReport:
        return allclose_outputs(self.output_names, outputs, expected, tol=TOLERANCE)

    def local_work_of(self, inputs: tuple[Any, ...]) -> tuple[float, float]:
        routed = inputs[2] >= 0  # inv_idx: -1 marks a pair dropped here
        return int(routed.sum()), int(routed.any(dim=1).sum())

    def routed_cost(self, shape: Shape, pairs: float, tokens: float) -> Cost:
        T, k, H = (int(shape.dims.get(n, 1)) for n in ("T", "k", "H"))
        # read the routed rows, the weights and inv_idx; write each token's row
        return Cost(bytes=round(pairs * H * 2) + T * k * 8 + T * H * 2, flops=round(2 * pairs * H))


TASK = MoeCombine()
