"""The second red team's attacks (tests/adversarial/rt2_*.py, their files as written), each asserting the
rule that now stops it: import-alias confusion (a4, a10) and the pickle polyglot it opened (a5, a8, a11),
the dispatch-guard bypass (a3), non-dense outputs that made the parent raise (a7, a8, a9), forged timing
blocks (a1; commit-before-reveal and the parent's clock), forged durations (a6). Honest seeds stay clean.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import pytest
import torch

from tests._evaluator_helpers import rules, run_file, source_of
from tests.test_evaluator_timing import SHAPE, WALL_PLAN, _attacker, _judge
from warpsmith.evaluator import tensors_io
from warpsmith.evaluator.evaluate import evaluate
from warpsmith.evaluator.static_python import check_python_source
from warpsmith.evaluator.timing_parent import Conductor, ShapePlan
from warpsmith.records.evaluation import Candidate
from warpsmith.tasklib import get_task, list_tasks
from warpsmith.tasklib.rmsnorm import RmsNorm

RMSNORM = get_task("rmsnorm")


def _rules(source: str, ops: frozenset[str] = RMSNORM.allowed_torch_ops) -> set[str]:
    return {v.rule for v in check_python_source(source, ops)}


# --- 1, 2, 6: static ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "expected"), [
    ("rt2_alias_rebind.py", {"import-rebound", "torch-denied", "forbidden-keyword"}),
    ("rt2_local_import_shadow.py", {"import-not-at-module-level", "import-rebound", "torch-denied"}),
    ("rt2_pickle_polyglot.py", {"import-rebound", "torch-denied", "forbidden-keyword"}),
    ("rt2_static_sparse_parent_raises.py", {"import-rebound", "torch-denied", "forbidden-keyword"}),
    ("rt2_static_forged_timing.py", {"import-rebound", "torch-denied", "forbidden-keyword"}),
    ("rt2_guard_bypass.py", {"private-attribute", "forbidden-attribute", "torch-denied"}),
])
def test_redteam_static_escapes_are_refused(name: str, expected: set[str]) -> None:
    assert expected <= _rules(source_of(name))


def test_pickle_polyglot_is_rejected_before_anything_runs() -> None:
    result = run_file("rt2_pickle_polyglot.py")
    assert result.status == "rejected" and result.message.startswith("static check")
    assert {"import-rebound", "forbidden-keyword"} <= rules(result) and result.correctness == []


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rt2_pickle_polyglot.py", "rt2_static_sparse_parent_raises.py"])
def test_the_candidate_file_is_gone_once_imported(name: str) -> None:
    # Defence in depth under the polyglots with the static layer off: torch.load finds no candidate.py.
    result = run_file(name, static_checks=False)
    assert result.status == "runtime_error" and "FileNotFoundError" in result.message, result.message


HEAD = "import torch\nimport triton\nimport triton.language as tl\n"
JIT = "\n@triton.jit\ndef _k(x_ptr):\n    tl.store(x_ptr, tl.load(x_ptr))\n"
KERNEL = "\ndef kernel(x, weight, eps):\n    out = torch.empty_like(x)\n    _k[(1,)](out)\n{body}    return out\n"


def _module(prelude: str = "", body: str = "", tail: str = "") -> str:
    return HEAD + prelude + JIT + KERNEL.format(body="".join(f"    {line}\n" for line in body.splitlines())) + tail


# (module text, the rule that must stop it): every way to bind an imported name a second time
BINDING_ATTACKS = {
    "second_import_other_module": (_module(tail="import torch as tl\n"), "import-rebound"),
    "from_import_rebinds": (_module(tail="from torch import empty as tl\n"), "import-rebound"),
    "assignment_at_bottom": (_module(tail="tl = torch\n"), "import-rebound"),
    "def_named_like_import": (_module(tail="def tl():\n    return 0\n"), "import-rebound"),
    "for_target": (_module(tail="for tl in [torch]:\n    pass\n"), "import-rebound"),
    "comprehension_target": (_module(tail="Q = [0 for tl in [torch]]\n"), "import-rebound"),
    "walrus": (_module(body="q = (tl := torch)"), "import-rebound"),
    "parameter": (_module(tail="def helper(torch):\n    return torch\n"), "import-rebound"),
    "lambda_parameter": (_module(tail="F = lambda tl: tl\n"), "import-rebound"),
    "import_in_function": (_module(tail="def _f():\n    import triton.language as torch\n"),
                           "import-not-at-module-level"),
    "import_under_if": (_module(tail="if True:\n    import math\n"), "import-not-at-module-level"),
    "delete_import": (_module(tail="del tl\n"), "import-rebound"),
}


@pytest.mark.parametrize("name", sorted(BINDING_ATTACKS))
def test_an_imported_name_is_bound_once_at_module_level(name: str) -> None:
    source, rule = BINDING_ATTACKS[name]
    assert rule in _rules(source), (name, _rules(source))


@pytest.mark.parametrize("snippet", ["torch.load('candidate.py')", "torch.save(x, 'f')", "torch.hub",
                                     "torch.utils", "torch.ops", "torch.library", "torch.jit", "torch.compile",
                                     "torch.backends", "torch.serialization", "torch.fx", "torch.overrides"])
def test_dangerous_torch_is_refused_even_when_a_task_allows_it(snippet: str) -> None:
    attr = snippet.split(".")[1].split("(")[0]
    assert "torch-denied" in _rules(_module(body=f"q = {snippet}"), RMSNORM.allowed_torch_ops | {attr})


def test_dangerous_torch_by_from_import_and_the_pickle_keyword_are_refused() -> None:
    assert "torch-denied" in _rules(_module(prelude="from torch import load\n"),
                                    RMSNORM.allowed_torch_ops | {"load"})
    assert "forbidden-keyword" in _rules(_module(body="q = max(1, weights_only=False)"))
    assert "forbidden-keyword" in _rules(_module(body="q = dict(**{'weights_only': False})"))


def test_honest_kernels_pass_the_new_rules() -> None:
    same_module_twice = _module(prelude="import triton.language\n")  # `triton` bound twice, to triton both times
    assert _rules(same_module_twice) == set()
    for task in list_tasks():
        for seed in sorted((task.source_dir / "seeds").glob("*.py")) if task.source_dir else []:
            assert check_python_source(seed.read_text(), task.allowed_torch_ops) == [], seed


# --- 3: the parent never raises on what the child wrote -------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", ["rt2_sparse_output.py", "rt2_nested_output.py"])
def test_non_dense_outputs_are_rejected_not_raised(name: str) -> None:
    result = run_file(name, static_checks=False)
    assert result.status == "rejected", result.message
    assert rules(result) == {"output-not-plain-tensor"}, result.violations


def test_layout_problem_names_every_non_dense_kind() -> None:
    dense = torch.zeros(4, 8)
    assert tensors_io.layout_problem(dense, "cpu") is None
    assert "sparse_coo" in tensors_io.layout_problem(dense.to_sparse(), "cpu")
    assert "sparse_csr" in tensors_io.layout_problem(dense.to_sparse_csr(), "cpu")
    assert "nested" in tensors_io.layout_problem(torch.nested.nested_tensor([dense[0], dense[1]]), "cpu")
    assert "expected cuda" in tensors_io.layout_problem(dense, "cuda")
    assert not tensors_io.values_equal(dense, dense.to_sparse()) and not tensors_io.shares_storage(
        dense, [dense.to_sparse()])


class _ChokingRmsNorm(RmsNorm):
    """A task whose checker raises on the outputs (as one could on an odd tensor the child wrote)."""

    def check(self, *args, **kwargs):
        raise RuntimeError("the checker choked on the child's tensor")


@pytest.mark.slow
def test_anything_raised_while_judging_child_data_is_a_rejection() -> None:
    task = _ChokingRmsNorm(**RMSNORM.model_dump())
    seed = next(iter(sorted((RMSNORM.source_dir / "seeds").glob("*.py"))))
    result = evaluate(Candidate(task="rmsnorm", language="triton", source=seed.read_text(), origin="user"), task,
                      suite="smoke", device="cpu", timeout_s=60)
    assert result.status == "rejected" and rules(result) == {"malformed-child-report"}, result.message
    assert "RuntimeError" in result.message


# --- 4: forged timing -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_block_forged_before_the_work_is_rejected() -> None:
    result = run_file("rt2_forge_block.py", static_checks=False)
    assert result.status == "rejected", result.message
    assert "malformed-timing-block" in rules(result) and "commit" in result.message
    assert result.timings == []


def _conduct(tmp_path: Path, plan: ShapePlan, **attack) -> Conductor:
    conductor = Conductor([plan], tmp_path, secret=99, timeout_s=30)
    conductor.start()
    child: threading.Thread = _attacker(tmp_path, **attack)
    child.join(timeout=60)
    conductor.finish()
    return conductor


def test_outputs_computed_after_the_verify_set_is_known_are_rejected(tmp_path: Path) -> None:
    plan = ShapePlan(shape=SHAPE, method="cuda_events", reps_per_block=3, verify_share=0.34, warmup=0, max_blocks=1)
    conductor = _conduct(tmp_path, plan, numbers={"device_us": [1.0, 1.0, 1.0], "call_us": []}, late=True)
    verdict, result = _judge(tmp_path, conductor, "device")
    assert verdict is not None and verdict[0] == "rejected", verdict
    assert rules(result) == {"timing-commitment-mismatch"}


def test_interpreter_samples_come_from_the_parents_clock(tmp_path: Path) -> None:
    # Claims 1 us per rep while each block takes >= 0.3 s on the parent's clock: the parent's time is published.
    conductor = _conduct(tmp_path, WALL_PLAN, numbers={"device_us": [1.0, 1.0, 2.0], "call_us": [1.0] * 3},
                         sleep_s=0.3)
    verdict, result = _judge(tmp_path, conductor, "interpreter")
    assert verdict is None, verdict
    (timing,) = result.timings
    assert timing.reps == 3 and sum(timing.samples_us) >= 0.3e6  # the warm-up block is not published
    assert len(set(timing.samples_us)) == 1 and timing.median_us >= 0.1e6  # equal shares: no child-made median


# --- 5: durations ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_forged_child_durations_never_reach_the_result() -> None:
    result = run_file("rt2_forge_report.py", static_checks=False)
    assert result.status == "rejected" and "malformed-child-report" in rules(result), result.message
    assert all(math.isfinite(v) and v >= 0 for v in result.durations_s.values()), result.durations_s
    assert result.model_dump_json()


# --- the commitment digest is binding: a tolerance-sized nudge changes it ----------------------------
def test_the_commitment_digest_changes_with_any_output_byte_and_refuses_weak_kinds() -> None:
    out = torch.randn(128, 768).to(torch.bfloat16)
    nudged = out.clone()
    nudged.view(torch.int16)[0, 0] += 1  # one ulp on one element: inside every bf16 tolerance
    assert tensors_io.outputs_digest([out], "sha256") != tensors_io.outputs_digest([nudged], "sha256")
    assert tensors_io.outputs_digest([out], "sha256") == tensors_io.outputs_digest([out.clone()], "sha256")
    with pytest.raises(ValueError):  # the forgeable per-element checksum is gone
        tensors_io.outputs_digest([out], "mix64")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_digest_is_the_same_on_the_device_and_on_the_host_copy() -> None:
    for dtype in (torch.bfloat16, torch.float32, torch.int32, torch.uint8):
        t = (torch.randn(3000, 37, device="cuda") * 100).to(dtype)
        assert tensors_io.outputs_digest([t], "sha256") == tensors_io.outputs_digest([t.cpu()], "sha256")
