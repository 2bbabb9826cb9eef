"""The registry: built-in tasks by name, user task files, and their one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from warpsmith.tasklib import (
    BUILTIN_TASKS,
    Task,
    TaskFileError,
    UnknownTaskError,
    get_task,
    list_tasks,
    load_task_file,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "scale_rows.py"


def test_builtin_tasks_by_name() -> None:
    names = [task.name for task in list_tasks()]
    assert names == list(BUILTIN_TASKS)
    assert names[:4] == ["moe_dispatch", "moe_align_block_size", "moe_combine", "rmsnorm"]
    assert {"fused_add_rmsnorm", "silu_and_mul", "gelu_and_mul", "topk_softmax"} <= set(names)
    assert {"moe_fused_gate", "per_token_group_quant_fp8", "merge_attn_states", "rotary_embedding"} <= set(names)
    for name in names:
        task = get_task(name)
        assert isinstance(task, Task) and task.name == name
        assert task.seed_path("triton") is not None and task.seed_path("triton").parent.name == "seeds"
    assert set(get_task("moe_dispatch").seeds()) == {"triton", "cuda"}
    assert set(get_task("rmsnorm").seeds()) == {"triton", "cuda"}


def test_unknown_task_lists_the_known_ones() -> None:
    with pytest.raises(UnknownTaskError) as info:
        get_task("moe_dispatchh")
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "moe_dispatchh" in message and all(name in message for name in BUILTIN_TASKS)
    assert "\n" not in message


def test_the_documented_example_loads_and_its_reference_runs() -> None:
    """Its Triton seed runs under the interpreter in test_tasklib_seeds.py."""
    task = load_task_file(EXAMPLE)
    assert task.name == "scale_rows" and task.source_dir == EXAMPLE.parent
    assert task.seed_path("triton") == EXAMPLE.parent / "seeds" / "triton.py"
    for shape in task.shapes("smoke") + task.shapes("check"):
        inputs = task.make_inputs(shape, 1)
        expected = task.reference(*inputs)
        assert torch.allclose(expected[0], inputs[0] * inputs[1][:, None])
        assert task.check(inputs, expected, expected).ok
        wrong = expected[0].clone()
        wrong[0, 0] += 1.0
        assert not task.check(inputs, (wrong,), expected).ok
    body = EXAMPLE.read_text().split('"""', 2)[2].strip()
    assert body in (ROOT / "docs" / "user_tasks.md").read_text(), "docs/user_tasks.md shows the example file"


def _write(tmp_path: Path, text: str, name: str = "my_task.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("def broken(:\n", "syntax error in task file .*line 1"),
        ("X = 1\n", "defines no module-level TASK"),
        ("TASK = {'name': 'x'}\n", "TASK in .* is a dict, not an instance of a Task subclass"),
        ("from warpsmith.tasklib.rmsnorm import RmsNorm as TASK\n", "is the class RmsNorm; make it an instance"),
        ("import no_such_module_here\n", "failed to import: ModuleNotFoundError"),
    ],
)
def test_bad_task_files_give_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(TaskFileError, match=message) as info:
        load_task_file(_write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_missing_task_file(tmp_path: Path) -> None:
    with pytest.raises(TaskFileError, match="does not exist"):
        load_task_file(tmp_path / "nope.py")
    with pytest.raises(TaskFileError, match="not a .py file"):
        load_task_file(_write(tmp_path, "x", "task.txt"))


def test_a_user_task_reads_seeds_beside_its_file(tmp_path: Path) -> None:
    text = (
        "from warpsmith.tasklib.rmsnorm import RmsNorm\n"
        "class Mine(RmsNorm):\n"
        "    name: str = 'my_rmsnorm'\n"
        "TASK = Mine()\n"
    )
    path = _write(tmp_path, text)
    task = load_task_file(path)
    assert task.name == "my_rmsnorm" and task.seeds() == {}
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "cuda.cu").write_text("// mine\n")
    assert load_task_file(path).seeds() == {"cuda": tmp_path / "seeds" / "cuda.cu"}
