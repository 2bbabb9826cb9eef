"""moe_fused_gate, per_token_group_quant_fp8, merge_attn_states and rotary_embedding: each checker
refuses the corruptions its contract names, on the trials a real check-suite evaluation runs.

Wrong kernels are plain torch on top of the references (each breaks one clause). Clauses that hold
by construction (group traps, per-group scales, planted LSE infinities, positions) are refused on
every trial of the shapes that carry them, over several secrets; the rest in every evaluation.
The seeds' correctness through the real evaluator is tests/test_evaluator_seeds.py (slow), which
runs every built-in task's Triton seed on its smoke and check shapes.
"""

from __future__ import annotations

import pytest
import torch

from warpsmith.evaluator.correctness import plan_trials
from warpsmith.tasklib import get_task
from warpsmith.tasklib.base import Task
from warpsmith.tasklib.moe_fused_gate import selection_problem
from warpsmith.tasklib.per_token_group_quant_fp8 import FP8_MAX, e4m3_ulp
from warpsmith.tasklib.rotary_embedding import rotate

GATE = get_task("moe_fused_gate")
QUANT = get_task("per_token_group_quant_fp8")
MERGE = get_task("merge_attn_states")
ROPE = get_task("rotary_embedding")
SECRETS = (0, 1, 7, 1234)


def _trials(task: Task, secret: int, only: str = ""):
    for trial in plan_trials(task, "check", "interpreter", secret):
        if only in trial.shape.label:
            yield trial, task.make_inputs(trial.shape, trial.seed, "cpu", distribution=trial.distribution)


def _refused(task: Task, inputs, outputs) -> bool:
    return not task.check(inputs, tuple(outputs), task.reference(*inputs)).ok


def _accepted(task: Task, inputs, outputs) -> bool:
    return task.check(inputs, tuple(outputs), task.reference(*inputs)).ok


@pytest.mark.parametrize("task", [GATE, QUANT, MERGE, ROPE], ids=lambda t: t.name)
def test_reference_passes_its_own_checker_and_cost_is_positive(task: Task) -> None:
    for trial, inputs in _trials(task, 3):
        assert _accepted(task, inputs, task.reference(*inputs)), trial
    for shape in task.shapes("smoke") + task.shapes("check") + task.shapes("bench"):
        cost = task.cost(shape)
        assert cost.bytes > 0 and cost.flops > 0, shape.label


# --- moe_fused_gate ---------------------------------------------------------------------------------


def _gate(scores, bias, G, TG, k, factor, *, groups=True, group_score="top2", use_bias=True,
          weights_from="s", renormalize=True, scale=True):
    s = scores.sigmoid()
    choice = s + bias if use_bias else s.clone()
    T, E = s.shape
    if groups:
        grouped = choice.view(T, G, -1)
        gs = grouped.topk(2, -1).values.sum(-1) if group_score == "top2" else grouped.max(-1).values
        keep = torch.zeros(T, G, dtype=torch.bool).scatter_(1, gs.topk(TG, -1).indices, True)
        choice = choice.masked_fill(~keep[:, :, None].expand(T, G, E // G).reshape(T, E), float("-inf"))
    ids = choice.topk(k, -1).indices
    w = (s if weights_from == "s" else s + bias).gather(1, ids)
    w = w / w.sum(-1, keepdim=True) if renormalize else w
    return (w * factor if scale else w).float(), ids.to(torch.int32)


def test_gate_refuses_ignoring_the_group_limit_and_a_max_group_score_on_every_trap_trial() -> None:
    for secret in SECRETS:
        for trial, inputs in _trials(GATE, secret):
            if trial.shape.options["trap"] != "yes":
                continue
            assert _accepted(GATE, inputs, _gate(*inputs)), trial
            assert _refused(GATE, inputs, _gate(*inputs, groups=False)), trial
            assert _refused(GATE, inputs, _gate(*inputs, group_score="max")), trial


def test_gate_refuses_wrong_weights_on_every_trial() -> None:
    for trial, inputs in _trials(GATE, 5):
        assert _refused(GATE, inputs, _gate(*inputs, weights_from="choice")), trial  # the biased score
        assert _refused(GATE, inputs, _gate(*inputs, renormalize=False)), trial
        if inputs[5] != 1.0:
            assert _refused(GATE, inputs, _gate(*inputs, scale=False)), trial


def test_gate_refuses_ignoring_the_bias_in_every_evaluation() -> None:
    for secret in SECRETS:
        assert any(_refused(GATE, inputs, _gate(*inputs, use_bias=False)) for _, inputs in _trials(GATE, secret))


def test_gate_order_within_a_token_is_free_and_ids_must_be_distinct() -> None:
    _, inputs = next(_trials(GATE, 2, "deepseek-v3 T=5"))
    weights, ids = _gate(*inputs)
    order = torch.stack([torch.randperm(ids.shape[1]) for _ in range(ids.shape[0])])
    assert _accepted(GATE, inputs, (weights.gather(1, order), ids.gather(1, order.to(torch.int64))))
    twice = ids.clone()
    twice[0, 1] = twice[0, 0]
    assert _refused(GATE, inputs, (weights, twice))
    swapped = weights.clone()
    swapped[0, [0, 1]] = swapped[0, [1, 0]]  # a weight paired with the wrong id
    assert weights[0, 0] == weights[0, 1] or _refused(GATE, inputs, (swapped, ids))


def test_gate_accepts_either_side_of_an_exact_tie() -> None:
    # 2 groups of 4, keep 1, k=1: experts 1 and 2 tie exactly in the kept group
    scores = torch.tensor([[0.0, 1.0, 1.0, -2.0, -3.0, -3.0, -3.0, -3.0]])
    bias = torch.zeros(8)
    for chosen in (1, 2):
        ids = torch.tensor([[chosen]], dtype=torch.int32)
        assert selection_problem(scores, bias, 2, 1, ids.long()) is None
    assert selection_problem(scores, bias, 2, 1, torch.tensor([[0]])) is not None
    assert "group" in selection_problem(scores, bias, 2, 1, torch.tensor([[4]]))


# --- per_token_group_quant_fp8 ----------------------------------------------------------------------


def _quant(x, group, *, per_token=False, eps=1e-10, shift_scales=False, drop_last_scale=False):
    T, H = x.shape
    groups = x.float().view(T, H // group, group)
    amax = groups.abs().amax(-1, keepdim=True)
    if per_token:
        amax = amax.amax(1, keepdim=True).expand_as(amax)
    scale = amax.clamp_min(eps) / FP8_MAX if eps else amax / FP8_MAX
    q = (groups / scale).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn).view(T, H)
    scales = scale.view(T, -1).clone()
    if shift_scales:
        scales = scales.roll(1, dims=1)
    if drop_last_scale:
        scales[:, -1] = 1.0
    return q, scales


def test_quant_refuses_a_per_token_scale_and_a_dropped_or_shifted_group_scale_on_every_trial() -> None:
    for secret in SECRETS:
        for trial, (x, group) in _trials(QUANT, secret):
            assert _accepted(QUANT, (x, group), _quant(x, group)), trial
            assert _refused(QUANT, (x, group), _quant(x, group, drop_last_scale=True)), trial
            if x.shape[1] // group >= 2:
                assert _refused(QUANT, (x, group), _quant(x, group, per_token=True)), trial
                assert _refused(QUANT, (x, group), _quant(x, group, shift_scales=True)), trial


def test_quant_refuses_ignoring_eps_on_every_trial_with_a_zero_group() -> None:
    for trial, (x, group) in _trials(QUANT, 9):
        if x.numel() // group >= 2:  # a zero group is planted: 0 / 0 is NaN without the clamp
            assert _refused(QUANT, (x, group), _quant(x, group, eps=0.0)), trial


def test_quant_q_one_ulp_at_a_rounding_boundary_passes_a_bias_or_two_ulps_fail() -> None:
    _, (x, group) = next(_trials(QUANT, 4, "T=3 H=384"))
    q, scales = QUANT.reference(x, group)
    values = q.float()
    big = values.abs() >= 1.0
    one_up = torch.where(big, values + e4m3_ulp(values) * values.sign(), values)
    # every large value one ulp off: a systematic bias (quantized with a scale a few % off), refused
    assert _refused(QUANT, (x, group), (one_up.to(torch.float8_e4m3fn), scales))
    few = values.clone()
    few.view(-1)[:3] = one_up.view(-1)[:3]  # a rounding boundary here and there: accepted
    assert _accepted(QUANT, (x, group), (few.to(torch.float8_e4m3fn), scales))
    two_up = values.clone()
    two_up[0, 0] = values[0, 0] + 3 * e4m3_ulp(values[0, 0:1])[0] * (1 if values[0, 0] >= 0 else -1)
    assert _refused(QUANT, (x, group), (two_up.to(torch.float8_e4m3fn), scales))
    nan = q.clone()
    nan.view(torch.uint8)[0, 1] = 0x7F  # e4m3fn NaN
    assert _refused(QUANT, (x, group), (nan, scales))
    assert _refused(QUANT, (x, group), (q, scales * (1 + 1e-5)))


def test_e4m3_ulp_matches_the_format() -> None:
    values = torch.tensor([448.0, 256.0, 1.0, 0.9, 2.0 ** -6, 2.0 ** -8, 0.0])
    assert e4m3_ulp(values).tolist() == [32.0, 32.0, 0.125, 0.0625, 2.0 ** -9, 2.0 ** -9, 2.0 ** -9]


# --- merge_attn_states ------------------------------------------------------------------------------


def _naive_merge(v_a, lse_a, v_b, lse_b, *, map_pos_inf=True):
    inf = float("inf")
    a = torch.where(lse_a == inf, -inf, lse_a) if map_pos_inf else lse_a
    b = torch.where(lse_b == inf, -inf, lse_b) if map_pos_inf else lse_b
    top = torch.maximum(a, b)  # -inf - -inf = NaN where both sides are empty
    wa, wb = torch.exp(a - top), torch.exp(b - top)
    v = (v_a.float() * wa[..., None] + v_b.float() * wb[..., None]) / (wa + wb)[..., None]
    return v.to(v_a.dtype), torch.log(wa + wb) + top


def test_merge_refuses_nan_on_both_empty_and_unmapped_plus_inf_on_every_trial() -> None:
    for secret in SECRETS:
        for trial, inputs in _trials(MERGE, secret):
            assert _refused(MERGE, inputs, _naive_merge(*inputs)), trial
            assert _refused(MERGE, inputs, _naive_merge(*inputs, map_pos_inf=False)), trial
            v, lse = MERGE.reference(*inputs)
            assert _refused(MERGE, inputs, (v, torch.logaddexp(inputs[1], inputs[3]))), trial  # +inf kept


def test_merge_refuses_an_empty_side_that_contributes() -> None:
    for trial, (v_a, lse_a, v_b, lse_b) in _trials(MERGE, 2):
        v, lse = MERGE.reference(v_a, lse_a, v_b, lse_b)
        one_empty = (lse_a == float("-inf")) & torch.isfinite(lse_b)
        leaky = torch.where(one_empty[..., None], ((v.float() + v_a.float()) / 2).to(v.dtype), v)
        assert _refused(MERGE, (v_a, lse_a, v_b, lse_b), (leaky, lse)), trial


def test_merge_reference_matches_float64_and_its_conventions() -> None:
    for trial, (v_a, lse_a, v_b, lse_b) in _trials(MERGE, 6):
        v, lse = MERGE.reference(v_a, lse_a, v_b, lse_b)
        a, b = (torch.where(x == float("inf"), float("-inf"), x).double() for x in (lse_a, lse_b))
        both = (a == float("-inf")) & (b == float("-inf"))
        assert bool((lse[both] == float("-inf")).all()) and bool((v[both] == 0).all()), trial
        ok = ~both
        want_lse = torch.logaddexp(a, b)
        assert torch.allclose(lse[ok].double(), want_lse[ok], rtol=1e-5, atol=1e-5), trial
        want = (v_a.double() * torch.exp(a - want_lse)[..., None] + v_b.double() * torch.exp(b - want_lse)[..., None])
        assert torch.allclose(v[ok].double(), want[ok], rtol=1e-2, atol=1e-2), trial


# --- rotary_embedding -------------------------------------------------------------------------------


def _rope(positions, q, k, cache, head_size, is_neox, *, style=None, full=False, by_index=False):
    pos = torch.arange(q.shape[0]) if by_index else positions
    cos, sin = cache[pos].chunk(2, dim=-1)
    neox = is_neox if style is None else style
    if full:  # rotate the whole head: the cache's frequencies stretched over head_size
        rot = cache.shape[1]
        cos = torch.cat([cos] * (head_size // rot) + [cos[:, : (head_size % rot) // 2]], -1)
        sin = torch.cat([sin] * (head_size // rot) + [sin[:, : (head_size % rot) // 2]], -1)
    return rotate(q, cos, sin, head_size, neox), rotate(k, cos, sin, head_size, neox)


def test_rope_refuses_the_wrong_style_on_every_trial() -> None:
    for secret in SECRETS:
        for trial, inputs in _trials(ROPE, secret):
            assert _accepted(ROPE, inputs, _rope(*inputs)), trial
            assert _refused(ROPE, inputs, _rope(*inputs, style=not inputs[5])), trial


def test_rope_refuses_rotating_past_rot_dim_on_every_partial_trial() -> None:
    for secret in SECRETS:
        for trial, inputs in _trials(ROPE, secret, "partial"):
            assert _refused(ROPE, inputs, _rope(*inputs, full=True)), trial


def test_rope_refuses_the_token_index_as_position_in_every_evaluation() -> None:
    for secret in SECRETS:
        assert any(_refused(ROPE, inputs, _rope(*inputs, by_index=True)) for _, inputs in _trials(ROPE, secret))


def test_rope_reference_matches_complex_rotation() -> None:
    for trial, (positions, q, k, cache, D, neox) in _trials(ROPE, 8):
        rot = cache.shape[1]
        angle = torch.polar(torch.ones(q.shape[0], rot // 2, dtype=torch.float64),
                            torch.atan2(cache[positions, rot // 2:].double(), cache[positions, :rot // 2].double()))
        heads = q.double().view(q.shape[0], -1, D)
        pairs = (torch.complex(heads[..., : rot // 2], heads[..., rot // 2: rot]) if neox
                 else torch.complex(heads[..., 0:rot:2], heads[..., 1:rot:2]))
        turned = pairs * angle[:, None, :]
        want = heads.clone()
        if neox:
            want[..., : rot // 2], want[..., rot // 2: rot] = turned.real, turned.imag
        else:
            want[..., 0:rot:2], want[..., 1:rot:2] = turned.real, turned.imag
        got = ROPE.reference(positions, q, k, cache, D, neox)[0].double().view_as(want)
        assert torch.allclose(got, want, rtol=1e-2, atol=1e-2), trial


@pytest.mark.slow  # one sandboxed evaluation under the interpreter
def test_rope_in_place_kernel_is_refused_by_the_evaluator() -> None:
    """The serving convention (rotate q and k in place) is not the evaluated contract: the seed changed
    to write into its inputs is stopped by the evaluator's input check."""
    from warpsmith.evaluator.evaluate import evaluate
    from warpsmith.records.evaluation import Candidate

    source = ROPE.seed_path("triton").read_text()
    for old, new in (("q_out = torch.empty_like(q)", "q_out = q"), ("k_out = torch.empty_like(k)", "k_out = k")):
        assert old in source
        source = source.replace(old, new)
    result = evaluate(Candidate(task=ROPE.name, language="triton", source=source, origin="user"), ROPE,
                      suite="smoke", device="cpu")
    assert result.status != "correct"
    assert "input-mutated" in {v.rule for v in result.violations}, (result.status, result.message)
