"""`warpsmith eval` as a user runs it: a real subprocess, exit codes, one JSON object with --json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests._evaluator_helpers import ADVERSARIAL

ROOT = Path(__file__).resolve().parents[1]


def warpsmith(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "warpsmith.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def test_json_is_one_object_on_stdout_and_a_rejection_exits_one() -> None:
    done = warpsmith("eval", "--kernel", "rmsnorm", "--json", str(ADVERSARIAL / "getattr_hidden.py"))
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)  # nothing else on stdout
    assert result["status"] == "rejected" and result["task"] == "rmsnorm"
    assert any(v["rule"] == "forbidden-builtin" for v in result["violations"])


def test_human_view_names_status_and_rule() -> None:
    done = warpsmith("eval", "--kernel", "rmsnorm", str(ADVERSARIAL / "try_swallow.py"))
    assert done.returncode == 1  # a verdict other than correct: CI fails
    assert "rejected" in done.stdout and "try-except" in done.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--kernel", "no_such_task", str(ADVERSARIAL / "honest_rmsnorm.py")], "unknown task"),
        (["--kernel", "rmsnorm", "missing_kernel.py"], "does not exist"),
        (["--kernel", "rmsnorm", "--lang", "cuda", str(ADVERSARIAL / "honest_rmsnorm.py")], "does not look like"),
        (["--kernel", "rmsnorm", "--lang", "fortran", str(ADVERSARIAL / "honest_rmsnorm.py")], "unknown --lang"),
        (["--kernel", "rmsnorm", "--suite", "huge", str(ADVERSARIAL / "honest_rmsnorm.py")], "unknown --suite"),
    ],
)
def test_usage_errors_are_one_line_and_exit_two(args: list[str], needle: str) -> None:
    done = warpsmith("eval", *args)
    assert done.returncode == 2
    assert needle in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.slow
def test_honest_kernel_json_has_correctness_and_labelled_timings() -> None:
    done = warpsmith("eval", "--kernel", "rmsnorm", "--suite", "smoke", "--device", "cpu", "--json",
                     str(ADVERSARIAL / "honest_rmsnorm.py"))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "correct" and result["mode"] == "interpreter"
    assert result["timings"] and result["timings"][0]["method"] == "wall_clock"
    assert result["hardware"]["backend"] == "cpu"


def test_profile_on_cpu_is_skipped_with_a_reason_and_leaves_the_status_alone() -> None:
    honest = str(ADVERSARIAL / "honest_rmsnorm.py")
    done = warpsmith("eval", "--kernel", "rmsnorm", "--suite", "smoke", "--device", "cpu", "--profile", "--json", honest)
    assert done.returncode == 0, done.stderr
    profiled = json.loads(done.stdout)
    assert profiled["status"] == "correct"  # as without --profile (honest_rmsnorm is correct)
    assert "profile skipped" in profiled["message"]
    assert "interpreter has no hardware counters" in profiled["profile"]["skipped"]
    # A candidate that never runs is not profiled either, and the result says why instead of nothing.
    refused = json.loads(warpsmith("eval", "--kernel", "rmsnorm", "--profile", "--json",
                                   str(ADVERSARIAL / "try_swallow.py")).stdout)
    assert refused["status"] == "rejected"
    assert "this one is rejected" in refused["profile"]["skipped"]
