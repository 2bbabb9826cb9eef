"""Large trials: the child makes its inputs from the parent's seed (never a file), commits to its outputs
leaf by leaf, and learns which leaves the parent checks only afterwards (evaluator/device_trials.py,
evaluator/device_inputs.py). The trials here are forced down that path (DEVICE_TRIAL_BYTES = 0) so
they run under the Triton interpreter in seconds; the protocol is the one a GB-scale trial uses."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests._evaluator_helpers import rules, source_of
from tests._kernelbench_helpers import PROBLEMS, problem, solution
from warpsmith.evaluator import device_inputs, device_trials, leaf_digest
from warpsmith.evaluator.correctness import Trial
from warpsmith.evaluator.evaluate import evaluate
from warpsmith.records.evaluation import Candidate, EvalResult
from warpsmith.records.tasks import TaskSpec
from warpsmith.tasklib.base import DISTRIBUTIONS, Task
from warpsmith.tasklib.flashinfer_trace import load_trace_definition
from warpsmith.tasklib.kernelbench_task import kernelbench_task_from_spec

FAST_SWISH = solution("swish_kernel").replace("1024", "16384")


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every trial takes the large-trial path, whatever its size."""
    monkeypatch.setattr(device_trials, "DEVICE_TRIAL_BYTES", 0)


def big_swish(elements: int) -> Task:
    """Problem 1 (Swish) with its smoke suite at about `elements` per tensor."""
    source = (PROBLEMS / "level1" / "1_Swish.py").read_text()
    return kernelbench_task_from_spec(TaskSpec(kind="kernelbench", name=f"kernelbench_swish_{elements}", source=source,
                                               smoke_elements=elements, check_elements=elements))


def run(task: Task, source: str, static_checks: bool = True, suite: str = "smoke") -> EvalResult:
    candidate = Candidate(task=task.name, language="triton", source=source, origin="user")
    return evaluate(candidate, task, suite=suite, device="cpu", timeout_s=120.0, static_checks=static_checks)


_ROOTS = """
import json, sys
from warpsmith.evaluator import leaf_digest
from warpsmith.records.tasks import TaskSpec
from warpsmith.tasklib.base import Shape
from warpsmith.tasklib.registry import task_from_spec
spec, shape, seed, device = json.loads(sys.stdin.read())
task = task_from_spec(spec)
print(json.dumps({d: [leaf_digest.root(v) for v in task.make_inputs(Shape(**shape), seed, device, distribution=d)]
                  for d in ("normal", "uniform", "heavy_tailed", "offset_scaled")}))
"""


def _roots_elsewhere(task: Task, seed: int, device: str) -> dict[str, list[str]]:
    shape = task.shapes("check")[0]
    spec = task.origin.model_dump() if task.origin else {}
    done = subprocess.run([sys.executable, "-P", "-c", _ROOTS], input=json.dumps([spec, shape.model_dump(), seed, device]),
                          capture_output=True, text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _tasks() -> list[Task]:
    trace = PROBLEMS / "flashinfer"
    return [problem(4), load_trace_definition(trace / "rmsnorm_h96.json", trace / "rmsnorm_h96.jsonl")]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device")])])
def test_the_same_seed_makes_the_same_inputs_in_another_process(device: str) -> None:
    """The parent's reference and the child's inputs come from one seed in two processes: every input
    (parameters included) must be bit-identical, and another seed must give other inputs."""
    for task in _tasks():
        shape = task.shapes("check")[0]
        here = {d: [leaf_digest.root(v) for v in task.make_inputs(shape, 987654, device, distribution=d)]
                for d in DISTRIBUTIONS}
        assert _roots_elsewhere(task, 987654, device) == here, task.name
        other = [leaf_digest.root(v) for v in task.make_inputs(shape, 987655, device, distribution="normal")]
        assert other[0] != here["normal"][0], task.name


def test_leaf_digests_cover_every_byte_in_order() -> None:
    t = torch.arange(10_000, dtype=torch.float32)  # 40000 bytes: two full leaves and a short one
    digests = leaf_digest.leaf_digests(t)
    assert len(digests) == 3 * leaf_digest.DIGEST_BYTES
    leaves = leaf_digest.leaf_bytes(t, [0, 1, 2])
    assert [x.numel() for x in leaves] == [16384, 16384, 40000 - 32768]
    assert b"".join(leaf_digest.digest(x) for x in leaves) == digests
    empty = device_inputs._output_entry(torch.empty(0, 5), "cpu", [])  # no bytes: no leaves, still a commitment
    assert empty["leaves"].numel() == 0 and empty["shape"] == [0, 5]
    changed = t.clone()
    changed[9999] = 0.5
    assert leaf_digest.leaf_digests(changed)[:64] == digests[:64] and leaf_digest.root(changed) != leaf_digest.root(t)


@pytest.mark.usefixtures("large")
@pytest.mark.parametrize(("number", "name"), [(1, "swish_kernel"), (4, "layernorm_modelnew")])
def test_honest_solutions_are_correct_with_inputs_made_in_the_child(number: int, name: str) -> None:
    result = run(problem(number), solution(name))
    assert result.status == "correct", result.message
    assert result.correctness and all(c.details.startswith("sampled check:") for c in result.correctness)


@pytest.mark.gpu
@pytest.mark.usefixtures("large")
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_large_trials_on_a_device_are_correct_for_an_honest_kernel_and_incorrect_for_a_wrong_one() -> None:
    task = problem(1)
    good = evaluate(Candidate(task=task.name, language="triton", source=solution("swish_kernel"), origin="user"),
                    task, suite="check", device="cuda", timeout_s=300.0)
    assert good.status == "correct", good.message
    assert all(c.details.startswith("sampled check:") for c in good.correctness)
    bad = evaluate(Candidate(task=task.name, language="triton", source=source_of("dev_wrong_region.py"),
                             origin="user"), task, suite="check", device="cuda", timeout_s=300.0)
    assert bad.status == "incorrect", bad.message


@pytest.mark.usefixtures("large")
def test_no_input_file_reaches_the_child() -> None:
    """A candidate (static checks off) that looks for input files in its work folder finds none."""
    source = FAST_SWISH.replace("import torch\n", "import os\n\nimport torch\n").replace(
        "    x = x.contiguous()\n", "    assert not [f for f in os.listdir('.') if f.startswith('inputs_')], os.listdir('.')\n"
        "    x = x.contiguous()\n")
    result = run(problem(1), source, static_checks=False)
    assert result.status == "correct", result.message


@pytest.fixture(scope="module")
def swish_4m() -> Task:
    return big_swish(1 << 22)  # 16 MiB per tensor: 1024 leaves per output


@pytest.fixture
def few_leaves(large: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """64 random leaves of the 1024 (plus the first and last): the sample, not the whole output, decides."""
    monkeypatch.setattr(device_trials, "SAMPLED_LEAVES", 64)


@pytest.mark.usefixtures("few_leaves")
def test_a_large_honest_output_is_correct_on_a_sample(swish_4m: Task) -> None:
    result = run(swish_4m, FAST_SWISH)
    assert result.status == "correct", result.message
    assert "132 of 2048 output leaves over 2 calls" in result.correctness[0].details  # 64 + first + last, per call


@pytest.mark.usefixtures("few_leaves")
@pytest.mark.parametrize("name", ["dev_wrong_region.py", "dev_every_other_leaf.py"])
def test_a_candidate_wrong_on_part_of_a_large_output_is_caught(swish_4m: Task, name: str) -> None:
    result = run(swish_4m, source_of(name))
    assert result.status == "incorrect", result.message
    assert "sampled leaves" in result.message


@pytest.mark.usefixtures("few_leaves")
def test_planted_reveal_files_do_not_choose_the_leaves(swish_4m: Task) -> None:
    result = run(swish_4m, source_of("dev_forge_reveal.py"), static_checks=False)
    assert result.status == "rejected" and rules(result) == {"malformed-child-report"}, result.message
    assert "are not the 66 asked for" in result.message


@pytest.mark.usefixtures("large")
def test_a_candidate_changing_its_inputs_in_place_is_rejected() -> None:
    result = run(problem(1), source_of("dev_mutate_input.py"))
    assert result.status == "rejected" and rules(result) == {"input-mutated"}, result.message


@pytest.mark.usefixtures("large")
def test_a_cached_first_answer_is_wrong_on_the_second_calls_fresh_inputs() -> None:
    source = FAST_SWISH.replace("def kernel(x):\n", "CACHE = {}\n\n\ndef kernel(x):\n    if x.shape in CACHE:\n"
                                "        return CACHE[x.shape]\n").replace("    return out", "    CACHE[x.shape] = out\n"
                                                                          "    return out")
    result = run(problem(1), source)
    # the very tensor returned again is rejected first, as on a small trial (red team 5)
    assert result.status == "rejected" and rules(result) == {"output-reused-across-calls"}, result.message


@pytest.mark.usefixtures("large")
@pytest.mark.parametrize("rewrite", [False, True])
def test_an_answer_written_after_the_commitment_gains_nothing(rewrite: bool) -> None:
    source = source_of("dev_patch_after_commit.py", **({"REWRITE_COMMIT = False": "REWRITE_COMMIT = True"}
                                                        if rewrite else {}))
    result = run(problem(1), source, static_checks=False)
    # Caught by the correctness trials themselves: the leaves do not match the commitment (or, when the
    # thread loses the race, the garbage it committed to is wrong). Read through a memory map, the rewritten
    # commitment passed every trial and only the interpreter's check of each timed call caught it.
    assert not any(c.ok for c in result.correctness), result.message
    if result.status == "rejected":
        assert rules(result) == {"sampled-commitment-mismatch"}, result.message
    else:
        assert result.status == "incorrect" and "sampled leaves" in result.message, result.message


def _prepared(tmp_path: Path) -> device_trials.DeviceTrial:
    task = problem(1)
    shape = task.shapes("smoke")[0]
    trial = Trial(id=0, suite="smoke", shape=shape, seed=5, distribution="normal")
    inputs = task.make_inputs(shape, 5, "cpu", distribution="normal")
    return device_trials.prepare(task, trial, "cpu", inputs, task.reference(*inputs))


def test_the_leaves_are_named_only_after_the_commitment_and_the_parents_copy_is_its_own(tmp_path: Path) -> None:
    prepared = _prepared(tmp_path)
    revealer = device_trials.Revealer([prepared], tmp_path, timeout_s=30)
    revealer.start()
    try:
        time.sleep(0.2)
        assert not list(tmp_path.iterdir()), "nothing names a leaf before the child has committed"
        honest = {"outputs": [device_inputs._output_entry(torch.zeros(64, 64), "cpu", [])],
                  "inputs_after": ["x"]}
        path = tmp_path / device_inputs.commit_file(0, "a")
        device_inputs.save_atomic(path, honest)
        reveal = tmp_path / device_inputs.reveal_file(0, "a")
        deadline = time.monotonic() + 10
        while not reveal.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert json.loads(reveal.read_text())["leaves"] == prepared.calls["a"].positions
        read = revealer.commits[(0, "a")]
        before = read["outputs"][0]["leaves"].clone()
        forged = dict(honest, outputs=[device_inputs._output_entry(torch.ones(64, 64), "cpu", [])])
        import io

        buffer = io.BytesIO()
        torch.save(forged, buffer)
        with open(path, "r+b") as handle:  # the same inode, rewritten after the leaves were named
            handle.write(buffer.getvalue())
        assert torch.equal(revealer.commits[(0, "a")]["outputs"][0]["leaves"], before)
    finally:
        revealer.finish()
