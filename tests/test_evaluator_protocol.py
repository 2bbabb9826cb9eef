"""The evaluator's parts on their own: trial plan and secret seeds, the aten recorder and poison,
byte-level comparisons across torch.save/load, the timing plausibility rules, hardware on CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from warpsmith.evaluator import anticheat, aten_guard, tensors_io
from warpsmith.evaluator.correctness import plan_trials
from warpsmith.evaluator.evaluate import _finish
from warpsmith.evaluator.hardware import detect_hardware
from warpsmith.records.evaluation import EvalResult, ShapeTiming
from warpsmith.tasklib import BASE_ALLOWED_TORCH_OPS, DISTRIBUTIONS, get_task


def test_trial_seeds_depend_on_a_secret_and_cover_distributions() -> None:
    task = get_task("rmsnorm")
    first, second = plan_trials(task, "check", "interpreter", 1234), plan_trials(task, "check", "interpreter", 98765)
    assert [t.shape for t in first] == [t.shape for t in second]
    assert {t.seed for t in first}.isdisjoint({t.seed for t in second})
    assert len({t.seed for t in first}) == len(first)
    assert {t.distribution for t in first} == set(DISTRIBUTIONS)
    smoke = {s.label for s in task.shapes("smoke")}
    assert sum(t.shape.label in smoke for t in first) >= 4  # the small shapes get extra random trials
    assert not {t.shape.label for t in first} & {s.label for s in task.shapes("bench")}


def test_device_bench_suite_runs_five_fresh_trials_per_bench_shape() -> None:
    task = get_task("rmsnorm")
    trials = plan_trials(task, "bench", "device", 7)
    for shape in task.shapes("bench"):
        mine = [t for t in trials if t.shape == shape and t.suite == "bench"]
        assert len(mine) >= 5 and len({t.seed for t in mine}) == len(mine)
        assert len({t.distribution for t in mine}) == len(DISTRIBUTIONS)


def test_recorder_refuses_compute_from_outside_torch_and_triton() -> None:
    allowed = aten_guard.allowed_aten_packets(BASE_ALLOWED_TORCH_OPS, "cpu")
    assert {"aten.empty", "aten.view", "aten.zeros"} <= allowed
    assert "aten.add" not in allowed and "aten.sort" not in allowed
    x = torch.ones(8)
    with aten_guard.OpRecorder(allowed) as recorder:
        torch.empty_like(x).view(2, 4)
        with pytest.raises(aten_guard.ForbiddenOp, match="aten.mul"):
            x * 2  # refused: the op never runs
        with pytest.raises(aten_guard.ForbiddenOp, match="aten.sort"):
            torch.sort(x)
    assert set(recorder.forbidden) == {"aten.mul", "aten.sort"}


def test_recorder_poisons_fresh_allocations_but_not_zeros() -> None:
    allowed = aten_guard.allowed_aten_packets(BASE_ALLOWED_TORCH_OPS, "cpu")
    with aten_guard.OpRecorder(allowed, poison_byte=0x7F):
        fresh = torch.empty(16, dtype=torch.int32)
        zeros = torch.zeros(16, dtype=torch.int32)
    assert (fresh == 0x7F7F7F7F).all() and (zeros == 0).all()


def test_storage_sharing_survives_save_and_load(tmp_path: Path) -> None:
    base = torch.arange(12.0)
    tensors_io.save(tmp_path / "f.pt", {"inputs": [base], "outputs": [base.view(3, 4)[1], torch.zeros(3)]})
    loaded = tensors_io.load(tmp_path / "f.pt")
    assert tensors_io.shares_storage(loaded["outputs"][0], loaded["inputs"])
    assert not tensors_io.shares_storage(loaded["outputs"][1], loaded["inputs"])


def test_bitwise_equality_is_strict() -> None:
    nan = torch.tensor([float("nan")])
    assert tensors_io.bitwise_equal(nan, nan.clone())
    assert not tensors_io.bitwise_equal(torch.tensor([0.0]), torch.tensor([-0.0]))
    assert not tensors_io.bitwise_equal(torch.zeros(2), torch.zeros(2, dtype=torch.float64))
    assert not tensors_io.values_equal(3, 3.0) and tensors_io.values_equal(1e-6, 1e-6)


def test_loading_refuses_pickled_code(tmp_path: Path) -> None:
    torch.save({"payload": Path("/etc/passwd")}, tmp_path / "evil.pt")
    with pytest.raises(Exception, match="[Ww]eights only"):
        tensors_io.load(tmp_path / "evil.pt")


@pytest.mark.parametrize(
    ("median_us", "speedup", "floor_known", "expected"),
    [
        (10.0, 2.0, True, set()),
        (10.0, 12.0, True, set()),  # judged against the bytes floor, not eager PyTorch
        (10.0, 12.0, False, {("speedup-over-10x", "review")}),
        (7.0, 2.0, True, {("below-bandwidth-floor", "review")}),
        (3.0, 2.0, True, {("below-bandwidth-floor", "reject")}),
    ],
)
def test_timing_plausibility_rules(median_us: float, speedup: float, floor_known: bool, expected: set) -> None:
    floor = anticheat.memory_floor_us(8_000_000, 1000.0)  # 8 MB at 1 TB/s: 8 us
    assert floor == pytest.approx(8.0)
    timing = ShapeTiming(shape="s", median_us=median_us, spread_us=0.1, reps=10, speedup=speedup)
    found = {(v.rule, v.severity) for v in anticheat.timing_violations(timing, floor if floor_known else None,
                                                                         parent_wall_us=median_us)}
    assert found == expected


def test_parent_clock_far_above_events_is_flagged() -> None:
    timing = ShapeTiming(shape="s", median_us=5.0, spread_us=0.1, reps=10)
    assert {v.rule for v in anticheat.timing_violations(timing, None, parent_wall_us=5000.0)} == {"timing-mismatch"}
    # The trusted process's own per-rep overhead widens the slack: an honest launch-bound kernel passes.
    assert anticheat.timing_violations(timing, None, parent_wall_us=5000.0, trusted_slack_us=6000.0) == []


def test_a_reject_violation_overrides_correct() -> None:
    result = EvalResult(task="t", language="triton", source_hash="x", status="correct", mode="device")
    result.violations = anticheat.runtime_violations({}, ["torch.cuda.Event.elapsed_time"])
    final = _finish(result, "correct", "fine", 0.0)
    assert final.status == "rejected" and "elapsed_time" in final.message


def test_cpu_hardware_fingerprint() -> None:
    hardware = detect_hardware("cpu")
    assert hardware.backend == "cpu" and hardware.device_name == "cpu (triton interpreter)"
    assert hardware.memory_bandwidth_gbps is None and "torch" in hardware.toolchain


def test_child_report_shape_is_enforced() -> None:
    from pydantic import ValidationError

    from warpsmith.evaluator.child_report import ChildReport, trial_file_problem

    with pytest.raises(ValidationError):
        ChildReport.model_validate({"trials": [{"id": 0, "outputs_file": "../../etc/passwd"}]})
    assert ChildReport.model_validate({}).error is None
    good = {"out_a": [], "out_b": [], "args_after_a": [1, 2], "args_after_b": [1, 2]}
    assert trial_file_problem(good, 2) is None
    assert trial_file_problem({**good, "expected": []}, 2) is not None
    assert trial_file_problem(good, 3) is not None


def test_batch_budget_counts_the_files_a_trial_really_writes(tmp_path: Path) -> None:
    from warpsmith.evaluator.trial_batch import trial_file_bytes

    task = get_task("rmsnorm")
    shape = task.shapes("check")[-1]
    inputs = task.make_inputs(shape, 1, "cpu")
    reference = task.reference(*inputs)
    tensors_io.save(tmp_path / "inputs.pt", tensors_io.to_host(inputs))

    def clones(values: tuple | list) -> list:
        return [v.clone() if isinstance(v, torch.Tensor) else v for v in values]

    # What the child writes per trial: both calls' outputs and the inputs after each call.
    tensors_io.save(tmp_path / "outputs.pt", {"out_a": clones(reference), "args_after_a": clones(inputs),
                                              "out_b": clones(reference), "args_after_b": clones(inputs)})
    written = sum(f.stat().st_size for f in tmp_path.iterdir())
    estimate = trial_file_bytes(inputs, reference)
    assert estimate <= written <= estimate + (64 << 10)  # only the archives' own overhead on top
    # The old rule (4 x the task's minimal traffic) overcounted rmsnorm by 60 %: batches were too small.
    assert estimate < 4 * task.cost(shape).bytes


def test_loading_is_memory_mapped_and_keeps_shared_storages(tmp_path: Path) -> None:
    base = torch.arange(1024, dtype=torch.float32)
    tensors_io.save(tmp_path / "t.pt", {"whole": base, "view": base[10:20], "other": base.clone()})
    loaded = tensors_io.load(tmp_path / "t.pt")
    assert str(tmp_path / "t.pt") in Path("/proc/self/maps").read_text()  # mapped, not read into a copy
    assert tensors_io.shares_storage(loaded["view"], [loaded["whole"]])
    assert not tensors_io.shares_storage(loaded["other"], [loaded["whole"]])
