"""fused_add_rmsnorm, silu_and_mul, gelu_and_mul, topk_softmax: each checker accepts the reference and
every legitimately different answer its contract allows, and refuses the corruptions the contract names,
on every trial of the shapes built for them, whatever the evaluation's secret.

Wrong kernels are plain torch on top of the reference, each breaking one clause; the trials are the
very ones an interpreter evaluation plans (evaluator/correctness.py `plan_trials`).
"""

from __future__ import annotations

import pytest
import torch

from warpsmith.evaluator.correctness import plan_trials
from warpsmith.tasklib import DISTRIBUTIONS, get_task
from warpsmith.tasklib.base import Task
from warpsmith.tasklib.checking import allclose_report

FUSED = get_task("fused_add_rmsnorm")
SILU = get_task("silu_and_mul")
GELU = get_task("gelu_and_mul")
TOPK = get_task("topk_softmax")
SECRETS = (0, 1, 7, 1234, 98765)


def _trials(task: Task, secret: int, only: str = ""):
    """(trial, inputs) of every smoke and check trial of an interpreter evaluation with this secret."""
    for trial in plan_trials(task, "check", "interpreter", secret):
        if only in trial.shape.label:
            yield trial, task.make_inputs(trial.shape, trial.seed, "cpu", distribution=trial.distribution)


def _ok(task: Task, inputs, outputs) -> bool:
    return task.check(inputs, tuple(outputs), task.reference(*inputs)).ok


# --- fused_add_rmsnorm ---------------------------------------------------------------------------


def _norm(r: torch.Tensor, weight: torch.Tensor | None, eps: float) -> torch.Tensor:
    rf = r.float()
    out = rf * torch.rsqrt(rf.pow(2).mean(-1, keepdim=True) + eps)
    return (out if weight is None else out * weight.float()).to(torch.bfloat16)


def _truncate(values: torch.Tensor) -> torch.Tensor:
    """float32 -> bf16 rounding toward zero (what Triton's CPU interpreter does on .to(bf16))."""
    bits = values.float().contiguous().view(torch.int32) & ~0xFFFF
    return bits.view(torch.float32).to(torch.bfloat16)


def test_fused_reference_matches_the_formula_in_float64() -> None:
    for trial, (x, residual, weight, eps) in _trials(FUSED, 5):
        out, residual_out = FUSED.reference(x, residual, weight, eps)
        exact = x.double() + residual.double()
        assert torch.equal(residual_out, exact.to(torch.bfloat16)), trial
        r = residual_out.double()
        want = r / torch.sqrt(r.pow(2).mean(-1, keepdim=True) + eps) * weight.double()
        assert allclose_report("out", out, want.to(torch.bfloat16)).ok, trial


def test_fused_accepts_either_rounding_of_the_sum_and_the_interpreters_truncation() -> None:
    for trial, inputs in _trials(FUSED, 3):
        x, residual, weight, eps = inputs
        truncated = _truncate(x.float() + residual.float())
        assert _ok(FUSED, inputs, (_norm(truncated, weight, eps), truncated)), trial
        # the documented limit: normalizing the unrounded sum is within out's tolerance
        assert _ok(FUSED, inputs, (_norm(x.float() + residual.float(), weight, eps), FUSED.reference(*inputs)[1]))


@pytest.mark.parametrize(
    ("name", "wrong"),
    [
        ("residual_out is x (no add)", lambda x, res, w, eps, ref: (ref[0], x.clone())),
        ("weight ignored", lambda x, res, w, eps, ref: (_norm(ref[1], None, eps), ref[1])),
        ("out normalizes x, not the sum", lambda x, res, w, eps, ref: (_norm(x, w, eps), ref[1])),
        ("outputs swapped", lambda x, res, w, eps, ref: (ref[1], ref[0])),
    ],
)
def test_fused_refuses_each_corruption_on_every_trial(name: str, wrong) -> None:
    judged = 0
    for secret in SECRETS:
        for trial, inputs in _trials(FUSED, secret):
            if trial.shape["H"] == 1 and name == "outputs swapped":
                continue  # with H=1, out = sign(r) * weight: within a rounding of r only by chance
            if name == "out normalizes x, not the sum" and "residual=-2x" not in trial.shape.label:
                continue  # elsewhere x + residual may point along x (offset_scaled): the -2x shape is the clause
            assert not _ok(FUSED, inputs, wrong(*inputs, FUSED.reference(*inputs))), (name, trial)
            judged += 1
    assert judged >= len(SECRETS) * len(DISTRIBUTIONS)


def test_fused_refuses_residual_out_two_roundings_away() -> None:
    for trial, inputs in _trials(FUSED, 4):
        out, residual_out = FUSED.reference(*inputs)
        bits = residual_out.clone().view(torch.int16)
        bits.view(-1)[-1] += 2  # two bf16 ulps away from the exact sum (magnitude up)
        report = FUSED.check(inputs, (out, bits.view(torch.bfloat16)), (out, residual_out))
        assert not report.ok and "residual_out" in report.first_mismatch, trial
        nan = residual_out.clone()
        nan.view(-1)[0] = float("nan")
        assert not FUSED.check(inputs, (out, nan), (out, residual_out)).ok


def test_fused_kernel_that_ignores_eps_fails_in_every_evaluation() -> None:
    for secret in SECRETS:
        relative = list(_trials(FUSED, secret, "eps=mean(r^2)"))
        assert len(relative) == len(DISTRIBUTIONS)
        for trial, (x, residual, weight, eps) in relative:
            reference = FUSED.reference(x, residual, weight, eps)
            assert not _ok(FUSED, (x, residual, weight, eps), (_norm(reference[1], weight, 0.0), reference[1])), trial
            mean_square = float(reference[1].float().pow(2).mean())
            assert eps == pytest.approx(mean_square, rel=1e-6), "eps follows residual_out, not a constant"


# --- silu_and_mul, gelu_and_mul ----------------------------------------------------------------------


def _halves(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    H = x.shape[1] // 2
    return x[:, :H].double(), x[:, H:].double()


def _silu_overflowing(a: torch.Tensor) -> torch.Tensor:
    """silu with its sigmoid written exp(a) / (1 + exp(a)) in float32: NaN once exp(a) overflows."""
    a = a.float()
    return a * torch.exp(a) / (1 + torch.exp(a))


def _tanh_gelu(a: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.gelu(a.float(), approximate="tanh")


def test_gated_references_match_the_formulas_in_float64() -> None:
    for task, act in ((SILU, lambda a: a / (1 + torch.exp(-a))),
                      (GELU, lambda a: 0.5 * a * (1 + torch.erf(a / 2**0.5)))):
        for trial, (x,) in _trials(task, 5):
            gate, up = _halves(x)
            assert allclose_report("out", task.reference(x)[0], (act(gate) * up).to(torch.bfloat16)).ok, trial


@pytest.mark.parametrize("task", [SILU, GELU], ids=lambda t: t.name)
@pytest.mark.parametrize(
    ("name", "wrong"),
    [
        ("halves swapped", lambda act, gate, up: act(up) * gate),
        ("interleaved halves", lambda act, gate, up: act(torch.cat([gate, up], 1)[:, 0::2]) * torch.cat([gate, up], 1)[:, 1::2]),
        ("activation on up", lambda act, gate, up: act(gate) * act(up)),
        ("no activation", lambda act, gate, up: gate * up),
    ],
)
def test_gated_refuses_each_corruption_on_every_trial(task: Task, name: str, wrong) -> None:
    act = type(task).activation
    for secret in SECRETS:
        for trial, (x,) in _trials(task, secret):
            if trial.shape["H"] == 1 and name == "interleaved halves":
                continue  # with 2H = 2 columns the interleaved reading is the right one
            gate, up = (h.float() for h in _halves(x))
            out = wrong(act, gate, up).to(torch.bfloat16)
            assert not _ok(task, (x,), (out,)), (task.name, name, trial)


def test_saturated_gates_refuse_an_overflowing_sigmoid_in_every_evaluation() -> None:
    for secret in SECRETS:
        trials = list(_trials(SILU, secret, "saturated"))
        assert len(trials) == len(DISTRIBUTIONS)
        for trial, (x,) in trials:
            gate, up = (h.float() for h in _halves(x))
            assert float(gate.max()) > 88.8 and float(gate.min()) < -88.8, "beyond float32 exp's overflow"
            report = SILU.check((x,), ((_silu_overflowing(gate) * up).to(torch.bfloat16),), SILU.reference(x))
            assert not report.ok, trial
            assert _ok(SILU, (x,), ((torch.nn.functional.silu(gate) * up).to(torch.bfloat16),))


def test_tanh_gelu_is_refused_in_every_evaluation_and_exact_gelu_accepted() -> None:
    for secret in SECRETS:
        trials = list(_trials(GELU, secret, "negative tail"))
        assert len(trials) == len(DISTRIBUTIONS)
        for trial, (x,) in trials:
            gate, up = (h.float() for h in _halves(x))
            assert not _ok(GELU, (x,), ((_tanh_gelu(gate) * up).to(torch.bfloat16),)), trial
            exact = 0.5 * gate.double() * (1 + torch.erf(gate.double() / 2**0.5)) * up.double()
            assert _ok(GELU, (x,), (exact.to(torch.bfloat16),)), trial
    # elsewhere the approximation is inside the tolerance: the tail shape is what enforces "exact"
    trial, (x,) = next(_trials(GELU, 0, "T=1 H=128"))
    gate, up = (h.float() for h in _halves(x))
    assert _ok(GELU, (x,), ((_tanh_gelu(gate) * up).to(torch.bfloat16),))


def test_silu_is_not_gelu() -> None:
    for trial, (x,) in _trials(GELU, 2):
        if "saturated" in trial.shape.label:
            continue  # for |a| >> 1 both are a or 0
        assert not _ok(GELU, (x,), SILU.reference(x)), trial
        assert not _ok(SILU, (x,), GELU.reference(x)), trial


# --- topk_softmax --------------------------------------------------------------------------------


def _probs(gating: torch.Tensor) -> torch.Tensor:
    return torch.softmax(gating.float(), dim=-1)


def _answer(gating: torch.Tensor, ids: torch.Tensor, renormalize: bool):
    chosen = _probs(gating).gather(1, ids.long())
    weights = chosen / chosen.sum(1, keepdim=True) if renormalize else chosen
    return weights, ids.to(torch.int32)


def test_topk_check_suite_covers_ties_renormalize_and_dtypes_whatever_the_secret() -> None:
    for secret in SECRETS:
        seen = set()
        for trial, (gating, k, renormalize) in _trials(TOPK, secret):
            T, E = gating.shape
            seen |= {f"renormalize={renormalize}", str(gating.dtype)}
            seen |= {"T=1"} if T == 1 else set()
            seen |= {"k=1"} if k == 1 else set()
            seen |= {"k=E"} if k == E else set()
            seen |= {"E not a power of 2"} if E & (E - 1) else set()
            if trial.shape.options.get("ties") == "boundary":
                ordered = gating.float().sort(dim=1, descending=True).values
                assert bool((ordered[:, k - 1] == ordered[:, k]).all()), ("a tie straddles k in every row", trial)
                assert bool((gating[0] == gating[0, 0]).all()), "row 0 is all ties"
                seen.add("ties")
            if trial.shape["logit_offset"] >= 100:
                assert float(gating.float().min()) > 88.8, "exp without the max subtracted overflows"
                seen.add("large logits")
        assert seen == {"renormalize=True", "renormalize=False", "torch.float32", "torch.bfloat16", "T=1", "k=1",
                        "k=E", "E not a power of 2", "ties", "large logits"}, secret


def test_topk_accepts_any_order_and_any_tie_break() -> None:
    for trial, inputs in _trials(TOPK, 3):
        gating, k, renormalize = inputs
        weights, ids = TOPK.reference(*inputs)
        assert _ok(TOPK, inputs, (weights.flip(1), ids.flip(1))), trial
        if trial.shape.options.get("ties") == "boundary":
            probs = _probs(gating)
            other = ids.clone()
            for t in range(gating.shape[0]):  # swap the k-th id for an unchosen expert tied with it
                tied = (probs[t] == probs[t, ids[t, -1]]).nonzero().flatten().tolist()
                other[t, -1] = next(e for e in tied if e not in ids[t].tolist())
            assert not torch.equal(other, ids)
            assert _ok(TOPK, inputs, _answer(gating, other, renormalize)), trial


def test_topk_refuses_a_wrong_set_on_every_trial() -> None:
    for secret in SECRETS:
        for trial, inputs in _trials(TOPK, secret):
            gating, k, renormalize = inputs
            if k == gating.shape[1]:
                continue  # every expert is chosen: no wrong set exists
            probs = _probs(gating)
            weights, ids = TOPK.reference(*inputs)
            wrong = ids.clone()
            for t in range(gating.shape[0]):  # the k-th id for the most probable expert strictly below it
                below = probs[t].clone()
                below[ids[t].long()] = -1
                below[below >= probs[t, ids[t, -1]]] = -1
                if float(below.max()) >= 0:
                    wrong[t, -1] = int(below.argmax())
            report = TOPK.check(inputs, _answer(gating, wrong, renormalize), (weights, ids))
            assert not report.ok and "wrong top-k set" in report.first_mismatch, trial


def test_topk_refuses_unnormalized_and_wrongly_normalized_weights_on_every_trial() -> None:
    for secret in SECRETS:
        for trial, inputs in _trials(TOPK, secret):
            gating, k, renormalize = inputs
            weights, ids = TOPK.reference(*inputs)
            flipped = _answer(gating, ids, not renormalize)
            if k == gating.shape[1]:
                assert _ok(TOPK, inputs, flipped), "all experts: renormalizing changes nothing"
                continue
            assert not _ok(TOPK, inputs, flipped), trial


@pytest.mark.parametrize(
    ("name", "wrong"),
    [
        ("an id twice", lambda w, i: (w, torch.cat([i[:, :1], i[:, :-1]], 1))),
        ("id out of range", lambda w, i: (w, torch.where(i == i[:, :1], i + 1000, i))),
        ("weights not with their ids", lambda w, i: (w, i.roll(1, dims=1))),
        ("NaN weight", lambda w, i: (torch.where(i == i[:, :1], float("nan"), w), i)),
    ],
)
def test_topk_refuses_malformed_answers(name: str, wrong) -> None:
    for trial, inputs in _trials(TOPK, 6):
        weights, ids = TOPK.reference(*inputs)
        if ids.shape[1] == 1 and name in ("an id twice", "weights not with their ids"):
            continue
        if name == "weights not with their ids" and bool((weights == weights[:, :1]).all()):
            continue  # all-equal weights (a fully tied row) match any order
        outputs = wrong(weights.clone(), ids.clone())
        assert not TOPK.check(inputs, outputs, (weights, ids)).ok, (name, trial)


def test_topk_refuses_a_softmax_without_the_max_subtracted() -> None:
    for secret in SECRETS:
        for trial, (gating, k, renormalize) in _trials(TOPK, secret, "logits +200"):
            e = torch.exp(gating.float())
            probs = e / e.sum(1, keepdim=True)  # inf / inf
            weights, ids = torch.topk(probs, k, dim=1)
            assert not _ok(TOPK, (gating, k, renormalize), (weights, ids.to(torch.int32))), trial


def test_topk_cost_counts_logits_and_outputs() -> None:
    shape = next(s for s in TOPK.shapes("bench") if s.label == "deepseek-v3 T=512")
    assert TOPK.cost(shape).bytes == 512 * 256 * 4 + 512 * 8 * 8
    check = {s.label: s for s in TOPK.shapes("check")}
    assert TOPK.cost(check["mixtral T=5 E=8 k=2 bf16 renorm"]).bytes == 5 * 8 * 2 + 5 * 2 * 8
