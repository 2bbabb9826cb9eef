"""--kernelbench on `tasks show` and `eval`, and its usage errors (one line, exit code 2)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests._kernelbench_helpers import PROBLEMS, SOLUTIONS
from warpsmith.cli.main import app

runner = CliRunner()
LAYERNORM = str(PROBLEMS / "level1" / "4_LayerNormAffine.py")


def test_tasks_show_a_problem_file() -> None:
    shown = runner.invoke(app, ["tasks", "show", "--kernelbench", LAYERNORM, "--json"])
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    assert doc["name"] == "kernelbench_l1_4_layernormaffine" and doc["inputs"] == ["x", "weight", "bias"]
    assert doc["shapes"]["bench"][0]["dims"] == {"batch_size": 1024, "features": 4096}


def test_tasks_show_picks_one_problem_in_a_checkout() -> None:
    shown = runner.invoke(app, ["tasks", "show", "--kernelbench-dir", str(PROBLEMS), "--level", "1",
                                "--problems", "2", "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["name"] == "kernelbench_l1_2_rowsum"
    many = runner.invoke(app, ["tasks", "show", "--kernelbench-dir", str(PROBLEMS), "--level", "1"])
    assert many.exit_code == 2 and "picks 4 problems" in many.stderr


def test_eval_a_modelnew_against_a_problem_file() -> None:
    done = runner.invoke(app, ["eval", str(SOLUTIONS / "layernorm_modelnew.py"), "--kernelbench", LAYERNORM,
                               "--suite", "smoke", "--device", "cpu", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["status"] == "correct"


def test_usage_errors() -> None:
    both = runner.invoke(app, ["eval", str(SOLUTIONS / "swish_kernel.py"), "--kernel", "rmsnorm",
                               "--kernelbench", LAYERNORM])
    assert both.exit_code == 2 and "not several" in both.stderr
    missing = runner.invoke(app, ["tasks", "show", "--kernelbench", "/no/such/1_X.py"])
    assert missing.exit_code == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.output
