"""moe_dispatch: copy each (token, slot) pair's hidden row into a buffer grouped by expert.

Owns: the task's contract (TASKS.md), its shapes, inputs, reference, order-free checker and
cost. Seeds live in seeds/ beside this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from warpsmith.tasklib.base import CheckReport, Cost, Shape
from warpsmith.tasklib.checking import bitwise_mismatch, exact_mismatch, failed, structure_problem
from warpsmith.tasklib.moe_common import (
    HiddenRowsTask,
    group_pairs,
    local_experts,
    moe_shape,
    segment_multiset_mismatch,
    topk_ids_for,
)
from warpsmith.tasklib.values import random_values

DESCRIPTION = """\
Route tokens to experts: copy every (token, slot) pair's hidden row into a buffer grouped by expert.
For each pair (t, j) with e = topk_ids[t, j] in [0, num_experts), one row of `permuted` holds
hidden_states[t] bit for bit; rows of expert e are expert_offsets[e] .. expert_offsets[e+1]-1,
experts in order. src_idx[r] is the flat pair index t*k+j that row r holds; inv_idx[t, j] is the row
pair (t, j) went to, or -1 when the pair is dropped. Ids outside [0, num_experts) (-1 marks a
non-local expert under expert parallelism) take no row. Order within one expert is free; rows at
and past expert_offsets[E] are not checked. Routing is skewed like a real router (a few hot experts).
This is the copy an expert-parallel MoE layer does before its grouped expert GEMMs: memory-bound."""

SIGNATURE = """\
kernel(hidden_states[T,H] bf16, topk_ids[T,k] int32, num_experts: int)
  -> permuted[T*k, H] bf16, expert_offsets[E+1] int64, src_idx[T*k] int32, inv_idx[T,k] int32"""

PAIR_INDEX_BYTES = 12  # read topk_ids, write src_idx and inv_idx: 4 bytes each per pair


class MoeDispatch(HiddenRowsTask):
    name: str = "moe_dispatch"
    description: str = DESCRIPTION
    signature: str = SIGNATURE
    input_names: tuple[str, ...] = ("hidden_states", "topk_ids", "num_experts")
    output_names: tuple[str, ...] = ("permuted", "expert_offsets", "src_idx", "inv_idx")
    source_dir: Path | None = Path(__file__).resolve().parent

    def check_shapes(self) -> list[Shape]:
        return [
            moe_shape("T=1 E=8 k=2 H=96", 1, 2, 8, H=96),
            moe_shape("T*k<E: T=3 k=2 E=16 H=64 (empty experts)", 3, 2, 16, H=64, routing="uniform"),
            moe_shape("one hot expert T=13 E=16 k=4 H=96", 13, 4, 16, H=96, routing="hot"),
            moe_shape("E=257 T=9 k=8 H=72", 9, 8, 257, H=72),
            moe_shape("odd sizes H=203 T=7 k=3 E=9", 7, 3, 9, H=203, routing="uniform"),
            moe_shape("H=1 T=5 E=4 k=2", 5, 2, 4, H=1),
            moe_shape("zipf T=13 E=32 k=8 H=96", 13, 8, 32, H=96),
            moe_shape("ep8 T=12 E=64 k=6 H=80 (-1 ids)", 12, 6, 64, ep=8, H=80),
            moe_shape("ep4 T=8 E=32 k=4 H=48 (out-of-range ids)", 8, 4, 32, ep=4, H=48,
                      dropped="out_of_range"),
        ]

    def make_inputs(
        self, shape: Shape, seed: int, device: str | torch.device = "cpu", distribution: str | None = None
    ) -> tuple[Any, ...]:
        generator, dist = self.random_source(seed, distribution)
        topk_ids = topk_ids_for(shape, generator)
        hidden = random_values((int(shape["T"]), int(shape["H"])), dist, generator, torch.bfloat16)
        return hidden.to(device), topk_ids.to(device), local_experts(shape)

    def reference(self, hidden_states: torch.Tensor, topk_ids: torch.Tensor, num_experts: int) -> tuple[torch.Tensor, ...]:
        T, k = topk_ids.shape
        pairs, counts = group_pairs(topk_ids, num_experts)
        n = pairs.numel()
        device = hidden_states.device
        offsets = torch.zeros(num_experts + 1, dtype=torch.int64, device=device)
        offsets[1:] = torch.cumsum(counts, 0)
        src_idx = torch.full((T * k,), -1, dtype=torch.int32, device=device)
        src_idx[:n] = pairs.to(torch.int32)
        permuted = torch.zeros((T * k, hidden_states.shape[1]), dtype=hidden_states.dtype, device=device)
        permuted[:n] = hidden_states[pairs // k]
        inv_idx = torch.full((T * k,), -1, dtype=torch.int32, device=device)
        inv_idx[pairs] = torch.arange(n, dtype=torch.int32, device=device)
        return permuted, offsets, src_idx, inv_idx.view(T, k)

    def check(
        self, inputs: tuple[Any, ...], outputs: tuple[torch.Tensor, ...], expected: tuple[torch.Tensor, ...]
    ) -> CheckReport:
        if (problem := structure_problem(outputs, expected, self.output_names)) is not None:
            return failed(problem)
        hidden, topk_ids, _ = inputs
        permuted, offsets, src_idx, inv_idx = (o.to(expected[0].device) for o in outputs)
        exp_offsets = expected[1]
        if (problem := exact_mismatch("expert_offsets", offsets, exp_offsets)) is not None:
            return failed(problem)
        n = int(exp_offsets[-1])
        k = topk_ids.shape[1]
        src = src_idx[:n]
        problem = segment_multiset_mismatch("src_idx", src, expected[2][:n], torch.diff(exp_offsets), topk_ids.numel() - 1)
        if problem is not None:
            return failed(problem)
        rows = hidden.to(permuted.device)[src.long() // k]
        if (problem := bitwise_mismatch("permuted", permuted[:n], rows)) is not None:
            return failed(problem, "permuted[r] must equal hidden_states[src_idx[r] // k] bit for bit")
        want_inv = torch.full((topk_ids.numel(),), -1, dtype=torch.int64, device=src.device)
        want_inv[src.long()] = torch.arange(n, device=src.device)
        if (problem := exact_mismatch("inv_idx", inv_idx.reshape(-1), want_inv)) is not None:
            return failed(problem, "inv_idx[t, j] must be the row holding pair t*k+j, -1 when dropped")
        return CheckReport(ok=True, max_abs_err=0.0, max_rel_err=0.0)

    def routed_cost(self, shape: Shape, pairs: float, tokens: float) -> Cost:
        """Fewest bytes: read each token with a local pair once, write one row per local pair, read
        the ids and write src_idx and inv_idx, write the offsets (expected or actual: RoutedTask)."""
        T, k, H = (int(shape.dims.get(n, 1)) for n in ("T", "k", "H"))
        rows = (tokens + pairs) * H * 2  # rows read (tokens without a local pair need not be) + rows written
        return Cost(bytes=round(rows) + T * k * PAIR_INDEX_BYTES + (local_experts(shape) + 1) * 8)


TASK = MoeDispatch()
