"""moe_align_block_size: sort (token, slot) pairs by expert into block-padded segments (vLLM/SGLang).

Owns: the task's contract (TASKS.md), its shapes, inputs, reference, order-free checker and
cost. Seeds live in seeds/ beside this file.

Decision: within an expert's segment the real ids and the pad sentinels may come in any order
(the fused MoE GEMM masks sentinel rows wherever they sit); the checker compares the multiset of
each segment, sentinels included.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from warpsmith.tasklib.base import CheckReport, Cost, Shape
from warpsmith.tasklib.checking import exact_mismatch, failed, structure_problem
from warpsmith.tasklib.moe_common import (
    RoutedTask,
    bench_moe_shapes,
    group_pairs,
    local_experts,
    moe_shape,
    segment_multiset_mismatch,
    topk_ids_for,
)

DESCRIPTION = """\
Sort the (token, slot) pairs by expert into segments padded to a multiple of block_size (vLLM/SGLang).
Flatten topk_ids (pair index t*k+j). Each expert's pair count is rounded up to a multiple of B;
segments follow in expert order from index 0; a segment holds the pair indices routed to that
expert plus pad slots holding the sentinel T*k. expert_ids[b] is the expert of block b (B slots
each); num_tokens_post_pad[0] is the total padded length. Ids outside [0, num_experts) are skipped.
Order within a segment is free; entries at and past num_tokens_post_pad are not checked.
It feeds a fused MoE GEMM; the bytes are tiny, so it is bound by launches and synchronization."""

SIGNATURE = """\
kernel(topk_ids[T,k] int32, num_experts: int, block_size: int)
  -> sorted_token_ids[T*k + E*(B-1)] int32, expert_ids[(T*k + E*(B-1)) // B] int32,
     num_tokens_post_pad[1] int32"""


def _block_size_for(tokens: int) -> int:
    """The BLOCK_SIZE_M a tuned fused-MoE config picks at this batch size."""
    return 16 if tokens <= 32 else 64 if tokens <= 1024 else 128


def _align_shape(label: str, T: int, k: int, E: int, B: int, **kw: Any) -> Shape:
    return moe_shape(f"{label} B={B}", T, k, E, B=B, **kw)


class MoeAlignBlockSize(RoutedTask):
    name: str = "moe_align_block_size"
    description: str = DESCRIPTION
    signature: str = SIGNATURE
    input_names: tuple[str, ...] = ("topk_ids", "num_experts", "block_size")
    output_names: tuple[str, ...] = ("sorted_token_ids", "expert_ids", "num_tokens_post_pad")
    source_dir: Path | None = Path(__file__).resolve().parent

    def smoke_shapes(self) -> list[Shape]:
        return [_align_shape("tiny T=4 E=8 k=2", 4, 2, 8, 4)]

    def check_shapes(self) -> list[Shape]:
        return [
            _align_shape("T=1 E=8 k=2", 1, 2, 8, 16),
            _align_shape("T*k<E: T=3 k=2 E=16 (empty experts)", 3, 2, 16, 4, routing="uniform"),
            _align_shape("one hot expert T=13 E=16 k=4", 13, 4, 16, 8, routing="hot"),
            _align_shape("E=257 T=20 k=8", 20, 8, 257, 16),
            _align_shape("B=1 T=9 E=8 k=2", 9, 2, 8, 1),
            _align_shape("big blocks, odd pairs T=13 E=64 k=5", 13, 5, 64, 128),
            _align_shape("exact multiples T=64 E=4 k=4 uniform", 64, 4, 4, 2, routing="uniform"),
            _align_shape("zipf T=100 E=32 k=8", 100, 8, 32, 16),
            _align_shape("ep8 T=24 E=64 k=6 (-1 ids)", 24, 6, 64, 4, ep=8),
            _align_shape("ep4 T=16 E=32 k=4 (out-of-range ids)", 16, 4, 32, 8, ep=4, dropped="out_of_range"),
        ]

    def bench_shapes(self) -> list[Shape]:
        return [
            _align_shape(s.label, int(s["T"]), int(s["k"]), int(s["E"]), _block_size_for(int(s["T"])),
                         ep=int(s["ep"]))
            for s in bench_moe_shapes(with_hidden=False)
        ]

    def make_inputs(
        self, shape: Shape, seed: int, device: str | torch.device = "cpu", distribution: str | None = None
    ) -> tuple[Any, ...]:
        self.pick_distribution(seed, distribution)  # validates; ids have no value distribution
        topk_ids = topk_ids_for(shape, torch.Generator().manual_seed(seed))
        return topk_ids.to(device), local_experts(shape), int(shape["B"])

    def reference(self, topk_ids: torch.Tensor, num_experts: int, block_size: int) -> tuple[torch.Tensor, ...]:
        num_pairs = topk_ids.numel()
        device = topk_ids.device
        capacity = num_pairs + num_experts * (block_size - 1)
        pairs, counts = group_pairs(topk_ids, num_experts)
        padded = (counts + block_size - 1) // block_size * block_size
        seg_start = torch.cumsum(padded, 0) - padded
        raw_start = torch.cumsum(counts, 0) - counts
        expert_of_pair = torch.repeat_interleave(torch.arange(num_experts, device=device), counts)
        slot = seg_start[expert_of_pair] + torch.arange(pairs.numel(), device=device) - raw_start[expert_of_pair]
        sorted_ids = torch.full((capacity,), num_pairs, dtype=torch.int32, device=device)
        sorted_ids[slot] = pairs.to(torch.int32)
        expert_ids = torch.full((capacity // block_size,), -1, dtype=torch.int32, device=device)
        blocks = torch.repeat_interleave(torch.arange(num_experts, device=device), padded // block_size)
        expert_ids[: blocks.numel()] = blocks.to(torch.int32)
        total = torch.tensor([int(padded.sum())], dtype=torch.int32, device=device)
        return sorted_ids, expert_ids, total

    def check(
        self, inputs: tuple[Any, ...], outputs: tuple[torch.Tensor, ...], expected: tuple[torch.Tensor, ...]
    ) -> CheckReport:
        if (problem := structure_problem(outputs, expected, self.output_names)) is not None:
            return failed(problem)
        topk_ids, num_experts, block_size = inputs
        sorted_ids, expert_ids, total = outputs
        if (problem := exact_mismatch("num_tokens_post_pad", total, expected[2])) is not None:
            return failed(problem)
        n = int(expected[2][0])
        num_blocks = n // block_size
        if (problem := exact_mismatch("expert_ids", expert_ids[:num_blocks], expected[1][:num_blocks])) is not None:
            return failed(problem, "expert_ids[b] must be the expert of block b, experts in order")
        block_experts = expected[1][:num_blocks].long()
        seg_lengths = torch.bincount(block_experts, minlength=num_experts) * block_size
        problem = segment_multiset_mismatch(
            "sorted_token_ids", sorted_ids[:n], expected[0][:n], seg_lengths, topk_ids.numel()
        )
        if problem is not None:
            return failed(problem, "each expert's segment must hold its pair indices and T*k sentinels")
        return CheckReport(ok=True, max_abs_err=0.0, max_rel_err=0.0)

    def routed_cost(self, shape: Shape, pairs: float, tokens: float) -> Cost:
        ids, B = int(shape["T"]) * int(shape["k"]), int(shape["B"])
        # read every id; write each local pair's index, one expert id per block, the total
        return Cost(bytes=round(ids * 4 + pairs * 4 + math.ceil(pairs / B) * 4 + 4))


TASK = MoeAlignBlockSize()
