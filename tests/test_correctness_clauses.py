"""Every contract clause is exercised in every evaluation, and a wrong answer that breaks only that
clause is refused: by the task's checker (outputs fed straight to it) or by the parent's verification.

Wrong kernels are written here in plain torch on top of the reference (each breaks one clause);
the evaluation's coverage is checked over many secrets, because the secret may choose values but
never whether a clause is covered. Fast and sandbox-free: bench/mutation.py runs this file per mutant.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from pydantic import ValidationError

from warpsmith.evaluator import anticheat
from warpsmith.evaluator.child_report import ChildReport, trial_file_problem
from warpsmith.evaluator.correctness import plan_trials, verify_outputs, verify_trial
from warpsmith.tasklib import DISTRIBUTIONS, get_task, list_tasks
from warpsmith.tasklib.base import CheckReport, Task
from warpsmith.tasklib.checking import allclose_outputs, allclose_report
from warpsmith.tasklib.routing import expert_parallel_view

DISPATCH = get_task("moe_dispatch")
ALIGN = get_task("moe_align_block_size")
COMBINE = get_task("moe_combine")
RMSNORM = get_task("rmsnorm")
SECRETS = (0, 1, 2, 3, 7, 11, 1234, 98765)


def _check_inputs(task: Task, secret: int, only: str = ""):
    """(trial, inputs) of every check-suite trial an interpreter evaluation with this secret runs
    (those whose shape label holds `only`)."""
    for trial in plan_trials(task, "check", "interpreter", secret):
        if only in trial.shape.label:
            yield trial, task.make_inputs(trial.shape, trial.seed, "cpu", distribution=trial.distribution)


def _refused(task: Task, inputs, outputs) -> bool:
    return not task.check(inputs, tuple(outputs), task.reference(*inputs)).ok


# --- the plan: every clause in every evaluation ----------------------------------------------------


@pytest.mark.parametrize("task", list_tasks(), ids=lambda t: t.name)
def test_every_check_shape_runs_under_every_distribution(task: Task) -> None:
    for secret in SECRETS[:3]:
        trials = plan_trials(task, "check", "interpreter", secret)
        for shape in task.shapes("check"):
            assert {t.distribution for t in trials if t.shape == shape} == set(DISTRIBUTIONS), shape.label
        assert {t.shape.label for t in trials} == {s.label for s in task.shapes("smoke") + task.shapes("check")}


@pytest.mark.parametrize("task", [DISPATCH, ALIGN], ids=lambda t: t.name)
def test_moe_check_suite_covers_every_routing_clause_whatever_the_secret(task: Task) -> None:
    for secret in SECRETS:
        seen = set()
        for trial, inputs in _check_inputs(task, secret):
            ids, num_experts = (inputs[1], inputs[2]) if task is DISPATCH else (inputs[0], inputs[1])
            T, k = ids.shape
            if trial.shape.options.get("dropped") == "out_of_range":  # both sides on every trial
                assert bool((ids < -1).any()) and bool((ids >= num_experts).any()), trial
                seen.add("out of range")
            if trial.shape.dims.get("ep", 1) > 1 and trial.shape.options.get("dropped") == "minus_one":
                assert int((ids == -1).sum()) >= 2, trial
                seen.add("-1")
            counts = torch.bincount(ids[(ids >= 0) & (ids < num_experts)].long(), minlength=num_experts)
            seen |= {"empty expert"} if bool((counts == 0).any()) else set()
            hot = T > 1 and any(bool((ids == e).any(dim=1).all()) for e in range(num_experts))
            seen |= {"hot expert"} if hot else set()
            seen |= {"T=1"} if T == 1 else set()
            seen |= {"odd pairs"} if T * k % 2 and T * k > 1 else set()
            if task is DISPATCH:
                seen |= {"odd H"} if inputs[0].shape[1] % 2 and inputs[0].shape[1] > 1 else set()
            else:
                seen |= {"pairs no block divides"} if T * k % inputs[2] else set()
        wanted = {"out of range", "-1", "empty expert", "hot expert", "T=1", "odd pairs"}
        wanted |= {"odd H"} if task is DISPATCH else {"pairs no block divides"}
        assert seen == wanted, (secret, wanted - seen)


def test_combine_check_suite_covers_dropped_pairs_and_t1() -> None:
    for secret in SECRETS[:3]:
        trials = list(_check_inputs(COMBINE, secret))
        assert any(int((inputs[2] == -1).sum()) >= 2 for _, inputs in trials)
        assert any(inputs[2].shape[0] == 1 for _, inputs in trials)
        assert any(inputs[2].shape[1] == 1 for _, inputs in trials)


def _ignoring_eps(x: torch.Tensor, weight: torch.Tensor, eps: float) -> tuple[torch.Tensor]:
    return RMSNORM.reference(x, weight, 0.0)


def test_rmsnorm_kernel_that_ignores_eps_fails_in_every_evaluation() -> None:
    for secret in SECRETS:
        relative = list(_check_inputs(RMSNORM, secret, "eps=mean(x^2)"))
        assert len(relative) == len(DISTRIBUTIONS)
        for trial, inputs in relative:  # refused on every trial of the eps-sized shape, every distribution
            assert _refused(RMSNORM, inputs, _ignoring_eps(*inputs)), trial
            mean_square = float(inputs[0].float().pow(2).mean())
            assert inputs[2] == pytest.approx(mean_square, rel=1e-6), "eps follows the values, not a constant"


def test_rmsnorm_reference_matches_the_formula_in_float64() -> None:
    for trial, (x, weight, eps) in _check_inputs(RMSNORM, 5):
        xd = x.double()
        want = xd / torch.sqrt(xd.pow(2).mean(-1, keepdim=True) + eps) * weight.double()
        assert allclose_report("out", RMSNORM.reference(x, weight, eps)[0], want.to(torch.bfloat16)).ok, trial


@pytest.mark.parametrize("task", [DISPATCH, COMBINE, RMSNORM], ids=lambda t: t.name)
def test_make_inputs_honours_the_trials_distribution(task: Task) -> None:
    shape = task.shapes("check")[-1]
    floats = [task.make_inputs(shape, 3, "cpu", distribution=d)[0] for d in DISTRIBUTIONS]
    assert all(not torch.equal(a, b) for i, a in enumerate(floats) for b in floats[i + 1:])
    assert float(floats[DISTRIBUTIONS.index("uniform")].abs().max()) <= 1.0


# --- independent references: brute force on every check shape --------------------------------------


def _brute_groups(ids: torch.Tensor, num_experts: int) -> list[list[int]]:
    flat = ids.reshape(-1).tolist()
    return [[p for p, e in enumerate(flat) if e == expert] for expert in range(num_experts)]


def test_moe_references_match_a_brute_force_grouping() -> None:
    for trial, (hidden, ids, num_experts) in _check_inputs(DISPATCH, 9):
        permuted, offsets, src, inv = DISPATCH.reference(hidden, ids, num_experts)
        groups = _brute_groups(ids, num_experts)
        bounds = [0]
        for group in groups:
            bounds.append(bounds[-1] + len(group))
        assert offsets.tolist() == bounds, trial
        for expert, group in enumerate(groups):
            assert sorted(src[bounds[expert]:bounds[expert + 1]].tolist()) == group
    for trial, (ids, num_experts, block) in _check_inputs(ALIGN, 9):
        sorted_ids, expert_ids, total = ALIGN.reference(ids, num_experts, block)
        groups = _brute_groups(ids, num_experts)
        padded = [-(-len(g) // block) * block for g in groups]
        assert int(total) == sum(padded), trial
        start = 0
        for expert, group in enumerate(groups):
            segment = sorted_ids[start:start + padded[expert]].tolist()
            assert sorted(segment) == group + [ids.numel()] * (padded[expert] - len(group))
            assert expert_ids[start // block:(start + padded[expert]) // block].tolist() == [expert] * (padded[expert] // block)
            start += padded[expert]


def test_moe_references_drop_every_id_outside_the_local_range() -> None:
    ids = torch.tensor([[4, 0], [-1, 2], [-7, 4], [9, 1]], dtype=torch.int32)  # num_experts = 4
    _, offsets, src, inv = DISPATCH.reference(torch.zeros(4, 2, dtype=torch.bfloat16), ids, 4)
    assert offsets.tolist() == [0, 1, 2, 3, 3] and src[:3].tolist() == [1, 7, 3]
    assert inv.view(-1).tolist() == [-1, 0, -1, 2, -1, -1, -1, 1]
    sorted_ids, expert_ids, total = ALIGN.reference(ids, 4, 2)
    assert int(total) == 6 and expert_ids[:3].tolist() == [0, 1, 2]
    assert sorted_ids[:6].tolist() == [1, 8, 7, 8, 3, 8]


@pytest.mark.parametrize("dropped", ["out_of_range", "minus_one"])
def test_expert_parallel_views_hold_every_kind_of_dropped_id_by_construction(dropped: str) -> None:
    """Tiny routings where the draw alone would miss a side (rank 0 has no negatives, the last rank
    nothing above, a rank holding every drawn expert drops nothing): the view adds what is missing."""
    for ids in ([[3], [7]], [[0], [1], [2]], [[0], [1]], [[6, 7], [7, 6]], [[2, 3], [4, 5]]):
        topk = torch.tensor(ids, dtype=torch.int32)
        for seed in range(24):
            view = expert_parallel_view(topk, 8, 4, torch.Generator().manual_seed(seed), dropped)
            assert int(((view < 0) | (view >= 2)).sum()) >= 2, (ids, seed, view)
            if dropped == "out_of_range":
                assert bool((view < -1).any()) and bool((view >= 2).any()), (ids, seed, view)
                assert all(len(set(row)) == len(row) for row in view.tolist()), "ids stay distinct per token"
            else:
                assert set(view.view(-1).tolist()) <= {-1, 0, 1}


def test_combine_reference_adds_nothing_for_dropped_pairs() -> None:
    for trial, (expert_out, weights, inv) in (*_check_inputs(COMBINE, 4, "ep8"), *_check_inputs(COMBINE, 4, "T=1 ")):
        want = torch.zeros(inv.shape[0], expert_out.shape[1], dtype=torch.float64)
        for t in range(inv.shape[0]):
            for j in range(inv.shape[1]):
                if int(inv[t, j]) >= 0:
                    want[t] += float(weights[t, j]) * expert_out[int(inv[t, j])].double()
        assert allclose_report("out", COMBINE.reference(expert_out, weights, inv)[0], want.to(torch.bfloat16)).ok, trial


# --- wrong kernels, one clause each, over whole evaluations ----------------------------------------


def _clamp_high_ids(ids: torch.Tensor, num_experts: int) -> torch.Tensor:
    """The issue's kernel: ids >= num_experts go to the last expert; negative ids are dropped."""
    return torch.where(ids >= num_experts, torch.full_like(ids, num_experts - 1), ids)


def _only_minus_one_dropped(ids: torch.Tensor, num_experts: int) -> torch.Tensor:
    """Drops -1 and ids >= num_experts, but takes any other negative id modulo num_experts."""
    return torch.where(ids < -1, ids % num_experts, ids)


@pytest.mark.parametrize("wrong_ids", [_clamp_high_ids, _only_minus_one_dropped])
def test_kernels_that_mishandle_out_of_range_ids_fail_every_evaluation(wrong_ids) -> None:
    """Refused on every trial of the out-of-range shape (four per evaluation), for every secret."""
    for secret in SECRETS:
        judged = 0
        for trial, (hidden, ids, num_experts) in _check_inputs(DISPATCH, secret, "out-of-range"):
            wrong = DISPATCH.reference(hidden, wrong_ids(ids, num_experts), num_experts)
            assert _refused(DISPATCH, (hidden, ids, num_experts), wrong), trial
            judged += 1
        for trial, (ids, num_experts, block) in _check_inputs(ALIGN, secret, "out-of-range"):
            wrong = ALIGN.reference(wrong_ids(ids, num_experts), num_experts, block)
            assert _refused(ALIGN, (ids, num_experts, block), wrong), trial
            judged += 1
        assert judged == 2 * len(DISTRIBUTIONS)


def test_a_kernel_that_gives_empty_experts_a_row_fails() -> None:
    for _, inputs in _check_inputs(DISPATCH, 3, "empty experts"):
        permuted, offsets, src, inv = DISPATCH.reference(*inputs)
        counts = torch.diff(offsets).clamp_min(1)  # every expert claims at least one row
        wrong = torch.zeros_like(offsets)
        wrong[1:] = torch.cumsum(counts, 0)
        assert _refused(DISPATCH, inputs, (permuted, wrong, src, inv))


# --- the parent's verification of a trial file -------------------------------------------------------


class _AlwaysEqual(torch.Tensor):
    pass


def _trial_file(task: Task, label_part: str = ""):
    trial = next(t for t in plan_trials(task, "check", "interpreter", 5) if label_part in t.shape.label)
    inputs = task.make_inputs(trial.shape, trial.seed, "cpu", distribution=trial.distribution)
    expected = task.reference(*inputs)

    def copies(values):
        return [v.clone() if isinstance(v, torch.Tensor) else v for v in values]

    saved = {"out_a": copies(expected), "out_b": copies(expected), "args_after_a": copies(inputs),
             "args_after_b": copies(inputs)}
    return trial, inputs, expected, saved


def _verdict(task: Task, trial, inputs, expected, saved) -> tuple[bool, set[str], str]:
    record, violations = verify_trial(task, trial, inputs, expected, saved)
    return record.ok, {v.rule for v in violations}, record.details


def test_an_honest_trial_file_passes() -> None:
    assert _verdict(RMSNORM, *_trial_file(RMSNORM))[:2] == (True, set())


def test_tensor_subclass_outputs_are_refused() -> None:
    trial, inputs, expected, saved = _trial_file(RMSNORM)
    saved["out_b"] = [saved["out_b"][0].as_subclass(_AlwaysEqual)]
    assert _verdict(RMSNORM, trial, inputs, expected, saved)[1] == {"output-not-plain-tensor"}
    problem = verify_outputs(RMSNORM, inputs, [expected[0].as_subclass(_AlwaysEqual)], expected)
    assert problem is not None and "not a torch.Tensor" in problem


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (lambda s: s["args_after_b"][0].view(-1).__setitem__(0, 3.0), "input-mutated"),
        (lambda s: s.__setitem__("out_a", [s["args_after_a"][0]]), "output-aliases-input"),
        (lambda s: s.__setitem__("out_b", list(s["out_a"])), "output-reused-across-calls"),
    ],
    ids=["input-mutated", "aliases-input", "reused-across-calls"],
)
def test_memory_tricks_are_rejected(change, rule: str) -> None:
    trial, inputs, expected, saved = _trial_file(RMSNORM)
    change(saved)
    ok, rules, _ = _verdict(RMSNORM, trial, inputs, expected, saved)
    assert not ok and rules == {rule}


def test_the_second_poisoned_call_is_judged_too() -> None:
    trial, inputs, expected, saved = _trial_file(RMSNORM)
    saved["out_b"][0].view(-1)[-1] = 1000.0
    ok, rules, details = _verdict(RMSNORM, trial, inputs, expected, saved)
    assert not ok and not rules and "second call" in details


class _Lenient(Task):
    """A task whose own checker accepts anything: the parent's structure rules must hold alone."""

    def check(self, inputs, outputs, expected) -> CheckReport:
        return CheckReport(ok=True)


LENIENT = _Lenient(name="lenient", description="-", signature="-", input_names=RMSNORM.input_names,
                   output_names=RMSNORM.output_names)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda e: [e.float()], "dtype"),
        (lambda e: [e.to("meta")], "on meta"),
        (lambda e: [e[:, :-1].clone()], "shape"),
        (lambda e: [e.clone(), e.clone()], "returned 2 outputs"),
    ],
    ids=["dtype", "device", "shape", "extra-output"],
)
def test_the_parents_structure_check_does_not_rely_on_the_tasks_checker(wrong, words: str) -> None:
    trial, inputs, expected, saved = _trial_file(RMSNORM)
    saved["out_a"] = wrong(expected[0])
    ok, _, details = _verdict(LENIENT, trial, inputs, expected, saved)
    assert not ok and words in details
    problem = verify_outputs(LENIENT, inputs, wrong(expected[0]), expected)
    assert problem is not None and words in problem


def test_wrong_timed_outputs_are_reported() -> None:
    trial, inputs, expected, _ = _trial_file(RMSNORM)
    assert verify_outputs(RMSNORM, inputs, [expected[0].clone()], expected) is None
    assert verify_outputs(RMSNORM, inputs, [expected[0] * 2 + 1], expected) is not None


# --- the child's report and the run-time findings ------------------------------------------------------


def test_one_forbidden_op_is_a_reject() -> None:
    found = anticheat.runtime_violations({"aten.add": 1}, [])
    assert [(v.rule, v.severity) for v in found] == [("torch-op-not-allowed", "reject")]


def test_child_report_fields_are_anchored_and_closed() -> None:
    with pytest.raises(ValidationError):
        ChildReport.model_validate({"trials": [{"id": 0, "outputs_file": "../work/outputs_1.pt"}]})
    with pytest.raises(ValidationError):  # the child reports no timings at all: the parent measures them
        ChildReport.model_validate({"timings": [{"label": "s", "median_us": 1.0, "method": "cuda_events"}]})
    good = {"out_a": [], "out_b": [], "args_after_a": [1, 2], "args_after_b": [1, 2]}
    assert trial_file_problem(good, 2) is None
    assert trial_file_problem({**good, "args_after_b": [1]}, 2) is not None
    assert trial_file_problem({**good, "out_a": torch.zeros(1)}, 2) is not None


def test_allclose_outputs_judges_every_output() -> None:
    a, b = torch.ones(4), torch.zeros(3)
    names = ("first", "second")
    assert allclose_outputs(names, (a.clone(), b.clone()), (a, b)).ok
    assert not allclose_outputs(names, (a.clone(), b + 1), (a, b)).ok
    assert not allclose_outputs(names, (a.clone(), b.clone(), b.clone()), (a, b)).ok
    assert not allclose_outputs(names, (a.clone(), b.numpy()), (a, b)).ok
    look_alike = SimpleNamespace(shape=b.shape, dtype=b.dtype, device=b.device)
    assert "expected a torch.Tensor" in allclose_outputs(names, (a.clone(), look_alike), (a, b)).first_mismatch
    assert not allclose_outputs(("m",), (torch.ones(2, 6),), (torch.ones(3, 4),)).ok
