"""The third red team's attacks (tests/adversarial/rt3_*.py, their files as written), each asserting what
now stops it: torch ops laundered through an aliased autotuner's hooks (static rules), a digest a
candidate could match after the reveal (sha256 only, tested in test_evaluator_redteam_closed.py), an fp8
quantizer biased by a few percent (the task's checker), a merge that never subtracts the max (an LSE that
overflows exp), and a lone surrogate in the source (refused, never raised on)."""

from __future__ import annotations

import json

import pytest

from tests._evaluator_helpers import rules, run_file, run_source, source_of
from warpsmith.evaluator.static_python import check_python_source
from warpsmith.tasklib import get_task

DISPATCH = get_task("moe_dispatch")


def test_torch_ops_laundered_through_autotuner_hooks_are_refused_statically() -> None:
    found = {v.rule for v in check_python_source(source_of("rt3_laundered_gather.py"), DISPATCH.allowed_torch_ops)}
    assert {"forbidden-attribute", "jit-function-as-value"} <= found


@pytest.mark.parametrize("snippet", ["g = _k\n", "kernels = [_k]\n", "def f():\n    return _k\n"])
def test_a_jit_function_is_only_called_or_launched(snippet: str) -> None:
    source = ("import triton\nimport triton.language as tl\n\n\n@triton.jit\ndef _k(x):\n    pass\n\n\n"
              + snippet + "\n\ndef kernel(x):\n    _k[(1,)](x)\n    return x\n")
    assert "jit-function-as-value" in {v.rule for v in check_python_source(source, frozenset())}


@pytest.mark.slow
def test_a_quantizer_biased_by_six_percent_is_incorrect() -> None:
    result = run_file("rt3_fp8_biased_q.py", task="per_token_group_quant_fp8", suite="check")
    assert result.status == "incorrect", result.message
    assert "differ from round-to-nearest" in result.message


@pytest.mark.slow
def test_a_merge_that_never_subtracts_the_max_is_incorrect() -> None:
    result = run_file("rt3_merge_without_max.py", task="merge_attn_states", suite="check")
    assert result.status == "incorrect", result.message


def test_a_lone_surrogate_in_the_source_is_refused_not_raised() -> None:
    seed = get_task("silu_and_mul").seed_path("triton").read_text()
    source = json.loads(json.dumps(seed)[:-1] + '\\n# \\udcff\\n"')  # what a model's JSON answer decodes to
    result = run_source(source, task="silu_and_mul")
    assert result.status == "rejected" and rules(result) == {"invalid-source-text"}
