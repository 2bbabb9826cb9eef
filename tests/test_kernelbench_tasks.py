"""KernelBench problem files as tasks: the functional form, suites derived by scaling the size
constants, inputs and parameters drawn from the seed, the task as a spec a worker rebuilds, and
finding problems in a checkout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from tests._kernelbench_helpers import PROBLEMS, problem
from warpsmith.records.tasks import TaskSpec
from warpsmith.tasklib.kernelbench import (
    KernelBenchError,
    find_problems,
    parse_numbers,
    scaled_constants,
    size_constants,
)
from warpsmith.tasklib.kernelbench_task import load_kernelbench
from warpsmith.tasklib.registry import BUILTIN_TASKS, get_task, spec_of, task_from_spec


def test_functional_form_lists_every_parameter() -> None:
    task = problem(3)  # nn.Linear + ReLU
    assert task.name == "kernelbench_l1_3_gemmrelu"
    assert task.input_names == ("x", "linear_weight", "linear_bias")
    assert task.param_names == ("linear.weight", "linear.bias")
    assert task.signature.startswith("kernel(x[512,2048] float32, linear_weight[1024,2048] float32")
    assert task.module_nn_classes == frozenset({"Linear"})
    assert "class Model(nn.Module)" in task.description  # the agents see the problem itself


def test_suites_scale_the_size_constants() -> None:
    source = (PROBLEMS / "level1" / "3_GemmReLU.py").read_text()
    assert size_constants(source) == {"batch_size": 512, "in_features": 2048, "out_features": 1024}
    task = problem(3)
    (bench,) = task.shapes("bench")
    assert bench.dims == {"batch_size": 512, "in_features": 2048, "out_features": 1024}
    (smoke,) = task.shapes("smoke")
    assert max(smoke.dims.values()) <= 64
    odd = task.shapes("check")[0]
    assert all(v % 2 == 1 for v in odd.dims.values()), odd.dims  # sizes that divide no block size
    assert task.cost(bench).bytes == 4 * (512 * 2048 + 1024 * 2048 + 1024 + 512 * 1024)


def test_a_constant_below_the_size_threshold_is_kept() -> None:
    source = (PROBLEMS / "level1" / "2_RowSum.py").read_text()
    scaled = scaled_constants(source, 1 << 10)
    assert scaled["reduce_dim"] == 1  # the reduction's dimension, not a size
    assert scaled["features"] < 8192


def test_inputs_come_from_the_seed_and_the_distribution() -> None:
    task = problem(4)  # LayerNorm with weight and bias parameters
    shape = task.shapes("smoke")[0]
    a = task.make_inputs(shape, 11, "cpu", distribution="normal")
    b = task.make_inputs(shape, 11, "cpu", distribution="normal")
    c = task.make_inputs(shape, 12, "cpu", distribution="normal")
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0]) and not torch.equal(a[1], c[1])
    x, weight, bias = task.make_inputs(shape, 11, "cpu", distribution="offset_scaled")
    assert abs(float(x.mean()) - float(a[0].mean())) > 0.05 or float(x.std()) > 1.4 * float(a[0].std())
    # LayerNorm's own init (ones, zeros) is never what a candidate that drops them would need
    assert float((weight - 1).abs().max()) > 0.1 and float(bias.abs().max()) > 0.05


def test_reference_uses_the_drawn_parameters() -> None:
    task = problem(4)
    shape = task.shapes("smoke")[0]
    x, weight, bias = task.make_inputs(shape, 5, "cpu")
    (out,) = task.reference(x, weight, bias)
    expected = torch.nn.functional.layer_norm(x, (x.shape[-1],), weight, bias, 1e-5)
    torch.testing.assert_close(out, expected)
    assert task.check((x, weight, bias), (x.clone(),), (out,)).ok is False  # a memcpy LayerNorm fails


def test_spec_round_trip_rebuilds_the_same_task() -> None:
    task = problem(2)
    spec = spec_of(task)
    assert spec.kind == "kernelbench" and spec.source and "class Model" in spec.source
    rebuilt = task_from_spec(TaskSpec.model_validate_json(spec.model_dump_json()))
    assert rebuilt.shapes("check") == task.shapes("check") and rebuilt.input_names == task.input_names


def test_builtin_spec_and_discovery() -> None:
    assert "moe_dispatch" in BUILTIN_TASKS and "rmsnorm" in BUILTIN_TASKS
    assert all((Path(__file__).parents[1] / "tasklib" / name / "__init__.py").is_file() for name in BUILTIN_TASKS)
    spec = spec_of(get_task("rmsnorm"))
    assert spec == TaskSpec(kind="builtin", name="rmsnorm")
    assert task_from_spec(spec.model_dump()).name == "rmsnorm"


def test_find_problems_in_a_checkout(tmp_path: Path) -> None:
    level = tmp_path / "KernelBench" / "level1"
    level.mkdir(parents=True)
    for path in (PROBLEMS / "level1").glob("*.py"):
        shutil.copy(path, level / path.name)
    found = find_problems(tmp_path, [1], parse_numbers("1-2,4"))
    assert [(lvl, p.name) for lvl, p in found] == [(1, "1_Swish.py"), (1, "2_RowSum.py"), (1, "4_LayerNormAffine.py")]
    with pytest.raises(KernelBenchError, match="no problem"):
        find_problems(tmp_path, [1], [7])
    with pytest.raises(KernelBenchError, match="level 4 is out of scope"):
        find_problems(tmp_path, [4], None)
    with pytest.raises(KernelBenchError, match="no level2 folder"):
        find_problems(tmp_path, [2], None)


def test_parse_numbers() -> None:
    assert parse_numbers("1-3,7, 5") == [1, 2, 3, 5, 7]
    with pytest.raises(KernelBenchError, match="cannot read"):
        parse_numbers("1-x")


def test_bad_problem_files_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "9_Bad.py"
    bad.write_text("import torch\nx = 3\n")
    with pytest.raises(KernelBenchError, match="defines no Model, get_inputs, get_init_inputs"):
        load_kernelbench(bad)
    bad.write_text("def broken(:\n")
    with pytest.raises(KernelBenchError, match="syntax error"):
        load_kernelbench(bad)
    with pytest.raises(KernelBenchError, match="does not exist"):
        load_kernelbench(tmp_path / "missing.py")


def test_the_reference_compiles() -> None:
    """torch.compile of the reference (the trusted compiled baseline) traces the forward: the problem's
    module is importable by name and the module lookup is the only graph break."""
    task = problem(4)
    inputs = task.make_inputs(task.shapes("smoke")[0], 1, "cpu")
    compiled = torch.compile(task.reference, backend="eager", dynamic=True)
    torch.testing.assert_close(compiled(*inputs)[0], task.reference(*inputs)[0])


def test_tuple_constants_and_buffers(tmp_path: Path) -> None:
    """`height, width = 256, 256` is scaled like any size; BatchNorm's buffers (running stats, the int
    batch counter) are inputs, and the training-mode reference never mutates them."""
    problem_file = tmp_path / "level2" / "7_ConvBN.py"
    problem_file.parent.mkdir()
    problem_file.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n"
        "    def __init__(self, c_in, c_out, k):\n        super().__init__()\n"
        "        self.conv = nn.Conv2d(c_in, c_out, k)\n        self.bn = nn.BatchNorm2d(c_out)\n\n"
        "    def forward(self, x):\n        return torch.relu(self.bn(self.conv(x)))\n\n\n"
        "batch_size = 64\nc_in, c_out = 3, 64\nheight, width = 128, 128\nk = 3\n\n\n"
        "def get_inputs():\n    return [torch.randn(batch_size, c_in, height, width)]\n\n\n"
        "def get_init_inputs():\n    return [c_in, c_out, k]\n")
    task = load_kernelbench(problem_file)
    assert task.name == "kernelbench_l2_7_convbn"
    (smoke,) = task.shapes("smoke")
    assert smoke.dims["height"] < 128 and smoke.dims["width"] < 128 and smoke.dims["k"] == 3
    assert "bn.running_var" in task.param_names and "bn.num_batches_tracked" in task.param_names
    inputs = task.make_inputs(smoke, 2, "cpu")
    before = [t.clone() for t in inputs]
    task.reference(*inputs)
    assert all(torch.equal(a, b) for a, b in zip(inputs, before, strict=True))
    assert task.module_nn_classes == frozenset({"Conv2d", "BatchNorm2d"})


def test_definition_hash_covers_the_problem_and_its_tolerance() -> None:
    from warpsmith.tasklib.identity import task_definition_hash

    path = PROBLEMS / "level1" / "3_GemmReLU.py"
    assert task_definition_hash(load_kernelbench(path)) == task_definition_hash(load_kernelbench(path))
    assert task_definition_hash(load_kernelbench(path)) != task_definition_hash(load_kernelbench(path, tolerance=1e-3))
    assert task_definition_hash(problem(3)) != task_definition_hash(problem(4))
