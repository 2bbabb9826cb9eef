"""`warpsmith evolve` refuses bad input with one clear line and exit code 2, before any run is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from _optimize_helpers import private_env, warpsmith


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--kernels", "rmsnorm,nope"], "unknown task 'nope'"),
        (["--suite", "everything"], "unknown suite 'everything'"),
        ([], "exactly one of --kernels"),
        (["--kernels", "rmsnorm", "--suite", "serving"], "exactly one of --kernels"),
        (["--kernels", "rmsnorm", "--db", "postgresql+psycopg://u@127.0.0.1:1/x"], "cannot open the store"),
        (["--kernels", "rmsnorm", "--shapes", "huge"], "--shapes must be smoke, check or bench"),
        (["--resume", "r-nope"], "no run 'r-nope'"),
        (["--kernels", "rmsnorm", "--target-floor", "1.5"], "--target-floor 1.5: give a fraction"),
    ],
    ids=["unknown-task", "unknown-suite", "no-tasks", "two-task-options", "unreachable-db", "bad-shapes", "bad-resume",
         "bad-target-floor"],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], words: str) -> None:
    result = warpsmith(["evolve", *args], private_env(tmp_path), timeout=120)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr
