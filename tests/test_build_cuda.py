"""build_extension on CUDA candidates with the real nvcc: build, cache, errors, loading."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests._build_helpers import SYNTAX_ERROR_KERNEL, VALID_KERNEL, needs_nvcc
from warpsmith.evaluator.build import BuildResult, build_extension

pytestmark = [needs_nvcc, pytest.mark.slow]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("build_cache")


@pytest.fixture(scope="module")
def built(cache_dir: Path) -> BuildResult:
    """The suite's one successful CUDA compile; other tests reuse it through the cache."""
    return build_extension(VALID_KERNEL, "cuda", cache_dir=cache_dir)


def test_valid_candidate_builds_for_sm90a_with_a_resource_report(built: BuildResult) -> None:
    assert built.ok, built.log
    assert built.arch == "sm_90a"
    assert not built.cached
    assert built.object_path is not None and built.object_path.stat().st_size > 0
    kernels = {r.kernel: r for r in built.resources}
    assert list(kernels) == ["_Z11scale_shiftPKfPfS1_llf"]
    report = kernels["_Z11scale_shiftPKfPfS1_llf"]
    assert report.registers is not None and 4 <= report.registers <= 64
    assert report.spill_stores_bytes == 0 and report.shared_bytes == 0


def test_second_build_of_the_same_source_is_a_cache_hit(built: BuildResult, cache_dir: Path) -> None:
    again = build_extension(VALID_KERNEL, "cuda", cache_dir=cache_dir)
    assert again.cached and again.seconds < 2.0
    assert again.library_path == built.library_path and again.key == built.key
    assert again.resources == built.resources
    # A different source is a different key: no false hit.
    other = build_extension(VALID_KERNEL + "\n// changed\n", "cuda", cache_dir=cache_dir, timeout_s=0.5)
    assert not other.cached and other.key != built.key


def test_library_loads_and_registers_kernel_with_scalars_and_tuple(built: BuildResult) -> None:
    if not built.linked:
        pytest.skip(f"not linkable with this torch: {built.log[-300:]}")
    probe = (
        "import json, sys, torch\n"
        "torch.ops.load_library(sys.argv[1])\n"
        "op = getattr(torch.ops, sys.argv[2]).kernel\n"
        "print(json.dumps(str(op.default._schema)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(built.library_path), str(built.op_namespace)],
                          capture_output=True, text=True, timeout=120, check=True)
    schema = json.loads(done.stdout.strip().splitlines()[-1])
    assert schema.startswith(f"{built.op_namespace}::kernel(Tensor _0, int _1, float _2) -> (Tensor _0, Tensor _1)")


def test_syntax_error_is_reported_with_the_compilers_line_and_cached_once(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:  # two builders of one source at once
        futures = [pool.submit(build_extension, SYNTAX_ERROR_KERNEL, "cuda", jobs=2, cache_dir=tmp_path)
                   for _ in range(2)]
        results = [f.result() for f in futures]
    first, second = results
    assert not first.ok and not first.refused and not first.timed_out
    assert first.library_path is None
    # nvcc names the candidate's file and line; the first error leads the log.
    assert first.log.splitlines()[0].startswith("candidate.cu(3): error")
    # Two concurrent builds of one source: one compiled, the other waited and read the cache.
    assert sorted([first.cached, second.cached]) == [False, True]
    assert first.log == second.log
    entries = [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert entries == [first.key]
    assert not list(tmp_path.glob(".build-*")), "no half-built folder is left behind"


def test_timeout_kills_the_compiler_and_is_not_cached(tmp_path: Path) -> None:
    result = build_extension(VALID_KERNEL + "// timeout probe\n", "cuda", cache_dir=tmp_path, timeout_s=1)
    assert not result.ok and result.timed_out
    assert not (tmp_path / result.key).exists()
    assert result.seconds < 15


WGMMA_PROBE = r"""
__global__ void uses_wgmma() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
"""


def test_evaluator_builds_for_the_h100s_arch_specific_target(tmp_path: Path) -> None:
    """On an H100 (Hardware.arch 'sm_90') the evaluator must build for sm_90a: wgmma / TMA exist
    only there, and the agents' own build_extension(arch=None) on that machine picks sm_90a too,
    so both share one cache entry."""
    from warpsmith.evaluator.build_toolchain import DEFAULT_ARCH, arch_specific, compile_command
    from warpsmith.evaluator.native import target_arch
    from warpsmith.records.evaluation import Hardware

    h100 = Hardware(device_name="NVIDIA H100 80GB HBM3", backend="cuda", arch="sm_90")
    arch = target_arch("cuda", h100)
    assert arch == arch_specific("sm_90") == DEFAULT_ARCH["cuda"] == "sm_90a"
    assert target_arch("cuda", h100.model_copy(update={"arch": "sm_100"})) == "sm_100a"
    assert target_arch("cuda", h100.model_copy(update={"arch": "sm_80"})) == "sm_80"
    assert target_arch("cuda", None) is None  # build_extension's own choice
    source = tmp_path / "probe.cu"
    source.write_text(WGMMA_PROBE)
    command = compile_command("cuda", arch, source, tmp_path / "probe.o", tmp_path / "shim")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
