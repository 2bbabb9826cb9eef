"""`warpsmith bench kernelbench` end to end on our own problem files (CPU interpreter), and the
KernelBench metrics computed from device-mode rows."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests._kernelbench_helpers import PROBLEMS, SOLUTIONS
from warpsmith.cli.bench_kernelbench_report import NOT_COMPARABLE, ProblemRow, summarize


def test_bench_kernelbench_on_the_interpreter(tmp_path: Path) -> None:
    solutions = tmp_path / "solutions"
    (solutions / "level1").mkdir(parents=True)
    shutil.copy(SOLUTIONS / "swish_modelnew.py", solutions / "level1" / "1_Swish.py")
    shutil.copy(SOLUTIONS / "layernorm_copy.py", solutions / "4.py")
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "warpsmith.cli", "bench", "kernelbench", "--kernelbench-dir", str(PROBLEMS),
         "--level", "1", "--problems", "1,2,4", "--solutions", str(solutions), "--suite", "smoke",
         "--device", "cpu", "--report", str(report), "--no-store"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(report.read_text())
    status = {row["number"]: row["status"] for row in document["problems"]}
    assert status == {1: "correct", 2: "no-solution", 4: "incorrect"}
    assert document["summary"]["fast_0"] == round(1 / 3, 4)
    assert document["summary"]["fast_1_eager"] == NOT_COMPARABLE
    assert "fast_0" in done.stdout and NOT_COMPARABLE in done.stdout


def test_bench_kernelbench_usage_errors(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "warpsmith.cli", "bench", "kernelbench", "--kernelbench-dir",
                           str(tmp_path), "--level", "4"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "level 4 is out of scope" in done.stderr
    assert "Traceback" not in done.stderr


def _row(name: str, status: str, eager: float | None, eager_low: float | None, compile_: float | None) -> ProblemRow:
    return ProblemRow(problem=name, status=status, mode="device", speedup_eager=eager, speedup_eager_low=eager_low,
                      speedup_compile=compile_, speedup_compile_low=compile_, dollars=0.5, minutes=2.0,
                      fraction_of_floor=0.4 if status == "correct" else None)


def test_fast_p_and_geomean_from_device_rows() -> None:
    rows = [_row("a", "correct", 2.5, 2.2, 1.1), _row("b", "correct", 1.2, 0.9, 0.8),
            _row("c", "incorrect", None, None, None), _row("d", "correct", 0.5, 0.4, 0.3)]
    summary = summarize(rows)
    assert summary["fast_0"] == 0.75
    assert summary["fast_1_eager"] == 0.5 and summary["fast_1_eager_significant"] == 0.25
    assert summary["fast_2_eager"] == 0.25 and summary["fast_2_compile"] == 0.0
    assert abs(summary["geomean_speedup_eager"] - (2.5 * 1.2 * 0.5) ** (1 / 3)) < 1e-3
    assert summary["mean_dollars"] == 0.5 and summary["mean_minutes"] == 2.0
    assert summary["mean_fraction_of_floor"] == 0.4


def test_bench_kernelbench_searches_from_a_solution(tmp_path: Path) -> None:
    """--rounds N runs the offline search from each solution (a real store, the real evaluator)."""
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    shutil.copy(SOLUTIONS / "swish_tunable.py", solutions / "1.py")
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "warpsmith.cli", "bench", "kernelbench", "--kernelbench-dir", str(PROBLEMS),
         "--level", "1", "--problems", "1", "--solutions", str(solutions), "--suite", "smoke", "--device", "cpu",
         "--rounds", "1", "--width", "1", "--db", f"sqlite:///{tmp_path / 'store.db'}", "--report", str(report)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(report.read_text())
    assert document["rounds"] == 1 and document["model"] == "offline"
    assert document["problems"][0]["status"] == "correct"
    assert (tmp_path / "store.db").is_file()
