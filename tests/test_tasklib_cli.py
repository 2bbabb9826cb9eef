"""`warpsmith tasks list` and `warpsmith tasks show`: tables, JSON, user task files, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from warpsmith.cli.main import app
from warpsmith.tasklib import BUILTIN_TASKS, get_task

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "scale_rows.py"
runner = CliRunner()


def test_list_as_json_names_every_task_with_seeds_and_shape_counts() -> None:
    result = runner.invoke(app, ["tasks", "list", "--json"])
    assert result.exit_code == 0, result.output
    docs = json.loads(result.stdout)
    assert [d["name"] for d in docs] == list(BUILTIN_TASKS)
    dispatch = docs[0]
    assert dispatch["languages"] == ["cuda", "triton"]
    assert dispatch["shapes"] == {s: len(get_task("moe_dispatch").shapes(s)) for s in ("smoke", "check", "bench")}
    assert dispatch["summary"].startswith("Route tokens to experts")


def test_list_table_and_a_user_task_file() -> None:
    result = runner.invoke(app, ["tasks", "list", "--task-file", str(EXAMPLE)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in (*BUILTIN_TASKS, "scale_rows"):
        assert name in result.stdout


def test_show_as_json_has_signature_ops_costs_and_seed_paths() -> None:
    result = runner.invoke(app, ["tasks", "show", "moe_align_block_size", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    task = get_task("moe_align_block_size")
    assert doc["signature"] == task.signature and doc["outputs"] == list(task.output_names)
    assert "empty" in doc["allowed_torch_ops"] and "cumsum" not in doc["allowed_torch_ops"]
    bench = doc["shapes"]["bench"]
    assert bench[0]["bytes"] == task.cost(task.shapes("bench")[0]).bytes > 0
    assert Path(doc["seeds"]["triton"]) == task.seed_path("triton")


def test_show_table_and_task_file() -> None:
    result = runner.invoke(app, ["tasks", "show", "rmsnorm"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "kernel(x[T,H] bf16, weight[H] bf16, eps: float)" in result.stdout
    assert "llama3-70b H=8192 T=8192" in result.stdout and "seeds" in result.stdout
    user = runner.invoke(app, ["tasks", "show", "--task-file", str(EXAMPLE), "--json"])
    assert user.exit_code == 0 and json.loads(user.stdout)["name"] == "scale_rows"


def test_usage_errors_exit_2_with_one_line() -> None:
    unknown = runner.invoke(app, ["tasks", "show", "nope"], env={"COLUMNS": "300"})
    assert unknown.exit_code == 2
    assert "unknown task 'nope'" in unknown.stderr and "moe_dispatch" in unknown.stderr
    assert "Traceback" not in unknown.output
    both = runner.invoke(app, ["tasks", "show", "rmsnorm", "--task-file", str(EXAMPLE)])
    assert both.exit_code == 2 and "either as NAME or with --task-file" in both.stderr
    missing = runner.invoke(app, ["tasks", "list", "--task-file", "/no/such/task.py"])
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_the_installed_command_prints_a_red_line_not_a_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "warpsmith.cli", "tasks", "show", "nope"], capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "COLUMNS": "300"}, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: unknown task 'nope'") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_show_prints_the_description_verbatim_with_its_indexing() -> None:
    # The contract says `expert_offsets[e]`; rich would eat `[e]` as a markup tag.
    result = runner.invoke(app, ["tasks", "show", "moe_dispatch"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "expert_offsets[e]" in result.output and "hidden_states[t]" in result.output
