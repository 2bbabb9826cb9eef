"""Vendor kernels as baselines: skipped with a reason where their package or device is missing, and,
with a tiny real third-party-shaped package put on the trusted timing process's path (the test-only
WARPSMITH_TEST_VENDOR_PATH), detected, adapted, checked against the reference and timed end to end;
one that computes the wrong thing is shown as "disagrees" and never timed."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from warpsmith.cli.eval_cmd import _timing_table, render
from warpsmith.evaluator import vendor_baselines
from warpsmith.evaluator.hardware import detect_hardware
from warpsmith.evaluator.reference_timing import reference_timings
from warpsmith.evaluator.timing_judge import shape_timing
from warpsmith.evaluator.timing_parent import Measurement, ShapePlan
from warpsmith.records.evaluation import EvalResult
from warpsmith.tasklib import get_task, load_task_file
from warpsmith.tasklib.vendors import declared_vendor_kernels

ROOT = Path(__file__).resolve().parents[1]
SERVING = ("silu_and_mul", "gelu_and_mul", "rmsnorm", "fused_add_rmsnorm", "rotary_embedding")

# A package as a vendor ships one: a module with a function, nothing of ours imported.
RIGHT = '''
import torch

def silu_and_mul(x):
    half = x.shape[-1] // 2
    gate, up = x[:, :half].float(), x[:, half:].float()
    return (torch.nn.functional.silu(gate) * up).to(x.dtype)
'''
# The other convention (up first, gate second): a real mismatch between libraries, refused by the checker.
WRONG = RIGHT.replace("gate, up = x[:, :half]", "up, gate = x[:, :half]")

TASK_FILE = '''
from typing import ClassVar

from warpsmith.tasklib.silu_and_mul import SiluAndMul
from warpsmith.tasklib.vendors import VendorKernel


def _right():
    import tinyvendor_right
    return lambda x: (tinyvendor_right.silu_and_mul(x),)


def _wrong():
    import tinyvendor_wrong
    return lambda x: (tinyvendor_wrong.silu_and_mul(x),)


class SiluWithVendors(SiluAndMul):
    vendor_kernels: ClassVar = [
        VendorKernel("tinyvendor-right", "tinyvendor_right", "tinyvendor_right.silu_and_mul", _right,
                     devices=("cpu", "cuda")),
        VendorKernel("tinyvendor-wrong", "tinyvendor_wrong", "tinyvendor_wrong.silu_and_mul", _wrong,
                     devices=("cpu", "cuda")),
        VendorKernel("vllm", "vllm", "torch.ops._C.silu_and_mul", _right),
    ]


TASK = SiluWithVendors()
'''


def _bench_module():
    spec = importlib.util.spec_from_file_location("serving_tasks_bench", ROOT / "bench" / "serving_tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def vendor_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, object]:
    packages = tmp_path / "site"
    for name, body in (("tinyvendor_right", RIGHT), ("tinyvendor_wrong", WRONG)):
        (packages / name).mkdir(parents=True)
        (packages / name / "__init__.py").write_text(textwrap.dedent(body))
    task_file = tmp_path / "silu_vendors.py"
    task_file.write_text(TASK_FILE)
    monkeypatch.setenv(vendor_baselines.TEST_PATH_ENV, str(packages))
    monkeypatch.setenv("WARPSMITH_CACHE", str(tmp_path / "cache"))
    return task_file, load_task_file(task_file)


def test_every_serving_task_declares_vendor_kernels_and_none_is_a_dependency() -> None:
    for name in SERVING:
        kernels = declared_vendor_kernels(get_task(name))
        assert kernels, name
        assert len({k.name for k in kernels}) == len(kernels)
        for kernel in kernels:
            assert kernel.module.split(".")[0] not in sys.modules  # declaring imports no vendor library
    assert declared_vendor_kernels(get_task("moe_dispatch")) == []


def test_skip_reasons_name_the_missing_package_and_device() -> None:
    for name in SERVING:
        for baseline in vendor_baselines.detected(get_task(name), "cpu"):
            assert baseline.state == "skipped"
            assert f"{baseline.name} not installed" in baseline.reason, baseline
            assert "needs a CUDA device" in baseline.reason, baseline


def test_trusted_process_checks_then_times_a_real_vendor_package_and_refuses_a_wrong_one(
        vendor_task, capsys: pytest.CaptureFixture[str]) -> None:
    task_file, task = vendor_task
    shapes = task.shapes("smoke")
    found = reference_timings(task, shapes, "cpu", detect_hardware("cpu"), task_file=task_file)
    entry = found[shapes[0].label]
    states = entry["vendors"]
    assert states["tinyvendor-right"] == {"state": "timed", "reason": ""}
    assert states["tinyvendor-wrong"]["state"] == "disagrees" and shapes[0].label in states["tinyvendor-wrong"]["reason"]
    assert states["vllm"]["state"] == "skipped" and "vllm not installed" in states["vllm"]["reason"]
    row = entry["wall_clock"]
    timed = row["vendors"]
    assert set(timed) == {"tinyvendor-right"}  # the one that disagrees is never timed
    assert len(timed["tinyvendor-right"]) >= 1 and all(s > 0 for s in timed["tinyvendor-right"])

    summary = {v.name: v for v in vendor_baselines.summarize(task, found, "cpu")}
    assert summary["tinyvendor-right"].state == "timed"
    assert summary["tinyvendor-wrong"].state == "disagrees" and summary["tinyvendor-wrong"].shapes == [shapes[0].label]
    assert summary["vllm"].state == "skipped"

    # the judge turns the vendor's samples into a median and an interval, like eager's (the trusted
    # process labels CPU samples wall_clock; the judge reads a device method's row, the same shape)
    plan = ShapePlan(shape=shapes[0], method="cuda_events", reps_per_block=3)
    candidate = Measurement(plan=plan, method="cuda_events", device_us=list(row["eager"]))
    timing = shape_timing(candidate, {"cuda_events": row})
    assert timing.vendor_median_us["tinyvendor-right"] > 0
    assert any(c.baseline == "tinyvendor-right" for c in timing.comparisons)
    assert "tinyvendor-wrong" not in timing.vendor_median_us

    # eval shows the vendor beside eager and compile, and the table of states
    result = EvalResult(task=task.name, language="triton", source_hash="x", status="correct", mode="device",
                        timings=[timing], vendor_baselines=list(summary.values()))
    console = Console(width=250, record=True)
    render(result, console)
    text = console.export_text() + capsys.readouterr().out  # tables go through print_table
    assert "vs tinyvendor-right" in text and "disagrees" in text and "vllm not installed" in text
    console = Console(width=250, record=True)
    console.print(_timing_table(result))
    assert f"{timing.vendor_median_us['tinyvendor-right']:.2f} us" in console.export_text()

    # bench/serving_tasks.py's table has the vendor beside eager and compile
    bench = _bench_module()
    run = {"task": task.name, "language": "triton", "status": "correct", "mode": "device", "seconds": 1.0,
           "message": "", "vendors": [v.model_dump() for v in summary.values()], "shapes": [bench._row(timing)]}
    markdown = bench.render({"suite": "bench", "device": "test", "runs": [run]})
    assert "| tinyvendor-right us |" in markdown and "vs tinyvendor-right" in markdown
    assert "tinyvendor-wrong `tinyvendor_wrong.silu_and_mul`: disagrees" in markdown


def test_a_vendor_package_that_raises_is_failed_not_timed(vendor_task, tmp_path: Path) -> None:
    task_file, task = vendor_task
    (tmp_path / "site" / "tinyvendor_right" / "__init__.py").write_text(
        "def silu_and_mul(x):\n    raise RuntimeError('no kernel for this shape')\n")
    shapes = task.shapes("smoke")
    found = reference_timings(task, shapes, "cpu", detect_hardware("cpu"), task_file=task_file)
    assert found[shapes[0].label]["vendors"]["tinyvendor-right"]["state"] == "failed"
    assert "no kernel for this shape" in found[shapes[0].label]["vendors"]["tinyvendor-right"]["reason"]
    assert "tinyvendor-right" not in found[shapes[0].label]["wall_clock"]["vendors"]


def test_eval_on_cpu_shows_each_vendor_skipped_with_its_reason(tmp_path: Path) -> None:
    seed = get_task("silu_and_mul").seed_path("triton")
    done = subprocess.run([sys.executable, "-m", "warpsmith.cli", "eval", "--kernel", "silu_and_mul", "--suite",
                           "smoke", "--json", str(seed)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    found = {v["name"]: v for v in result["vendor_baselines"]}
    assert set(found) == {"sgl-kernel", "vllm", "flashinfer", "liger-kernel"}
    assert all(v["state"] == "skipped" and "needs a CUDA device" in v["reason"] for v in found.values())
    human = subprocess.run([sys.executable, "-m", "warpsmith.cli", "eval", "--kernel", "silu_and_mul", "--suite",
                            "smoke", str(seed)], capture_output=True, text=True, timeout=600, cwd=ROOT,
                           env={**os.environ, "COLUMNS": "200"})
    assert human.returncode == 0, human.stderr
    assert "vendor baselines" in human.stdout and "sgl-kernel not installed" in human.stdout


def test_a_vendor_that_kills_the_process_costs_only_itself(vendor_task, tmp_path: Path) -> None:
    task_file, task = vendor_task
    (tmp_path / "site" / "tinyvendor_right" / "__init__.py").write_text(
        "import os\n\ndef silu_and_mul(x):\n    os._exit(3)\n")
    shapes = task.shapes("smoke")
    entry = reference_timings(task, shapes, "cpu", detect_hardware("cpu"), task_file=task_file)[shapes[0].label]
    assert entry["wall_clock"]["eager"]  # the eager baseline is still measured
    assert {v["state"] for v in entry["vendors"].values()} == {"failed"}
    assert "with the vendor kernels loaded" in entry["vendors"]["tinyvendor-right"]["reason"]


@pytest.mark.slow  # two seeds' smoke suites under the interpreter
def test_bench_script_on_cpu_says_device_timing_is_unavailable_and_runs_the_smoke_suite(tmp_path: Path) -> None:
    out = tmp_path / "serving.json"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "serving_tasks.py"), "--tasks", "silu_and_mul",
                           "rotary_embedding", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "device timing unavailable" in done.stderr
    doc = json.loads(out.read_text())
    assert [(r["task"], r["status"], r["mode"]) for r in doc["runs"]] == [
        ("silu_and_mul", "correct", "interpreter"), ("rotary_embedding", "correct", "interpreter")]
    assert "sgl-kernel `sgl_kernel.apply_rope_with_cos_sin_cache_inplace`: skipped: sgl-kernel not installed" in done.stdout
