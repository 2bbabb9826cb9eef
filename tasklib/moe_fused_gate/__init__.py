"""moe_fused_gate: DeepSeek-V3's grouped top-k router with a score-correction bias (SGLang's
`moe_fused_gate`, vLLM/SGLang `biased_grouped_topk`).

Owns: the task's contract (docs/tasklib.md), its shapes, inputs, reference, set-valued checker and
cost. Seeds live in seeds/ beside this file.

Decisions (SGLang `biased_grouped_topk_impl`, renormalize=True, scaling applied on the output):
s = sigmoid(scores); choice = s + bias; a group's score is the sum of its two best `choice`
values; the `topk_group` best groups are kept; the `topk` best `choice` values among the experts
of kept groups are chosen (the others are masked with -inf, not 0, so a negative choice still
competes correctly); weights are `s` (not `choice`) at the chosen ids, divided by their sum,
times `routed_scaling_factor`. Order within a token's k is free, and near-ties (within
`SELECT_TOL`) may go either way: the checker validates the chosen set against the rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from warpsmith.tasklib.base import BENCH_TOKENS, CheckReport, Cost, Shape, Task
from warpsmith.tasklib.checking import allclose_report, failed, structure_problem
from warpsmith.tasklib.values import random_values

DESCRIPTION = """\
DeepSeek-V3 MoE gate (grouped top-k with bias): s = sigmoid(scores) per token in float32;
choice = s + bias; the E experts form num_expert_group contiguous groups of E/num_expert_group;
a group's score is the sum of its two largest `choice` values; keep the topk_group best groups;
topk_ids are the topk experts with the largest `choice` among the kept groups' experts;
topk_weights = s[topk_ids] / sum(s[topk_ids]) * routed_scaling_factor (the sigmoid, not the
biased choice). Order within a token's k slots is free; near-ties (1e-5) may go either way.
Tolerance for weights: float32 1e-4. One program per token reads E logits: latency-bound."""

SIGNATURE = """\
kernel(scores[T,E] float32, bias[E] float32, num_expert_group: int, topk_group: int, topk: int,
       routed_scaling_factor: float) -> topk_weights[T,k] float32, topk_ids[T,k] int32"""

SELECT_TOL = 1e-5  # ~100 float32 ulps at 1.0: sigmoid via exp vs torch.sigmoid differ by a few ulps
BIAS_SCALE = 0.02  # correction biases are small next to the sigmoid's spread between experts
# model -> (E, groups, topk_group, k, routed_scaling_factor)
GATE_MODELS: dict[str, tuple[int, int, int, int, float]] = {
    "deepseek-v3": (256, 8, 4, 8, 2.5),
    "kimi-k2": (384, 1, 1, 8, 2.827),
}


def gate_shape(label: str, T: int, E: int, G: int, TG: int, k: int, factor: float, *, trap: bool = True) -> Shape:
    return Shape(label=label, dims={"T": T, "E": E, "G": G, "TG": TG, "k": k, "factor": factor},
                 options={"trap": "yes" if trap else "no"})


class MoeFusedGate(Task):
    name: str = "moe_fused_gate"
    description: str = DESCRIPTION
    signature: str = SIGNATURE
    input_names: tuple[str, ...] = ("scores", "bias", "num_expert_group", "topk_group", "topk",
                                    "routed_scaling_factor")
    output_names: tuple[str, ...] = ("topk_weights", "topk_ids")
    source_dir: Path | None = Path(__file__).resolve().parent

    def smoke_shapes(self) -> list[Shape]:
        return [gate_shape("tiny T=3 E=32 G=4 TG=2 k=4", 3, 32, 4, 2, 4, 2.5)]

    def check_shapes(self) -> list[Shape]:
        return [
            gate_shape("deepseek-v3 T=1", 1, 256, 8, 4, 8, 2.5),
            gate_shape("deepseek-v3 T=5", 5, 256, 8, 4, 8, 2.5),
            gate_shape("E=96 G=6 TG=3 k=6 T=7 (not pow2)", 7, 96, 6, 3, 6, 1.0),
            gate_shape("E=72 G=4 TG=2 k=5 T=3 (18/group)", 3, 72, 4, 2, 5, 1.5),
            gate_shape("group of 2: E=16 G=8 TG=4 k=3 T=4", 4, 16, 8, 4, 3, 1.0, trap=False),
            gate_shape("one group: E=40 G=1 TG=1 k=8 T=3", 3, 40, 1, 1, 8, 2.827, trap=False),
            gate_shape("all groups kept: E=64 G=4 TG=4 k=8 T=2", 2, 64, 4, 4, 8, 1.0, trap=False),
        ]

    def bench_shapes(self) -> list[Shape]:
        # no traps: bench routing is the plain draw
        return [gate_shape(f"{model} T={T}", T, *dims, trap=False) for model, dims in GATE_MODELS.items()
                for T in BENCH_TOKENS]

    def make_inputs(
        self, shape: Shape, seed: int, device: str | torch.device = "cpu", distribution: str | None = None
    ) -> tuple[Any, ...]:
        generator, dist = self.random_source(seed, distribution)
        T, E, G, TG, k = (int(shape[n]) for n in ("T", "E", "G", "TG", "k"))
        raw = random_values((T, E), dist, generator, torch.float32)
        # router logits have unit-ish spread: standardize so offset_scaled does not saturate the sigmoid
        scores = (raw - raw.mean()) / raw.std().clamp_min(1e-6) if raw.numel() > 1 else raw
        bias = BIAS_SCALE * torch.randn(E, generator=generator)
        if shape.options.get("trap") == "yes":
            _set_group_traps(scores, bias, G, TG, generator)
        return (scores.contiguous().to(device), bias.to(device), G, TG, k, float(shape["factor"]))

    def reference(self, scores: torch.Tensor, bias: torch.Tensor, num_expert_group: int, topk_group: int,
                  topk: int, routed_scaling_factor: float) -> tuple[torch.Tensor, ...]:
        s = scores.float().sigmoid()
        choice = s + bias.float()[None, :]
        T, E = s.shape
        group_scores = choice.view(T, num_expert_group, -1).topk(2, dim=-1).values.sum(dim=-1)
        group_idx = group_scores.topk(topk_group, dim=-1, sorted=False).indices
        group_mask = torch.zeros_like(group_scores, dtype=torch.bool).scatter_(1, group_idx, True)
        expert_mask = group_mask[:, :, None].expand(T, num_expert_group, E // num_expert_group).reshape(T, E)
        masked = choice.masked_fill(~expert_mask, float("-inf"))
        ids = masked.topk(topk, dim=-1, sorted=False).indices
        weights = s.gather(1, ids)
        weights = weights / weights.sum(dim=-1, keepdim=True) * routed_scaling_factor
        return weights.float(), ids.to(torch.int32)

    def check(
        self, inputs: tuple[Any, ...], outputs: tuple[torch.Tensor, ...], expected: tuple[torch.Tensor, ...]
    ) -> CheckReport:
        if (problem := structure_problem(outputs, expected, self.output_names)) is not None:
            return failed(problem)
        scores, bias, G, TG, k, factor = inputs
        weights, ids = (o.to(expected[0].device) for o in outputs)
        if (problem := selection_problem(scores, bias, G, TG, ids.long())) is not None:
            return failed(problem, "topk_ids must be a valid grouped top-k of sigmoid(scores) + bias")
        s = scores.float().sigmoid()
        picked = s.gather(1, ids.long())
        want = picked / picked.sum(dim=-1, keepdim=True) * factor
        return allclose_report("topk_weights", weights, want)

    def cost(self, shape: Shape) -> Cost:
        T, E, k = (int(shape[n]) for n in ("T", "E", "k"))
        # read the logits and the bias, write k weights and ids; sigmoid (~4 flops) and the bias add per logit
        return Cost(bytes=T * E * 4 + E * 4 + T * k * 8, flops=5 * T * E)


def selection_problem(scores: torch.Tensor, bias: torch.Tensor, G: int, TG: int, ids: torch.Tensor) -> str | None:
    """Why `ids` [T,k] is not a valid grouped top-k, or None. Valid: ids distinct and in [0, E); at
    most TG groups used, each among the TG best (within SELECT_TOL); no unchosen expert of a kept
    group (a chosen one's, or one every valid keep set holds) beats the weakest chosen by more than
    SELECT_TOL. Ties may go either way; a kernel ignoring the group limit or the bias fails."""
    T, E = scores.shape
    if bool(((ids < 0) | (ids >= E)).any()):
        return f"topk_ids holds an id outside [0, {E})"
    ordered = ids.sort(dim=1).values
    if bool((ordered[:, 1:] == ordered[:, :-1]).any()):
        t = int((ordered[:, 1:] == ordered[:, :-1]).any(dim=1).nonzero()[0])
        return f"topk_ids[{t}] holds an expert twice: {ids[t].tolist()}"
    choice = scores.float().sigmoid() + bias.float()[None, :]
    per_group = E // G
    group_scores = choice.view(T, G, per_group).topk(2, dim=-1).values.sum(dim=-1)
    ranked = group_scores.sort(dim=1, descending=True).values
    chosen_groups = torch.zeros(T, G, dtype=torch.bool, device=ids.device).scatter_(1, ids // per_group, True)
    if bool((chosen_groups.sum(dim=1) > TG).any()):
        t = int((chosen_groups.sum(dim=1) > TG).nonzero()[0])
        return f"token {t}: experts from {int(chosen_groups[t].sum())} groups, at most topk_group={TG}"
    eligible = group_scores >= ranked[:, TG - 1:TG] - SELECT_TOL
    if bool((chosen_groups & ~eligible).any()):
        t = int((chosen_groups & ~eligible).any(dim=1).nonzero()[0])
        return f"token {t}: an expert from a group outside the {TG} best groups (ids {ids[t].tolist()})"
    must_keep = group_scores > ranked[:, TG:TG + 1] + SELECT_TOL if TG < G else torch.ones_like(chosen_groups)
    kept = must_keep | chosen_groups
    if bool((kept.sum(dim=1) > TG).any()):
        t = int((kept.sum(dim=1) > TG).nonzero()[0])
        return f"token {t}: its chosen groups leave out a group that is surely among the {TG} best"
    kept_experts = kept[:, :, None].expand(T, G, per_group).reshape(T, E)
    unchosen = kept_experts.clone().scatter_(1, ids, False)
    weakest = choice.gather(1, ids).min(dim=1, keepdim=True).values
    beaten = unchosen & (choice > weakest + SELECT_TOL)
    if bool(beaten.any()):
        t, e = (int(v) for v in beaten.nonzero()[0])
        return f"token {t}: expert {e} of a kept group beats the weakest chosen expert (ids {ids[t].tolist()})"
    return None


def _set_group_traps(scores: torch.Tensor, bias: torch.Tensor, G: int, TG: int, generator: torch.Generator) -> None:
    """In every token, the expert with the largest bias gets the largest sigmoid of all while the rest of
    its group sits near 0, and TG other groups get two experts at sigmoid >= 0.82: that group's top-2 sum
    is then below TG others', so it is never kept, yet a plain top-k over all experts (or a group score
    from the best expert alone) picks its star. In place; needs G > TG and groups of >= 3 experts."""
    T, E = scores.shape
    per_group = E // G
    star = int(bias.argmax())
    trap_group = star // per_group
    for t in range(T):
        others = [g for g in torch.randperm(G, generator=generator).tolist() if g != trap_group][:TG]
        for g in others:
            picks = torch.randperm(per_group, generator=generator)[:2] + g * per_group
            scores[t, picks] = scores[t, picks].clamp_min(1.5)
        scores[t, trap_group * per_group:(trap_group + 1) * per_group] = -6.0
        scores[t, star] = max(float(scores[t].max()) + 2.0, 8.0)


TASK = MoeFusedGate()
