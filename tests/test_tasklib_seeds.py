"""The shipped seed kernels: correct under Triton's interpreter, and in the format the tools rely on.

Triton seeds run on every smoke and check shape in one child process (see _tasklib_helpers).
Their format: imports limited to torch / triton / triton.language / math, no try/except, a
`kernel` with the task's inputs as parameters, at least one @triton.jit kernel, and CONFIG /
SEARCH_SPACE as plain dict literals at the top (the offline search rewrites CONFIG). CUDA seeds:
a host `kernel`, one `// TUNABLE` block, no PYBIND11_MODULE (the evaluator appends the binding).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from _tasklib_helpers import run_seeds_interpreted

from warpsmith.tasklib import BUILTIN_TASKS, get_task, list_tasks, load_task_file

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "scale_rows.py"
ALLOWED_IMPORTS = {"torch", "triton", "triton.language", "math"}


@pytest.fixture(scope="module")
def interpreted_rows() -> list[dict]:
    return run_seeds_interpreted([*BUILTIN_TASKS, str(EXAMPLE)])


@pytest.mark.slow  # one child runs every seed: ~10 s of CPU on 2 cores
@pytest.mark.parametrize("name", [*BUILTIN_TASKS, "scale_rows"])
def test_triton_seed_matches_the_reference_on_smoke_and_check(interpreted_rows: list[dict], name: str) -> None:
    task = load_task_file(EXAMPLE) if name == "scale_rows" else get_task(name)
    rows = [row for row in interpreted_rows if row["task"] == name]
    failures = [f"{row['shape']} seed={row['seed']}: {row['first_mismatch']}" for row in rows if not row["ok"]]
    assert not failures, failures
    assert {row["shape"] for row in rows} == {s.label for s in task.shapes("smoke") + task.shapes("check")}
    check_seconds = sum(row["seconds"] for row in rows if row["suite"] == "check")
    assert check_seconds < 60, f"the check suite should take seconds under the interpreter, took {check_seconds:.1f}"


def _literal_dict(tree: ast.Module, name: str) -> dict:
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == [name]:
            return ast.literal_eval(node.value)
    raise AssertionError(f"no module-level {name} = {{...}} literal")


@pytest.mark.parametrize("task", [*list_tasks(), load_task_file(EXAMPLE)], ids=lambda t: t.name)
def test_triton_seed_format(task) -> None:
    tree = ast.parse(task.seed_path("triton").read_text())
    imports = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imports |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imports <= ALLOWED_IMPORTS, imports - ALLOWED_IMPORTS
    assert not any(isinstance(node, ast.Try) for node in ast.walk(tree))
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert [a.arg for a in functions["kernel"].args.args] == list(task.input_names)
    jitted = [f for f in functions.values() if any(ast.unparse(d) == "triton.jit" for d in f.decorator_list)]
    assert jitted, "launches at least one @triton.jit kernel"
    config, space = _literal_dict(tree, "CONFIG"), _literal_dict(tree, "SEARCH_SPACE")
    assert set(config) == set(space) and "num_warps" in config
    assert all(config[key] in values for key, values in space.items())


@pytest.mark.parametrize("name", ["moe_dispatch", "rmsnorm"])
def test_cuda_seed_format(name: str) -> None:
    source = get_task(name).seed_path("cuda").read_text()
    assert "PYBIND11_MODULE" not in source and "#include <torch/extension.h>" not in source
    assert source.count("// TUNABLE") == 1 and "// END TUNABLE" in source
    assert " kernel(at::Tensor" in source and "__global__" in source
    assert "getCurrentCUDAStream()" in source, "launches on the current stream"
