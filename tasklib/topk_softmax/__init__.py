"""topk_softmax: MoE gating, a float32 softmax over the experts, then the top k, optionally renormalized.

Owns: the task's contract (docs/tasklib.md), its shapes, inputs, reference, the tie-tolerant checker
and cost. Seeds live in seeds/ beside this file. Order within a token's k slots is free and any
valid tie-break passes: the checker recomputes the softmax from the inputs and judges the candidate's
own ids (see `check`). Inputs build the clauses in: logits rescaled to a fixed RMS (so the chosen k
never hold all the mass and renormalize always matters), exact ties across the k boundary in every
row of the tie shapes, and a +200 offset (a softmax that does not subtract the max overflows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from warpsmith.tasklib.base import BENCH_TOKENS, CheckReport, Cost, Shape, Task
from warpsmith.tasklib.checking import allclose_report, failed, structure_problem
from warpsmith.tasklib.values import random_values

DESCRIPTION = """\
MoE router gating (vLLM's topk_softmax): p = softmax(gating_output[t]) over the E experts in float32
(gating_output is float32 or bf16); topk_ids[t] = the ids of the k largest p, topk_weights[t] = their
p, divided by the sum of those k when renormalize is true. Order within a token's k slots is free,
and on exact ties any of the tied experts may be chosen: the checker requires distinct ids in [0, E),
each weight equal to its own expert's (renormalized) probability, no unchosen expert more probable
than a chosen one (relative 1e-4), and the weights sorted descending equal to the reference's.
Tolerance 1e-4 (atol and rtol) on the float32 weights. Logits are finite and reach +-200 or more,
so subtract the row max before exp. Reads the logits once; writes k weights and ids per token."""

SIGNATURE = """\
kernel(gating_output[T,E] float32|bf16, topk: int, renormalize: bool) -> (topk_weights[T,k] float32, topk_ids[T,k] int32)"""

# float32 softmax implementations differ by a few ulps in exp and in the order of the E-term sum
# (~1e-6 relative for E=256, ~1e-5 with a fast exp on logits of magnitude 100): 1e-4 leaves a wide
# margin, and a wrong set or unnormalized weights are off by far more (the logits have a fixed RMS).
TOLERANCE = 1e-4
FLUSHED = 1e-37  # below float32's smallest normal: a kernel that flushes denormal p to zero may tie them

# model -> (experts, k, renormalize): vLLM's renormalize flag for each router
GATING_MODELS: dict[str, tuple[int, int, bool]] = {
    "deepseek-v3": (256, 8, True),
    "qwen3-30b-a3b": (128, 8, True),
    "qwen2-57b-a14b": (64, 8, False),
    "gpt-oss-120b": (128, 4, True),
    "mixtral": (8, 2, True),
}


def gating_shape(label: str, T: int, E: int, k: int, *, renormalize: bool, dtype: str = "float32",
                 ties: bool = False, logit_rms: float = 2.0, logit_offset: float = 0.0) -> Shape:
    options = {"dtype": dtype, "renormalize": "true" if renormalize else "false"}
    if ties:
        options["ties"] = "boundary"
    return Shape(label=label, dims={"T": T, "E": E, "k": k, "logit_rms": logit_rms, "logit_offset": logit_offset},
                 options=options)


def _inject_ties(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Every row's (k+1)-th largest logit set equal to its k-th (a tie straddles the k boundary);
    row 0 made all equal when there are two or more rows (any k experts are right)."""
    T, E = logits.shape
    if k < E:
        order = logits.argsort(dim=1, descending=True)
        kth = logits.gather(1, order[:, k - 1:k])
        logits = logits.scatter(1, order[:, k:k + 1], kth)
    if T >= 2:
        logits[0] = logits[0, 0]
    return logits


class TopkSoftmax(Task):
    name: str = "topk_softmax"
    description: str = DESCRIPTION
    signature: str = SIGNATURE
    input_names: tuple[str, ...] = ("gating_output", "topk", "renormalize")
    output_names: tuple[str, ...] = ("topk_weights", "topk_ids")
    source_dir: Path | None = Path(__file__).resolve().parent

    def smoke_shapes(self) -> list[Shape]:
        return [gating_shape("tiny T=4 E=8 k=2 renorm", 4, 8, 2, renormalize=True)]

    def check_shapes(self) -> list[Shape]:
        return [
            gating_shape("T=1 E=256 k=8 (deepseek-v3)", 1, 256, 8, renormalize=False),
            gating_shape("mixtral T=5 E=8 k=2 bf16 renorm", 5, 8, 2, renormalize=True, dtype="bfloat16"),
            gating_shape("k=1 T=7 E=16 renorm", 7, 16, 1, renormalize=True),
            gating_shape("E=60 (qwen2-moe) T=9 k=4 bf16", 9, 60, 4, renormalize=False, dtype="bfloat16"),
            gating_shape("E=257 T=3 k=9 renorm", 3, 257, 9, renormalize=True),
            gating_shape("k=E=8 T=3", 3, 8, 8, renormalize=False),
            gating_shape("ties at the k-th T=8 E=32 k=4 renorm", 8, 32, 4, renormalize=True, ties=True),
            gating_shape("ties bf16 T=8 E=64 k=8", 8, 64, 8, renormalize=False, dtype="bfloat16", ties=True),
            gating_shape("logits +200 T=6 E=128 k=8 renorm", 6, 128, 8, renormalize=True, logit_offset=200.0),
        ]

    def bench_shapes(self) -> list[Shape]:
        return [gating_shape(f"{model} T={T}", T, E, k, renormalize=renorm)
                for model, (E, k, renorm) in GATING_MODELS.items() for T in BENCH_TOKENS]

    def make_inputs(
        self, shape: Shape, seed: int, device: str | torch.device = "cpu", distribution: str | None = None
    ) -> tuple[Any, ...]:
        generator, dist = self.random_source(seed, distribution)
        T, E, k = int(shape["T"]), int(shape["E"]), int(shape["k"])
        values = random_values((T, E), dist, generator, torch.float32)
        rms = float(values.pow(2).mean().sqrt())
        logits = values * (float(shape["logit_rms"]) / rms if rms > 0 else 1.0) + float(shape["logit_offset"])
        dtype = torch.bfloat16 if shape.options.get("dtype") == "bfloat16" else torch.float32
        logits = logits.to(dtype)
        if shape.options.get("ties") == "boundary":
            logits = _inject_ties(logits, k)
        return logits.to(device), k, shape.options.get("renormalize") == "true"

    def reference(self, gating_output: torch.Tensor, topk: int, renormalize: bool) -> tuple[torch.Tensor, ...]:
        probs = torch.softmax(gating_output.float(), dim=-1)
        weights, ids = torch.topk(probs, topk, dim=-1)
        if renormalize:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        return weights, ids.to(torch.int32)

    def check(
        self, inputs: tuple[Any, ...], outputs: tuple[torch.Tensor, ...], expected: tuple[torch.Tensor, ...]
    ) -> CheckReport:
        """Judges the candidate's own choice against the softmax recomputed from the inputs: ids distinct
        and in [0, E); each weight equal to its expert's probability (renormalized over the chosen k when
        asked); no unchosen expert more probable than the least probable chosen one beyond relative 1e-4
        (so any tie-break passes, a wrong set does not); the weights sorted descending allclose to the
        reference's. Tolerance 1e-4 (see TOLERANCE)."""
        if (problem := structure_problem(outputs, expected, self.output_names)) is not None:
            return failed(problem)
        gating, _, renormalize = inputs
        device = expected[0].device
        weights, ids = outputs[0].to(device), outputs[1].to(device).long()
        T, E = gating.shape
        bad_id = (ids < 0) | (ids >= E)
        if bool(bad_id.any()):
            t = int(bad_id.any(dim=1).nonzero()[0])
            return failed(f"topk_ids[{t}] = {ids[t].tolist()}: ids must lie in [0, {E})")
        sorted_ids = ids.sort(dim=1).values
        repeated = (sorted_ids[:, 1:] == sorted_ids[:, :-1]).any(dim=1)
        if bool(repeated.any()):
            t = int(repeated.nonzero()[0])
            return failed(f"topk_ids[{t}] = {ids[t].tolist()} holds an expert twice")
        probs = torch.softmax(gating.to(device).float(), dim=-1)
        chosen = probs.gather(1, ids)
        rest = probs.scatter(1, ids, -1.0).max(dim=1).values if ids.shape[1] < E else torch.full((T,), -1.0, device=device)
        least = chosen.min(dim=1).values
        beaten = rest > least * (1 + TOLERANCE) + FLUSHED
        if bool(beaten.any()):
            t = int(beaten.nonzero()[0])
            return failed(
                f"topk_ids[{t}]: an unchosen expert has probability {float(rest[t]):.6g} > the chosen "
                f"{float(least[t]):.6g} (wrong top-k set)",
                f"{int(beaten.sum())} of {T} tokens miss a more probable expert",
            )
        want = chosen / chosen.sum(dim=1, keepdim=True) if renormalize else chosen
        report = allclose_report("topk_weights (against their own experts' probabilities)", weights, want, TOLERANCE)
        if not report.ok:
            return report
        by_value = weights.sort(dim=1, descending=True).values
        reference = expected[0].sort(dim=1, descending=True).values
        return allclose_report("topk_weights sorted descending", by_value, reference, TOLERANCE)

    def cost(self, shape: Shape) -> Cost:
        T, E, k = int(shape["T"]), int(shape["E"]), int(shape["k"])
        itemsize = 2 if shape.options.get("dtype") == "bfloat16" else 4
        # read the logits, write k weights (float32) and ids (int32); max, exp, sum, divide per logit
        return Cost(bytes=T * E * itemsize + T * k * 8, flops=4 * T * E + (T * k if shape.options.get("renormalize") == "true" else 0))


TASK = TopkSoftmax()
