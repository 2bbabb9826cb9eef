"""FlashInfer-Trace definitions as tasks: a definition.json written here (not vendored) with its
workload.jsonl; the reference is the definition's run(...), bench shapes are the workloads, and a
Triton kernel is judged through the real evaluator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from tests._kernelbench_helpers import PROBLEMS, SOLUTIONS
from warpsmith.cli.main import app
from warpsmith.evaluator.evaluate import evaluate
from warpsmith.records.evaluation import Candidate
from warpsmith.tasklib.flashinfer_trace import TraceError, load_trace_definition
from warpsmith.tasklib.registry import spec_of, task_from_spec

DEFINITION = PROBLEMS / "flashinfer" / "rmsnorm_h96.json"
WORKLOADS = PROBLEMS / "flashinfer" / "rmsnorm_h96.jsonl"


def test_definition_and_workloads_make_a_task() -> None:
    task = load_trace_definition(DEFINITION, WORKLOADS)
    assert task.name == "rmsnorm_h96" and task.input_names == ("hidden_states", "weight", "eps")
    assert [s.dims["batch_size"] for s in task.shapes("bench")] == [3, 40]
    assert all(s.dims["hidden_size"] == 96 for s in task.shapes("check"))
    assert task.scalars == {"eps": 1e-5}  # the workload's scalar
    x, w, eps = task.make_inputs(task.shapes("smoke")[0], 3, "cpu")
    assert x.dtype == torch.bfloat16 and tuple(x.shape) == (2, 96) and eps == 1e-5
    (out,) = task.reference(x, w, eps)
    xf = x.float()
    expected = (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * w.float()).to(torch.bfloat16)
    assert torch.equal(out, expected)
    rebuilt = task_from_spec(json.loads(spec_of(task).model_dump_json()))
    assert rebuilt.shapes("bench") == task.shapes("bench")


def test_without_workloads_the_bench_sizes_are_generic() -> None:
    task = load_trace_definition(DEFINITION)
    assert [s.dims["batch_size"] for s in task.shapes("bench")] == [16, 128, 1024]
    assert task.scalars == {"eps": 1e-6}


def test_a_triton_kernel_is_correct_and_a_wrong_one_incorrect() -> None:
    task = load_trace_definition(DEFINITION, WORKLOADS)
    source = (SOLUTIONS / "trace_rmsnorm_kernel.py").read_text()
    good = evaluate(Candidate(task=task.name, language="triton", source=source, origin="user"), task,
                    suite="check", device="cpu")
    assert good.status == "correct", good.message
    wrong = source.replace("(x * rstd * w)", "(x * rstd)")
    bad = evaluate(Candidate(task=task.name, language="triton", source=wrong, origin="user"), task,
                   suite="check", device="cpu")
    assert bad.status == "incorrect", bad.message


def test_bad_definitions_are_one_line_errors(tmp_path: Path) -> None:
    broken = tmp_path / "d.json"
    broken.write_text(json.dumps({"name": "x", "axes": {}, "inputs": {}, "outputs": {}}))
    with pytest.raises(TraceError, match="lacks reference"):
        load_trace_definition(broken)
    definition = json.loads(DEFINITION.read_text())
    definition["inputs"]["weight"]["dtype"] = "float4_e2m1"
    broken.write_text(json.dumps(definition))
    with pytest.raises(TraceError, match="float4_e2m1"):
        load_trace_definition(broken)
    result = CliRunner().invoke(app, ["tasks", "show", "--trace-definition", str(tmp_path / "none.json")])
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_tasks_show_a_definition() -> None:
    shown = CliRunner().invoke(app, ["tasks", "show", "--trace-definition", str(DEFINITION), "--workloads",
                                     str(WORKLOADS), "--json"])
    assert shown.exit_code == 0, shown.output
    assert [r["dims"]["batch_size"] for r in json.loads(shown.stdout)["shapes"]["bench"]] == [3, 40]
