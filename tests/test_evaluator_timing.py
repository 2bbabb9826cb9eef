"""Timing the parent can trust (CPU): the parent commands every timed block and clocks it, decides the
method label itself, checks the outputs it asks back, and the reference is timed in a process with no
candidate in it. The child here is sometimes an attacker thread speaking the block protocol: whatever
it claims, only the parent's own view is published."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from tests._evaluator_helpers import rules, run_file
from warpsmith.evaluator import anticheat, block_channel, stages, tensors_io
from warpsmith.evaluator.child_report import ChildReport
from warpsmith.evaluator.hardware import detect_hardware
from warpsmith.evaluator.reference_timing import _task_key, reference_timings
from warpsmith.evaluator.timing_judge import judge_timings
from warpsmith.evaluator.timing_parent import Conductor, ShapePlan
from warpsmith.records.evaluation import EvalResult, ShapeTiming
from warpsmith.tasklib import get_task

TASK = get_task("rmsnorm")
SHAPE = TASK.shapes("smoke")[0]


def _attacker(workdir: Path, numbers: dict, wrong_rep: int | None = None, drop_outputs: bool = False,
              sleep_s: float = 0.0, late: bool = False) -> threading.Thread:
    """A child that speaks the block protocol with forged numbers; its outputs are right (it can compute
    them) unless told otherwise."""

    def serve() -> None:
        block_channel.write_json(workdir / block_channel.READY, {})
        k = 0
        while block_channel.wait_for(workdir / block_channel.cmd_file(k), time.monotonic() + 20, lambda: True):
            cmd = block_channel.read_json(workdir / block_channel.cmd_file(k))
            if cmd.get("stop"):
                return
            time.sleep(sleep_s)
            answers = []  # it commits to the outputs it will send (commit-before-reveal)
            for i, (seed, dist) in enumerate(zip(cmd["seeds"], cmd["distributions"], strict=True)):
                outs = list(TASK.reference(*TASK.make_inputs(SHAPE, seed, "cpu", distribution=dist)))
                answers.append([torch.zeros_like(o) for o in outs] if i == wrong_rep else outs)
            # `late`: it commits to placeholders and computes only the reps the parent then asks for
            committed = [[torch.zeros_like(o) for o in a] for a in answers] if late else answers
            commits = [tensors_io.outputs_digest(a, cmd["digest"]) for a in committed]
            block_channel.write_json(workdir / block_channel.block_file(k), {"commits": commits, **numbers})
            block_channel.wait_for(workdir / block_channel.verify_file(k), time.monotonic() + 20, lambda: True)
            wanted = block_channel.read_json(workdir / block_channel.verify_file(k))["reps"]
            saved = {f"r{i}": answers[i] for i in (wanted[1:] if drop_outputs else wanted)}
            tensors_io.save(workdir / block_channel.outputs_file(k), saved)
            block_channel.write_json(workdir / block_channel.saved_file(k), {"reps": wanted})
            k += 1

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def _conduct(tmp_path: Path, plan: ShapePlan, **attack) -> Conductor:
    conductor = Conductor([plan], tmp_path, secret=1234, timeout_s=30)
    conductor.start()
    _attacker(tmp_path, **attack).join(timeout=60)
    conductor.finish()
    return conductor


def _judge(tmp_path: Path, conductor: Conductor, mode: str, references: dict | None = None):
    result = EvalResult(task="rmsnorm", language="triton", source_hash="x", status="correct", mode=mode,
                        hardware=detect_hardware("cpu"))
    verdict = judge_timings(TASK, result, conductor, tmp_path, "cpu", references or {},
                            lambda workdir, name: tensors_io.load(workdir / name))
    return verdict, result


WALL_PLAN = ShapePlan(shape=SHAPE, method="wall_clock", reps_per_block=3, verify_share=1.0, warmup=1)
FORGED = {"device_us": [1.0, 1.0, 1.0], "call_us": [1.0, 1.0, 1.0]}


def test_interpreter_run_cannot_publish_events_or_a_speedup(tmp_path: Path) -> None:
    conductor = _conduct(tmp_path, WALL_PLAN, numbers=FORGED)
    references = {SHAPE.label: {"cuda_events": {"eager": [95.0] * 10, "compile": [50.0] * 10}}}
    verdict, result = _judge(tmp_path, conductor, "interpreter", references)
    assert verdict is None, verdict
    (timing,) = result.timings
    assert timing.method == "wall_clock"  # what the parent commanded
    assert timing.speedup is None and timing.reference_median_us is None and timing.compile_median_us is None
    assert timing.comparisons == [] and timing.call_median_us is None


def test_a_child_claiming_a_method_or_a_reference_time_is_rejected(tmp_path: Path) -> None:
    forged = {**FORGED, "method": "cuda_events", "reference_median_us": 95.0}
    verdict, result = _judge(tmp_path, _conduct(tmp_path, WALL_PLAN, numbers=forged), "interpreter")
    assert verdict is not None and verdict[0] == "rejected" and "malformed-timing-block" in rules(result), verdict
    assert result.timings == []
    # Nor can the final report carry timings: any key the harness never writes voids the report.
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        ChildReport.model_validate({"timings": [{"method": "cuda_events", "median_us": 1.0, "speedup": 9.5}]})


def test_device_times_beyond_the_parents_clock_are_rejected(tmp_path: Path) -> None:
    plan = ShapePlan(shape=SHAPE, method="cuda_events", reps_per_block=3, verify_share=0.34, warmup=0)
    conductor = _conduct(tmp_path, plan, numbers={"device_us": [4e6, 4e6, 4e6], "call_us": []})
    verdict, result = _judge(tmp_path, conductor, "device")
    assert verdict is not None and verdict[0] == "rejected", verdict
    assert "timing-exceeds-parent-clock" in rules(result)


def test_a_wrong_timed_output_is_incorrect_and_missing_ones_are_rejected(tmp_path: Path) -> None:
    verdict, result = _judge(tmp_path, _conduct(tmp_path, WALL_PLAN, numbers=FORGED, wrong_rep=1), "interpreter")
    assert verdict is not None and verdict[0] == "incorrect" and "rep 1" in verdict[1], verdict
    other = tmp_path / "other"
    other.mkdir()
    verdict, result = _judge(other, _conduct(other, WALL_PLAN, numbers=FORGED, drop_outputs=True), "interpreter")
    assert verdict is not None and verdict[0] == "rejected" and "malformed-timing-block" in rules(result)


def test_device_numbers_get_both_baselines_with_intervals_and_the_parents_clock(tmp_path: Path) -> None:
    # A child that sleeps 0.3 s per block yet claims 2 us per rep: the parent saw ~100 ms per rep.
    plan = ShapePlan(shape=SHAPE, method="cuda_events", reps_per_block=3, min_reps=6, max_blocks=2,
                     verify_share=0.34, warmup=0)
    numbers = {"device_us": [2.0, 2.1, 1.9], "call_us": [30.0, 31.0, 29.0]}
    conductor = _conduct(tmp_path, plan, numbers=numbers, sleep_s=0.3)
    references = {SHAPE.label: {"cuda_events": {"eager": [10.0, 10.2, 9.8, 10.1, 9.9, 10.0],
                                                "compile": [4.0, 4.1, 3.9, 4.0, 4.05, 3.95],
                                                "wall_per_rep_us": 300.0}}}
    verdict, result = _judge(tmp_path, conductor, "device", references)
    assert verdict is None, verdict
    (timing,) = result.timings
    assert timing.method == "cuda_events" and timing.median_us == pytest.approx(2.0, abs=0.1)
    assert timing.call_median_us == pytest.approx(30.0) and len(timing.samples_us) == timing.reps >= 6
    assert timing.speedup == pytest.approx(5.0, rel=0.1) and timing.speedup_vs_compile == pytest.approx(2.0, rel=0.1)
    assert {c.baseline: c.verdict for c in timing.comparisons} == {"eager": "faster", "compile": "faster"}
    assert "timing-mismatch" in rules(result, "review")


@pytest.mark.slow
def test_every_timed_call_is_checked_under_the_interpreter() -> None:
    result = run_file("wrong_on_one_timed_call.py")
    assert result.status == "incorrect", result.message
    assert "timed call" in result.message and rules(result) == set()


@pytest.mark.slow
def test_interpreter_timings_are_labels_with_samples() -> None:
    result = run_file("honest_rmsnorm.py")
    assert result.status == "correct", result.message
    for timing in result.timings:
        assert timing.method == "wall_clock" and timing.speedup is None and timing.reference_median_us is None
        assert timing.samples_us and len(timing.samples_us) == timing.reps


def test_reference_timing_process_caches_and_never_loads_a_candidate(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WARPSMITH_CACHE", str(tmp_path))
    hardware = detect_hardware("cpu")
    first = reference_timings(TASK, [SHAPE], "cpu", hardware)
    assert first[SHAPE.label]["wall_clock"]["eager"] and first[SHAPE.label]["cuda_graph"] is None
    assert list((tmp_path / "evaluator" / "reference_timings").glob("*.json"))
    assert reference_timings(TASK, [SHAPE], "cpu", hardware) == first  # cached: no second measurement
    spec = {"task": "rmsnorm", "task_file": None, "device": "cpu", "shapes": [SHAPE.model_dump()], "l2_bytes": None}
    done = subprocess.run([sys.executable, "-m", "warpsmith.evaluator.reference_timing"], input=json.dumps(spec),
                          capture_output=True, text=True, timeout=300, env={**os.environ, "WARPSMITH_CACHE": str(tmp_path)})
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["candidate_modules"] == [] and report["child_imported"] is False


def test_the_task_key_follows_the_definition() -> None:
    assert _task_key(TASK) == _task_key(get_task("rmsnorm"))
    assert _task_key(TASK) != _task_key(get_task("moe_dispatch"))
    # Stable across processes (sets are hashed differently per process), or the cache never hits.
    code = "from warpsmith.evaluator.reference_timing import _task_key; from warpsmith.tasklib import get_task; " \
           "print(_task_key(get_task('rmsnorm')))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert other.stdout.strip() == _task_key(TASK)


def test_screen_stage_spans_the_regimes() -> None:
    task = get_task("moe_dispatch")
    chosen = stages.screen_shapes(task)
    by_bytes = sorted(task.shapes("bench"), key=lambda s: task.cost(s).bytes)
    assert chosen[0] == by_bytes[0] and chosen[1] == by_bytes[-1]
    assert any(int(s.dims.get("ep", 1)) > 1 for s in chosen) and len(chosen) == 3
    trials = stages.plan(task, "bench", "device", 5, "screen", confirm=False)
    assert {t.shape.label for t in trials if t.suite == "bench"} == {s.label for s in chosen}
    assert len(trials) < len(stages.plan(task, "bench", "device", 5, "full", confirm=False))
    confirmed = stages.plan(task, "check", "interpreter", 5, "full", confirm=True)
    assert len(confirmed) == 2 * len(stages.plan(task, "check", "interpreter", 5, "full", confirm=False))
    assert len({t.id for t in confirmed}) == len(confirmed) and len({t.seed for t in confirmed}) == len(confirmed)


def test_big_speedups_are_judged_against_the_bytes_floor() -> None:
    def found(median: float, speedup: float | None, floor: float | None) -> set[tuple[str, str]]:
        timing = ShapeTiming(shape="s", median_us=median, spread_us=0.1, reps=10, speedup=speedup)
        return {(v.rule, v.severity) for v in anticheat.timing_violations(timing, floor, None)}

    assert found(40.0, 24.0, 8.0) == set()  # 24x over eager, 20% of peak: nothing to drop
    assert found(9.0, 24.0, 8.0) == {("near-bandwidth-floor", "review")}
    assert found(7.0, 24.0, 8.0) == {("below-bandwidth-floor", "review")}
    assert found(3.0, 24.0, 8.0) == {("below-bandwidth-floor", "reject")}
    assert found(40.0, 24.0, None) == {("speedup-over-10x", "review")}


def test_block_files_are_read_without_following_links(tmp_path: Path) -> None:
    (tmp_path / "real.json").write_text("{}")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    os.mkfifo(tmp_path / "fifo.json")
    for name in ("link.json", "fifo.json"):
        with pytest.raises(ValueError):
            block_channel.read_json(tmp_path / name)
    assert block_channel.read_json(tmp_path / "real.json") == {}


def test_commands_are_never_written_through_a_planted_link(tmp_path: Path) -> None:
    target = tmp_path / "parents_file"
    target.write_text("keep")
    work = tmp_path / "work"
    work.mkdir()
    (work / block_channel.cmd_file(0)).symlink_to(target)
    block_channel.write_json(work / block_channel.cmd_file(0), {"stop": True})
    assert target.read_text() == "keep"
    assert block_channel.read_json(work / block_channel.cmd_file(0)) == {"stop": True}


@pytest.mark.slow
def test_confirming_screen_evaluation_doubles_the_trials_and_says_so() -> None:
    from tests._evaluator_helpers import source_of
    from warpsmith.evaluator.evaluate import evaluate
    from warpsmith.records.evaluation import Candidate

    candidate = Candidate(task="rmsnorm", language="triton", source=source_of("honest_rmsnorm.py"))
    plain = run_file("honest_rmsnorm.py")
    confirmed = evaluate(candidate, TASK, suite="smoke", device="cpu", stage="screen", confirm=True, timeout_s=60)
    assert confirmed.status == "correct" and "confirming re-evaluation" in confirmed.message, confirmed.message
    assert confirmed.stage == "screen" and plain.stage == "full"
    assert len(confirmed.correctness) == 2 * len(plain.correctness)
