"""What tasks and commands now share instead of repeating: Task's suite dispatch, the row-edge and bench
tables, the MoE and RMSNorm base classes, the gated vendor adapters and the task-file option block."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tests._kernelbench_helpers import PROBLEMS
from warpsmith.cli import kernelbench_options as kb
from warpsmith.cli.main import app
from warpsmith.tasklib.base import BENCH_TOKENS, ROW_EDGES, ROW_SMOKE, Cost, Shape, Task
from warpsmith.tasklib.registry import BUILTIN_TASKS, get_task
from warpsmith.tasklib.vendors import declared_vendor_kernels

runner = CliRunner()
OPTIONS = ("--kernelbench", "--kernelbench-dir", "--level", "--problems", "--tolerance", "--trace-definition",
           "--workloads")


class _Rows(Task):
    name: str = "rows"
    description: str = "copy"
    signature: str = "kernel(x[T,H]) -> out[T,H]"
    input_names: tuple[str, ...] = ("x",)
    output_names: tuple[str, ...] = ("out",)

    def smoke_shapes(self) -> list[Shape]:
        return [Shape(label=ROW_SMOKE[0], dims={"T": ROW_SMOKE[1], "H": ROW_SMOKE[2]})]

    def check_shapes(self) -> list[Shape]:
        return [Shape(label=label, dims={"T": T, "H": H}) for label, T, H in ROW_EDGES]

    def bench_shapes(self) -> list[Shape]:
        return [Shape(label=f"T={T}", dims={"T": T, "H": 4096}) for T in BENCH_TOKENS]

    def cost(self, shape: Shape) -> Cost:
        return Cost(bytes=4 * int(shape["T"]) * int(shape["H"]))


def test_default_shapes_dispatch_to_the_suite_methods() -> None:
    task = _Rows()
    assert [s.label for s in task.shapes("smoke")] == ["tiny T=4 H=64"]
    assert [s.dims["H"] for s in task.shapes("check")] == [128, 1, 7, 200]
    assert len(task.shapes("bench")) == len(BENCH_TOKENS)
    with pytest.raises(ValueError, match="unknown suite 'huge'"):
        task.shapes("huge")  # type: ignore[arg-type]


def test_a_task_that_writes_no_suite_method_says_so() -> None:
    class Bare(_Rows):
        def check_shapes(self) -> list[Shape]:
            return Task.check_shapes(self)

    with pytest.raises(NotImplementedError):
        Bare().shapes("check")


@pytest.mark.parametrize("name", BUILTIN_TASKS)
def test_every_builtin_task_refuses_an_unknown_suite_and_draws_reproducibly(name: str) -> None:
    task = get_task(name)
    with pytest.raises(ValueError, match="unknown suite"):
        task.shapes("huge")  # type: ignore[arg-type]
    shape = task.shapes("smoke")[0]
    first, again = task.make_inputs(shape, 3), task.make_inputs(shape, 3)
    for a, b in zip(first, again, strict=True):
        assert (a == b).all() if hasattr(a, "shape") else a == b


def test_rmsnorm_family_labels_what_each_task_normalizes() -> None:
    rms, fused = get_task("rmsnorm"), get_task("fused_add_rmsnorm")
    assert "T=3 H=96 eps=mean(x^2)" in [s.label for s in rms.shapes("check")]
    fused_labels = [s.label for s in fused.shapes("check")]
    assert "T=3 H=96 eps=mean(r^2)" in fused_labels and fused_labels[-1] == "T=3 H=96 residual=-2x+d"
    assert rms.shapes("bench") == fused.shapes("bench")


def test_dispatch_and_combine_share_smoke_and_bench_shapes() -> None:
    dispatch, combine = get_task("moe_dispatch"), get_task("moe_combine")
    assert dispatch.shapes("smoke") == combine.shapes("smoke")
    assert dispatch.shapes("bench") == combine.shapes("bench")
    assert dispatch.shapes("check") != combine.shapes("check")


def test_gated_vendor_adapters_name_each_op() -> None:
    silu = {k.name: k.op for k in declared_vendor_kernels(get_task("silu_and_mul"))}
    gelu = {k.name: k.op for k in declared_vendor_kernels(get_task("gelu_and_mul"))}
    assert silu["vllm"] == "torch.ops._C.silu_and_mul" and gelu["vllm"] == "torch.ops._C.gelu_and_mul"
    assert gelu["flashinfer"] == "flashinfer.activation.gelu_and_mul" and "liger-kernel" in silu
    assert "liger-kernel" not in gelu  # liger's GeGLU is the tanh one: not this task


@pytest.mark.parametrize("command", [["eval"], ["optimize"], ["tasks", "show"]])
def test_every_command_shows_the_seven_task_file_options(command: list[str]) -> None:
    shown = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "240"})
    assert shown.exit_code == 0, shown.output
    places = [shown.output.index(f"{option} ") for option in OPTIONS]
    assert places == sorted(places)


def test_the_option_block_reaches_the_command_as_one_value() -> None:
    got: dict[str, Any] = {}
    demo = typer.Typer()

    @demo.command()
    @kb.options
    def show(name: str = typer.Argument("x"), brought: kb.BroughtTask = kb.BroughtTask(),
             after: int = typer.Option(0, "--after")) -> None:
        got.update(name=name, brought=brought, after=after)

    problem = PROBLEMS / "level1" / "4_LayerNormAffine.py"
    done = runner.invoke(demo, ["y", "--kernelbench", str(problem), "--tolerance", "0.05", "--after", "3"])
    assert done.exit_code == 0, done.output
    assert got["name"] == "y" and got["after"] == 3
    brought = got["brought"]
    assert brought.kernelbench == Path(problem) and brought.tolerance == 0.05 and brought.wanted()
    assert brought.load().name == "kernelbench_l1_4_layernormaffine"
    runner.invoke(demo, [])
    assert got["brought"] == kb.BroughtTask() and not got["brought"].wanted()
