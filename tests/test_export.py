"""`warpsmith export`: a stored correct kernel becomes a package that registers torch.ops.warpsmith.<task>.

The round trip is real: an offline optimize into a private SQLite store, `warpsmith export latest`,
then the package imported from PYTHONPATH alone in a fresh interpreter (no pip install, warpsmith
never imported there) whose outputs are checked here by warpsmith's own rmsnorm checker; the
package's own tests (reference, opcheck, torch.compile fullgraph) run too; a wheel is built.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from _optimize_helpers import private_env, warpsmith

from warpsmith.store import add_candidate, ensure_hardware, ensure_task, open_store, record_evaluation
from warpsmith.tasklib import get_task

TASK = get_task("rmsnorm")
SEED = TASK.seed_path("triton").read_text()  # type: ignore[union-attr]


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def _fresh_env(package_dir: Path) -> dict[str, str]:
    """PYTHONPATH is the package folder only; the CPU runs Triton in its interpreter."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return env | {"PYTHONPATH": str(package_dir), "TRITON_INTERPRET": "1"}


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    tmp_path = tmp_path_factory.mktemp("export_run")
    env = private_env(tmp_path)
    done = warpsmith(["optimize", "--kernel", "rmsnorm", "--offline", "--rounds", "1", "--width", "1",
                      "--suite", "smoke", "--device", "cpu"], env, timeout=600)
    assert done.returncode == 0, done.stderr
    return tmp_path, env


def _store_with(tmp_path: Path, status: str, **evaluation: object) -> tuple[dict[str, str], str]:
    """A private store holding the rmsnorm seed with one evaluation of `status` (and `evaluation`'s fields)."""
    env = private_env(tmp_path)
    store = open_store(env["WARPSMITH_DB"])
    with store.session() as s:
        ensure_task(s, TASK.name, TASK.description, TASK.signature)
        ensure_hardware(s, "f" * 16, "cpu (triton interpreter)", "cpu", None, {})
        row = add_candidate(s, task=TASK.name, language="triton", source=SEED, origin="seed")
        source_hash = row.source_hash
        fields = {"suite": "smoke", "mode": "interpreter", "result": {}} | evaluation
        record_evaluation(s, source_hash=source_hash, hardware_fingerprint="f" * 16, evaluator_version="test",
                          status=status, **fields)  # type: ignore[arg-type]
    store.close()
    return env, source_hash


def test_a_candidate_that_is_not_correct_is_refused_in_one_line(tmp_path: Path) -> None:
    env, source_hash = _store_with(tmp_path, "incorrect")
    line = _one_error_line(warpsmith(["export", source_hash[:10], "--out", str(tmp_path / "pkg")], env))
    assert "is 'incorrect' in the store" in line and "only a correct kernel is exported" in line, line
    assert not (tmp_path / "pkg").exists()


def test_an_existing_out_dir_is_refused_unless_forced(tmp_path: Path) -> None:
    env, source_hash = _store_with(tmp_path, "correct")
    out = tmp_path / "pkg"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    line = _one_error_line(warpsmith(["export", source_hash, "--out", str(out)], env))
    assert "exists" in line and "--force" in line, line
    assert (out / "mine.txt").read_text() == "keep"
    done = warpsmith(["export", source_hash, "--out", str(out), "--force"], env)
    assert done.returncode == 0, done.stderr
    assert not (out / "mine.txt").exists() and (out / "pyproject.toml").is_file()


def test_unknown_refs_and_kinds_are_one_line(tmp_path: Path) -> None:
    env, source_hash = _store_with(tmp_path, "correct")
    assert "no run and no candidate" in _one_error_line(warpsmith(["export", "abcdef12", "--out", str(tmp_path / "a")], env))
    assert "run" in _one_error_line(warpsmith(["export", "r-nope", "--out", str(tmp_path / "b")], env))
    line = _one_error_line(warpsmith(["export", source_hash, "--as", "wheel", "--out", str(tmp_path / "c")], env))
    assert "unknown export kind 'wheel'" in line


def test_the_readme_carries_the_stored_timings_and_their_intervals(tmp_path: Path) -> None:
    from warpsmith.records.evaluation import Comparison, ShapeTiming

    timing = ShapeTiming(shape="llama3-8b H=4096 T=512", median_us=12.5, spread_us=0.4, reps=100,
                         reference_median_us=30.0, compile_median_us=20.0, speedup=2.4, method="cuda_events",
                         comparisons=[Comparison(baseline="eager", ratio=2.4, low=2.31, high=2.52, verdict="faster")])
    env, source_hash = _store_with(tmp_path, "correct", suite="bench", mode="device", speedup=2.4,
                                   speedup_min=2.4, speedup_max=2.4, task_definition_hash="d" * 64,
                                   result={"timings": [timing.model_dump(mode="json")]})
    out = tmp_path / "pkg"
    done = warpsmith(["export", source_hash[:12], "--out", str(out)], env)
    assert done.returncode == 0, done.stderr
    readme = (out / "README.md").read_text()
    assert "| llama3-8b H=4096 T=512 | 12.5 | 0.4 | 30.0 | 20.0 | 2.400 [2.310, 2.520] | faster |" in readme, readme
    assert "evaluator version `test`" in readme and "d" * 64 in readme and "Triton interpreter on a CPU" not in readme
    record = json.loads((out / f"warpsmith_rmsnorm_{source_hash[:8]}" / "provenance.json").read_text())
    assert record["evaluation"]["timings"][0]["comparisons"][0]["low"] == 2.31
    assert record["evaluation"]["mode"] == "device" and record["hardware"]["fingerprint"] == "f" * 16


@pytest.mark.slow
def test_round_trip_optimize_export_import_in_a_fresh_interpreter(offline_run: tuple, tmp_path: Path) -> None:
    run_dir, env = offline_run
    out = tmp_path / "pkg"
    done = warpsmith(["export", "latest", "--out", str(out)], env)
    assert done.returncode == 0, done.stderr
    package = next(p.name for p in out.iterdir() if p.name.startswith("warpsmith_rmsnorm_"))
    record = json.loads((out / package / "provenance.json").read_text())
    runs = warpsmith(["runs", "show", "latest", "--json"], env)
    run = json.loads(runs.stdout)["run"]
    assert record["run"]["id"] == run["id"] and record["candidate"]["source_hash"] == run["best_candidate_hash"]
    assert record["evaluation"]["status"] == "correct" and record["evaluation"]["evaluator_version"]
    assert record["task"]["definition_hash"] and run["id"] in (out / "README.md").read_text()
    shapes = TASK.shapes("smoke") + TASK.shapes("check")
    script = f"""
import sys, torch
import {package}
from {package}._tasklib.rmsnorm import TASK
outs = []
for shape in TASK.shapes("smoke") + TASK.shapes("check"):
    x, w, eps = TASK.make_inputs(shape, 3)
    outs.append(torch.ops.warpsmith.rmsnorm(x, w, eps))
torch.save(outs, sys.argv[1])
leaked = sorted(m for m in sys.modules if m == "warpsmith" or m.startswith("warpsmith."))
print("MODE", {package}.MODE, "LEAKED", leaked)
"""
    saved = tmp_path / "outs.pt"
    child = subprocess.run([sys.executable, "-c", script, str(saved)], capture_output=True, text=True,
                           env=_fresh_env(out), cwd=tmp_path, timeout=600)
    assert child.returncode == 0, child.stderr
    assert "MODE custom_op LEAKED []" in child.stdout, child.stdout  # warpsmith itself was never imported
    outs = torch.load(saved)
    assert len(outs) == len(shapes)
    for shape, out_tensor in zip(shapes, outs, strict=True):
        inputs = TASK.make_inputs(shape, 3)
        report = TASK.check(inputs, (out_tensor,), TASK.reference(*inputs))
        assert report.ok, (shape.label, report)


@pytest.mark.slow
def test_the_packages_own_tests_pass_opcheck_and_fullgraph_compile(offline_run: tuple, tmp_path: Path) -> None:
    _, env = offline_run
    out = tmp_path / "pkg"
    assert warpsmith(["export", "latest", "--out", str(out)], env).returncode == 0
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                           f"--basetemp={tmp_path / 'pt'}", "tests"],
                          capture_output=True, text=True, env=_fresh_env(out), cwd=out, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "skipped" not in done.stdout and "test_opcheck" not in done.stdout, done.stdout[-2000:]
    assert " passed" in done.stdout


@pytest.mark.slow
def test_module_export_registers_the_op_only_on_request(offline_run: tuple, tmp_path: Path) -> None:
    _, env = offline_run
    out = tmp_path / "mod"
    assert warpsmith(["export", "latest", "--as", "module", "--out", str(out)], env).returncode == 0
    package = next(p.name for p in out.iterdir() if p.name.startswith("warpsmith_rmsnorm_"))
    script = f"""
import torch
import {package} as m
from {package}._tasklib.rmsnorm import TASK
before = hasattr(torch.ops.warpsmith, "rmsnorm")
x, w, eps = TASK.make_inputs(TASK.shapes("smoke")[0], 0)
assert TASK.check((x, w, eps), (m.kernel(x, w, eps),), TASK.reference(x, w, eps)).ok
m.register_op()
print("BEFORE", before, "AFTER", hasattr(torch.ops.warpsmith, "rmsnorm"))
"""
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           env=_fresh_env(out), cwd=tmp_path, timeout=600)
    assert child.returncode == 0, child.stderr
    assert "BEFORE False AFTER True" in child.stdout


@pytest.mark.slow
def test_the_package_builds_as_a_wheel(offline_run: tuple, tmp_path: Path) -> None:
    _, env = offline_run
    out = tmp_path / "pkg"
    assert warpsmith(["export", "latest", "--out", str(out)], env).returncode == 0
    # with build isolation: pip fetches setuptools and wheel as any user's `pip install DIR` would
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                           "-w", str(tmp_path / "wheels"), str(out)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    wheel = next((tmp_path / "wheels").glob("warpsmith_rmsnorm_*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    package = wheel.name.split("-")[0]
    for needed in ("_kernel.py", "_op.py", "_fake.py", "provenance.json", "_tasklib/rmsnorm/__init__.py",
                   "_tasklib/base.py"):
        assert f"{package}/{needed}" in names, needed


@pytest.mark.slow
def test_without_the_interpreter_the_op_is_a_triton_op_whose_launches_go_through_wrap_triton(
    offline_run: tuple, tmp_path: Path
) -> None:
    """The GPU registration, checked on a CPU: no kernel runs (no driver), but a fake call and a
    functionalized trace do, and the trace holds the kernel's launch as torch's Triton HOP."""
    _, env = offline_run
    out = tmp_path / "pkg"
    assert warpsmith(["export", "latest", "--out", str(out)], env).returncode == 0
    package = next(p.name for p in out.iterdir() if p.name.startswith("warpsmith_rmsnorm_"))
    script = f"""
import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torch._subclasses.functional_tensor import dispatch_functionalize
from torch.fx.experimental.proxy_tensor import make_fx
import {package} as pkg
from {package}._tasklib.rmsnorm import TASK
x, w, eps = TASK.make_inputs(TASK.shapes("smoke")[0], 0)
mode = FakeTensorMode()
with mode:
    fake = torch.ops.warpsmith.rmsnorm(mode.from_tensor(x), mode.from_tensor(w), eps)
graph = make_fx(dispatch_functionalize(lambda a, b: torch.ops.warpsmith.rmsnorm(a, b, eps)), tracing_mode="fake")(x, w)
print("MODE", pkg.MODE, "FAKE", tuple(fake.shape), fake.dtype)
print(graph.code)
"""
    env = {k: v for k, v in _fresh_env(out).items() if k != "TRITON_INTERPRET"}
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=600)
    assert child.returncode == 0, child.stderr[-3000:]
    assert "MODE triton_op FAKE (4, 64) torch.bfloat16" in child.stdout, child.stdout
    assert "triton_kernel_wrapper_functional" in child.stdout and "'out_ptr'" in child.stdout, child.stdout


def test_export_and_mcp_document_their_exit_codes(tmp_path: Path) -> None:
    for command in (["export", "--help"], ["mcp", "--help"]):
        done = warpsmith(command, private_env(tmp_path))
        assert done.returncode == 0 and "Exit codes" in done.stdout, command
