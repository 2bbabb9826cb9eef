"""The in-loop profile: two shapes (the largest timed, the task's smallest bench shape), grouped Nsight
Compute metrics parsed from `ncu --csv` output and labelled for a prompt, and the clear line when counters
are not permitted (ERR_NVGPUCTRPERM).

Real parts: the parser and the renderer on hand-written fixtures in the real `ncu --csv` long format
(tests/_ncu_h100_moe_*.csv, laid out like the recorded tests/_build_ncu_h100.csv); `run_profile` runs a
stand-in `ncu` executable on PATH (no GPU here) that records the command line it was given and prints a
fixture, or ncu's own permission error.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from warpsmith.agents.profile_view import profile_lines
from warpsmith.evaluator.profile import NCU_GROUPS, NCU_METRICS, SECOND, parse_ncu_csv, run_profile
from warpsmith.evaluator.profiled_run import merge_profiles, profile_shapes
from warpsmith.tasklib import get_task

HERE = Path(__file__).parent
LARGE, SMALL = (HERE / f"_ncu_h100_moe_{size}.csv" for size in ("large", "small"))
PERMISSION = ("==PROF== Connected to process 812 (/usr/bin/python3.12)\n"
              "==ERROR== ERR_NVGPUCTRPERM - The user does not have permission to access NVIDIA GPU Performance "
              "Counters on the target device 0. For instructions on enabling permissions and to get more "
              "information see https://developer.nvidia.com/ERR_NVGPUCTRPERM\n"
              "==PROF== Disconnected from process 812\n")


def test_the_metric_groups_cover_what_a_model_is_shown():
    assert set(NCU_GROUPS) == {"speed of light", "memory", "occupancy", "stalls", "resources"}
    for name in ("gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed", "dram__bytes_read.sum",
                 "dram__bytes_write.sum", "lts__t_sector_hit_rate.pct", "sm__warps_active.avg.pct_of_peak_sustained_active",
                 "launch__occupancy_limit_shared_mem", "launch__registers_per_thread",
                 "smsp__average_warps_issue_stalled_long_scoreboard_per_issue_active.ratio",
                 "smsp__sass_inst_executed_op_local_ld.sum"):
        assert name in NCU_METRICS, name
    assert len(NCU_METRICS) == len(set(NCU_METRICS))


def test_a_profile_of_two_shapes_is_parsed_summed_and_labelled():
    large, small = parse_ncu_csv(LARGE.read_text()), parse_ncu_csv(SMALL.read_text())
    assert large["launches"] == 2 and large["kernels"] == "_scatter_kernel;_offsets_kernel"
    # bytes are summed over the call's launches and brought back from ncu's display units
    assert large["dram__bytes_read.sum"] == pytest.approx(67.11e6) and small["dram__bytes_write.sum"] == 4610
    assert large["launch__grid_size"] == 4096  # launch configuration: the largest launch
    assert large["lts__t_sector_hit_rate.pct"] == pytest.approx((11.84 + 52.30) / 2)  # rates: averaged
    profile = merge_profiles([large, small], ["deepseek-v3 T=512", "T=1 E=8 k=2 H=96"])
    assert profile["shape"] == "deepseek-v3 T=512" and profile[f"{SECOND}shape"] == "T=1 E=8 k=2 H=96"
    text = "\n".join(profile_lines(profile))
    assert "profile (largest shape: deepseek-v3 T=512), ncu:" in text
    assert "profile (smallest bench shape: T=1 E=8 k=2 H=96), ncu:" in text
    assert "speed of light: memory 77%, compute 25%, DRAM 73%" in text
    assert "memory: DRAM bytes 133.2 MB (read 67.1 MB, written 66.1 MB), L2 hit rate 32%, L1 hit rate 6%" in text
    assert "occupancy: achieved 67%, theoretical 75%, limited by shared memory (2 blocks per SM)" in text
    assert "top stalls (warp cycles per issued instruction, of 26.6): long_scoreboard 16.1, wait 2.8, lg_throttle 2.5" \
        in text  # the top three by value
    assert "resources: 56 registers/thread, 4096 B shared/block, no spills, largest launch 4096 blocks x 128 threads" \
        in text
    assert "memory: DRAM bytes 18.9 KB (read 14.3 KB, written 4.6 KB), L2 hit rate 94%, L1 hit rate 25%" in text
    assert "selected" not in text.replace("not_selected", "")  # issuing is not a stall


def test_counters_not_permitted_is_one_clear_line_for_both_shapes():
    denied = merge_profiles([{"skipped": f"ncu exited 1 with no metrics: {PERMISSION.strip()}"}], ["a", "b"])
    (line,) = profile_lines(denied)
    assert "not permitted" in line and "ERR_NVGPUCTRPERM" in line and "NVreg_RestrictProfilingToAdminUsers=0" in line
    partial = merge_profiles([parse_ncu_csv(LARGE.read_text()), {"skipped": "ncu timed out after 60 s"}], ["a", "b"])
    lines = profile_lines(partial)
    assert lines[0] == "profile (largest shape: a), ncu:" and lines[-1] == "profile: not available: ncu timed out after 60 s"


def test_the_smallest_bench_shape_is_profiled_beside_the_largest():
    task = get_task("moe_dispatch")
    bench = task.shapes("bench")
    largest = max(bench, key=lambda s: task.cost(s).bytes)
    smallest = min(bench, key=lambda s: task.cost(s).bytes)
    assert [s.label for s in profile_shapes(task, largest)] == [largest.label, smallest.label]
    assert [s.label for s in profile_shapes(task, smallest)] == [smallest.label]


def _fake_ncu(folder: Path, output: str, code: int) -> dict[str, str]:
    """A stand-in `ncu` on PATH: records its arguments and prints `output` (there is no GPU here)."""
    (folder / "out.txt").write_text(output)
    script = folder / "ncu"
    script.write_text(f"#!{sys.executable}\nimport sys, pathlib\n"
                      f"pathlib.Path({str(folder / 'argv.txt')!r}).write_text('\\n'.join(sys.argv[1:]))\n"
                      f"sys.stdout.write(pathlib.Path({str(folder / 'out.txt')!r}).read_text())\nsys.exit({code})\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_run_profile_asks_ncu_for_the_grouped_metrics_of_the_measured_call_only(tmp_path: Path, monkeypatch):
    env = _fake_ncu(tmp_path, LARGE.read_text(), 0)
    monkeypatch.setenv("PATH", env["PATH"])
    metrics = run_profile(["python", "-c", "pass"], env=env, timeout_s=30)
    argv = (tmp_path / "argv.txt").read_text().splitlines()
    assert argv[argv.index("--profile-from-start") + 1] == "off"  # the warm-up call is not profiled
    assert argv[argv.index("--metrics") + 1].split(",") == list(NCU_METRICS)
    assert argv[-3:] == ["python", "-c", "pass"] and metrics["launches"] == 2


def test_run_profile_without_permission_says_so(tmp_path: Path, monkeypatch):
    env = _fake_ncu(tmp_path, PERMISSION, 1)
    monkeypatch.setenv("PATH", env["PATH"])
    metrics = run_profile(["python", "-c", "pass"], env=env, timeout_s=30)
    assert set(metrics) == {"skipped"} and "ERR_NVGPUCTRPERM" in str(metrics["skipped"])
    assert "not permitted" in profile_lines(merge_profiles([metrics], ["x"]))[0]


def test_an_ncu_that_does_not_know_a_metric_is_asked_again_without_it(tmp_path: Path, monkeypatch):
    """Another ncu version may not know a name: ncu then profiles nothing; the second run leaves it out."""
    unknown = "smsp__sass_inst_executed_op_local_ld.sum"
    script = tmp_path / "ncu"
    script.write_text(
        f"#!{sys.executable}\nimport sys, pathlib\n"
        f"asked = sys.argv[sys.argv.index('--metrics') + 1]\n"
        f"if {unknown!r} in asked.split(','):\n"
        f"    print('==ERROR== Failed to find metric {unknown}')\n    sys.exit(1)\n"
        f"sys.stdout.write(pathlib.Path({str(LARGE)!r}).read_text())\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    metrics = run_profile(["python", "-c", "pass"], env=dict(os.environ), timeout_s=30)
    assert metrics["unavailable"] == unknown and metrics["launches"] == 2
    lines = profile_lines(merge_profiles([metrics], ["x"]))
    assert lines[0] == "profile (x), ncu:" and lines[-1] == f"  not collected (this ncu does not know them): {unknown}"
