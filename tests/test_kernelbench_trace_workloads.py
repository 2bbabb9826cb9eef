"""FlashInfer-Trace workloads with safetensors inputs and definitions with constraints (written here, not
vendored): the stored tensors are read in the trusted parent and checked against the definition, the
constraints are checked for every workload and synthetic shape, every problem is one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

safetensors_torch = pytest.importorskip("safetensors.torch")

from warpsmith.evaluator.evaluate import evaluate  # noqa: E402
from warpsmith.records.evaluation import Candidate  # noqa: E402
from warpsmith.tasklib.flashinfer_trace import TraceError, load_trace_definition  # noqa: E402
from warpsmith.tasklib.registry import spec_of, task_from_spec  # noqa: E402

GATHER = {
    "name": "gather_rows_h8", "op_type": "gather", "description": "Rows of x picked by idx (modulo the row count).",
    "axes": {"batch": {"type": "var"}, "total": {"type": "var"}, "H": {"type": "const", "value": 8}},
    "constraints": ["batch <= total", "total < 100000"],
    "inputs": {"x": {"shape": ["total", "H"], "dtype": "float32"}, "idx": {"shape": ["batch"], "dtype": "int64"}},
    "outputs": {"out": {"shape": ["batch", "H"], "dtype": "float32"}},
    "reference": "def run(x, idx):\n    return x[idx % x.shape[0]]\n",
}
KERNEL = '''import torch
import triton
import triton.language as tl


@triton.jit
def _gather(x_ptr, idx_ptr, out_ptr, total, H: tl.constexpr):
    row = tl.program_id(0)
    src = tl.load(idx_ptr + row) % total
    cols = tl.arange(0, H)
    tl.store(out_ptr + row * H + cols, tl.load(x_ptr + src * H + cols))


def kernel(x, idx):
    out = torch.empty((idx.shape[0], x.shape[1]), dtype=x.dtype, device=x.device)
    _gather[(idx.shape[0],)](x, idx, out, x.shape[0], H=x.shape[1])
    return out
'''


def trace_set(root: Path, idx: torch.Tensor, axes: dict[str, int] | None = None, key: str = "idx",
              definition: dict | None = None) -> tuple[Path, Path]:
    """A TraceSet-like folder: definitions/, workloads/ and blob/ (the workload names blob/... from the root)."""
    for sub in ("definitions", "workloads", "blob"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    safetensors_torch.save_file({key: idx}, str(root / "blob" / "gather.safetensors"))
    definition_path = root / "definitions" / "gather.json"
    definition_path.write_text(json.dumps(definition or GATHER))
    workload = {"uuid": "5a7e0000-0000", "axes": axes or {"batch": 5, "total": 9},
                "inputs": {"x": {"type": "random"},
                           "idx": {"type": "safetensors", "path": "blob/gather.safetensors", "tensor_key": "idx"}}}
    workloads = root / "workloads" / "gather.jsonl"
    workloads.write_text(json.dumps({"definition": "gather_rows_h8", "workload": workload}) + "\n")
    return definition_path, workloads


STORED = torch.tensor([8, 0, 3, 3, 7])


def test_stored_integer_inputs_are_read_in_the_parent_and_used_on_their_bench_shape(tmp_path: Path) -> None:
    task = load_trace_definition(*trace_set(tmp_path, STORED))
    (bench,) = task.shapes("bench")
    assert task.stored == {bench.label: {"idx": (str((tmp_path / "blob" / "gather.safetensors").resolve()), "idx")}}
    x, idx = task.make_inputs(bench, 11, "cpu")
    assert torch.equal(idx, STORED) and tuple(x.shape) == (9, 8)
    x_other, idx_other = task.make_inputs(bench, 12, "cpu")
    assert torch.equal(idx_other, STORED) and not torch.equal(x, x_other)  # floats stay the seed's
    assert "read from the workload's safetensors files" in task.description
    rebuilt = task_from_spec(json.loads(spec_of(task).model_dump_json()))  # the spec carries absolute paths
    assert torch.equal(rebuilt.make_inputs(bench, 11, "cpu")[1], STORED)


@pytest.mark.parametrize(("idx", "axes", "key", "expected"), [
    (STORED.to(torch.int32), None, "idx", "input idx in gather.safetensors[idx] is int32 [5], the definition says "
     "int64 [batch] = [5]"),
    (STORED[:4], None, "idx", "is int64 [4], the definition says int64 [batch] = [5]"),
    (STORED, None, "other", "holds no tensor 'idx'"),
    (torch.arange(10), {"batch": 10, "total": 9}, "idx", "workload 5a7e0000 breaks the definition's constraint "
     "'batch <= total' (batch=10, total=9)"),
])
def test_workload_problems_are_one_line_errors(tmp_path: Path, idx: torch.Tensor, axes: dict | None, key: str,
                                               expected: str) -> None:
    with pytest.raises(TraceError) as error:
        load_trace_definition(*trace_set(tmp_path, idx, axes, key))
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_a_missing_safetensors_file_is_a_one_line_error(tmp_path: Path) -> None:
    definition, workloads = trace_set(tmp_path, STORED)
    (tmp_path / "blob" / "gather.safetensors").unlink()
    with pytest.raises(TraceError, match="names blob/gather.safetensors, found neither as given nor under"):
        load_trace_definition(definition, workloads)


def test_equality_constraints_shape_the_synthetic_sizes_and_others_must_hold(tmp_path: Path) -> None:
    definition = dict(GATHER, constraints=["batch_plus_one == batch + 1"],
                      axes={**GATHER["axes"], "batch_plus_one": {"type": "var"}})
    definition["inputs"] = {**GATHER["inputs"], "ptr": {"shape": ["batch_plus_one"], "dtype": "int64"}}
    definition["reference"] = "def run(x, idx, ptr):\n    return x[idx % x.shape[0]]\n"
    path = tmp_path / "d.json"
    path.write_text(json.dumps(definition))
    task = load_trace_definition(path)
    assert [(s.dims["batch"], s.dims["batch_plus_one"]) for s in task.shapes("check")] == [(1, 2), (7, 8)]
    assert all(s.dims["batch_plus_one"] == s.dims["batch"] + 1 for s in task.shapes("bench"))
    path.write_text(json.dumps(dict(GATHER, constraints=["total > 2 * batch", "x_scale[0] > 0"])))
    with pytest.raises(TraceError, match=r"the generic bench shape \(var axes 16\) breaks the definition's "
                                         r"constraint 'total > 2 \* batch' \(batch=16, total=16\)"):
        load_trace_definition(path)
    definition, workloads = trace_set(tmp_path / "set", STORED, definition=dict(GATHER, constraints=["total > batch"]))
    with pytest.raises(TraceError, match=r"the smoke shape \(var axes 2\) breaks the definition's constraint "
                                         r"'total > batch' \(batch=2, total=2\)"):
        load_trace_definition(definition, workloads)


def test_unchecked_constraints_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps(dict(GATHER, constraints=["batch <= total", "idx.max() < total"])))
    task = load_trace_definition(path)
    assert "Constraints not checked (they name more than axes): idx.max() < total." in task.description


def test_a_kernel_on_a_workload_task_runs_through_the_sandbox_which_reads_the_stored_file(tmp_path: Path) -> None:
    """The child rebuilds the task from its spec (for its timing blocks), reading the safetensors file: the
    sandbox lets it read that folder, nothing more."""
    task = load_trace_definition(*trace_set(tmp_path, STORED))
    result = evaluate(Candidate(task=task.name, language="triton", source=KERNEL, origin="user"), task,
                      suite="smoke", device="cpu", timeout_s=120)
    assert result.status == "correct", result.message
    assert result.timings, "the child timed the kernel: it rebuilt the task, stored inputs included"
