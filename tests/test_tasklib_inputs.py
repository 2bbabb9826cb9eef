"""Inputs, shapes and costs: deterministic, realistic routing, every edge case TASKS.md names."""

from __future__ import annotations

import math

import pytest
import torch

from warpsmith.tasklib import BASE_ALLOWED_TORCH_OPS, DISTRIBUTIONS, SUITES, get_task, list_tasks
from warpsmith.tasklib.checking import allclose_report
from warpsmith.tasklib.routing import expert_parallel_view, router_topk_ids
from warpsmith.tasklib.values import random_values

MOE_TASKS = ("moe_dispatch", "moe_align_block_size", "moe_combine")


def test_zipf_routing_is_skewed_and_uniform_is_not() -> None:
    gen = torch.Generator().manual_seed(0)
    ids = router_topk_ids(4096, 8, 128, gen, "zipf")
    share = torch.bincount(ids.view(-1).long(), minlength=128).float() / ids.numel()
    assert share.max() > 5 * share.mean(), "a few hot experts carry much more than the mean share"
    uniform = router_topk_ids(4096, 8, 128, torch.Generator().manual_seed(0), "uniform")
    u_share = torch.bincount(uniform.view(-1).long(), minlength=128).float() / uniform.numel()
    assert u_share.max() < 1.5 * u_share.mean()


@pytest.mark.parametrize("routing", ["zipf", "uniform", "hot"])
def test_no_token_holds_the_same_expert_twice(routing: str) -> None:
    ids = router_topk_ids(500, 8, 16, torch.Generator().manual_seed(1), routing)
    assert ids.dtype == torch.int32 and ids.shape == (500, 8)
    assert all(len(set(row)) == 8 for row in ids.tolist())
    assert int(ids.min()) >= 0 and int(ids.max()) < 16
    if routing == "hot":
        hot = torch.mode(ids.view(-1)).values
        assert bool((ids == hot).any(dim=1).all()), "the hot expert is in every token"


def test_expert_parallel_view_keeps_local_ids_and_drops_the_rest() -> None:
    ids = router_topk_ids(256, 8, 64, torch.Generator().manual_seed(2), "uniform")
    minus_one = expert_parallel_view(ids, 64, 8, torch.Generator().manual_seed(3), "minus_one")
    assert set(minus_one.unique().tolist()) <= set(range(-1, 8))
    assert 0.05 < float((minus_one >= 0).float().mean()) < 0.25, "about 1/8 of the pairs are local"
    raw = expert_parallel_view(ids, 64, 8, torch.Generator().manual_seed(3), "out_of_range")
    outside = (raw < 0) | (raw >= 8)
    assert bool(outside.any()) and bool(((raw < -1) | (raw >= 8)).any())
    assert torch.equal(outside, minus_one < 0)


@pytest.mark.parametrize("distribution", DISTRIBUTIONS)
def test_value_distributions_are_deterministic_and_distinct(distribution: str) -> None:
    a = random_values((64, 32), distribution, torch.Generator().manual_seed(5), torch.bfloat16)
    b = random_values((64, 32), distribution, torch.Generator().manual_seed(5), torch.bfloat16)
    c = random_values((64, 32), distribution, torch.Generator().manual_seed(6), torch.bfloat16)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert bool(torch.isfinite(a).all())
    with pytest.raises(ValueError, match="unknown distribution"):
        random_values((2,), "cauchy", torch.Generator(), torch.float32)


def test_heavy_tailed_has_outliers_that_normal_lacks() -> None:
    gen = torch.Generator().manual_seed(0)
    heavy = random_values((100_000,), "heavy_tailed", gen, torch.float32)
    normal = random_values((100_000,), "normal", gen, torch.float32)
    assert float(heavy.abs().max()) > 3 * float(normal.abs().max())


@pytest.mark.parametrize("task", list_tasks(), ids=lambda t: t.name)
def test_make_inputs_is_deterministic_and_seed_dependent(task) -> None:
    shape = task.shapes("check")[-1]
    first, again, other = (task.make_inputs(shape, s) for s in (3, 3, 4))
    assert len(first) == len(task.input_names)
    for x, y, z in zip(first, again, other, strict=True):
        if isinstance(x, torch.Tensor):
            assert torch.equal(x, y) and x.device.type == "cpu"
        else:
            assert x == y == z and isinstance(x, (int, float))
    assert any(isinstance(x, torch.Tensor) and not torch.equal(x, z) for x, z in zip(first, other, strict=True))
    for distribution in DISTRIBUTIONS:
        inputs = task.make_inputs(shape, 0, "cpu", distribution)
        outputs = task.reference(*inputs)
        assert task.check(inputs, outputs, outputs).ok, distribution


@pytest.mark.parametrize("task", list_tasks(), ids=lambda t: t.name)
def test_shapes_suites_and_costs(task) -> None:
    for suite in SUITES:
        shapes = task.shapes(suite)
        assert shapes, suite
        labels = [s.label for s in shapes]
        assert len(set(labels)) == len(labels), f"{suite} labels repeat"
        for shape in shapes:
            cost = task.cost(shape)
            assert cost.bytes > 0 and cost.flops >= 0
    smoke_and_check = task.shapes("smoke") + task.shapes("check")
    assert all(int(s["T"]) * int(s.dims.get("H", 1)) <= 40_000 for s in smoke_and_check), "keep CPU shapes small"
    assert task.allowed_torch_ops == BASE_ALLOWED_TORCH_OPS
    with pytest.raises(ValueError, match="unknown suite"):
        task.shapes("huge")


@pytest.mark.parametrize("name", MOE_TASKS)
def test_moe_check_shapes_cover_the_edge_cases(name: str) -> None:
    task = get_task(name)
    check = task.shapes("check")
    assert any(s["T"] == 1 for s in check)
    assert any(s.dims.get("ep", 1) > 1 for s in check), "expert-parallel drops"
    assert any(s.options.get("routing") == "hot" for s in check)
    if name != "moe_combine":
        assert any(s["T"] * s["k"] < s["E"] for s in check), "T*k < E leaves experts empty"
        assert any(s["E"] == 257 for s in check)
        assert any(s.options.get("dropped") == "out_of_range" for s in check)
    if "H" in check[0].dims:
        assert any(s["H"] % 128 for s in check)
    bench = task.shapes("bench")
    labels = {s.label for s in bench}
    assert {"deepseek-v3 T=8192", "qwen3-30b T=512", "mixtral T=1", "gpt-oss-120b T=2048"} <= {
        label.split(" B=")[0] for label in labels
    }
    assert any(label.startswith("ep8 deepseek-v3 T=128") for label in labels)


def test_expert_parallel_bench_inputs_hold_only_local_experts() -> None:
    task = get_task("moe_dispatch")
    shape = next(s for s in task.shapes("bench") if s.label == "ep8 qwen3-30b T=128")
    assert task.cost(shape).bytes < task.cost(next(s for s in task.shapes("bench") if s.label == "qwen3-30b T=128")).bytes
    _, topk_ids, num_experts = task.make_inputs(shape, 0)
    assert num_experts == 128 // 8
    assert set(topk_ids.unique().tolist()) <= set(range(-1, num_experts))


def test_dispatch_cost_counts_the_minimum_bytes() -> None:
    task = get_task("moe_dispatch")
    shape = next(s for s in task.shapes("bench") if s.label == "deepseek-v3 T=512")
    T, k, H, E = 512, 8, 7168, 256
    assert task.cost(shape).bytes == T * H * 2 + T * k * H * 2 + T * k * 12 + (E + 1) * 8


def test_allclose_report_never_passes_nan_or_inf() -> None:
    expected = torch.tensor([1.0, float("nan"), float("inf")])
    report = allclose_report("out", expected.clone(), expected)
    assert not report.ok and "out[1]" in report.first_mismatch
    close = allclose_report("out", torch.tensor([1.00005]), torch.tensor([1.0]))
    far = allclose_report("out", torch.tensor([1.001]), torch.tensor([1.0]))
    assert close.ok and not far.ok and far.max_abs_err == pytest.approx(1e-3, rel=1e-3)
    bf16 = allclose_report("out", torch.tensor([1.0078125], dtype=torch.bfloat16), torch.tensor([1.0], dtype=torch.bfloat16))
    assert bf16.ok, "one bf16 ulp is inside the 1e-2 tolerance"
    ints = torch.tensor([1, 2, 3], dtype=torch.int32)
    assert allclose_report("ids", ints, ints).ok and not allclose_report("ids", ints + 1, ints).ok


def test_expert_parallel_costs_count_the_pairs_of_the_inputs() -> None:
    """cost(shape) is the expectation over routings; cost_of(shape, inputs) counts the very pairs routed
    to this rank, which differ from the expectation by up to ~2x (issue 8)."""
    task = get_task("moe_dispatch")
    shape = next(s for s in task.shapes("bench") if s.label == "ep8 qwen3-30b T=128")
    T, k, E, H, local = 128, 8, 128, 2048, 16
    no_local = math.comb(E - local, k) / math.comb(E, k)
    assert task.cost(shape).bytes == round((T * (1 - no_local) + T * k / 8) * H * 2) + T * k * 12 + (local + 1) * 8
    ratios = []
    for seed in range(4):
        inputs = task.make_inputs(shape, seed)
        ids = inputs[1]
        valid = (ids >= 0) & (ids < local)
        rows = int(valid.any(dim=1).sum()) + int(valid.sum())
        assert task.cost_of(shape, inputs).bytes == rows * H * 2 + T * k * 12 + (local + 1) * 8
        ratios.append(task.cost_of(shape, inputs).bytes / task.cost(shape).bytes)
    assert max(ratios) / min(ratios) > 1.2, "the routing of one evaluation moves the floor"
    combine, align = get_task("moe_combine"), get_task("moe_align_block_size")
    c_inputs = combine.make_inputs(shape, 0)
    assert combine.cost_of(shape, c_inputs).flops == 2 * int((c_inputs[2] >= 0).sum()) * H
    a_shape = next(s for s in align.shapes("bench") if s.label.startswith("ep8 qwen3-30b T=128"))
    a_inputs = align.make_inputs(a_shape, 0)
    a_valid = int(((a_inputs[0] >= 0) & (a_inputs[0] < local)).sum())
    assert align.cost_of(a_shape, a_inputs).bytes == T * k * 4 + a_valid * 4 + math.ceil(a_valid / 64) * 4 + 4
    rms = get_task("rmsnorm")
    r_shape = rms.shapes("bench")[0]
    assert rms.cost_of(r_shape, rms.make_inputs(r_shape, 0)) == rms.cost(r_shape)
