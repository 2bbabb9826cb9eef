"""Native (CUDA) candidates that attack the evaluator through what they link to, built with the real nvcc.

Each attack is a real .cu source. The symbol audit of the built library (symbol_audit.py) is the
defence under test: the audit's rejection must name the exact symbol. The text checks
(static_native.py) are defence in depth and are tested on the same sources without a build.
Builds cost ~20-90 s each on 2 cores, so the attacks share as few builds as possible: one library
holds every import attack, one source shows the audit alone deciding `evaluate()`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests._build_helpers import needs_nvcc
from warpsmith.evaluator.build import BuildResult, build_extension
from warpsmith.evaluator.evaluate import evaluate
from warpsmith.evaluator.native import compute_methods
from warpsmith.evaluator.static_native import check_native_source
from warpsmith.records.evaluation import Candidate
from warpsmith.tasklib import get_task
from warpsmith.tasklib.base import BASE_ALLOWED_TORCH_OPS

# Every way past the text deny-lists that issue 15 found, in one library: a call spelled `(open)(...)`,
# hand-declared prototypes of libc functions no list names, CPython declared weak (links despite
# --no-undefined, runs Python in the child), ATen compute through operator overloads and at::matmul,
# and a libc name defined rather than imported.
IMPORT_ATTACKS = r"""
#include <ATen/ATen.h>

extern "C" int open(const char*, int, ...);
extern "C" int mkfifo(const char*, unsigned int);
extern "C" int renameat(int, const char*, int, const char*);
extern "C" __attribute__((weak)) void Py_Initialize(void);
extern "C" __attribute__((weak)) int PyRun_SimpleString(const char*);
extern "C" int unlinkat(int dirfd, const char* path, int flags) { return dirfd + flags + (path != nullptr); }

at::Tensor kernel(const at::Tensor& x) {
  int fd = (open)("/tmp/warpsmith-attack", 0);
  mkfifo("/tmp/warpsmith-fifo", 0600);
  renameat(-100, "a", -100, "b");
  if (Py_Initialize) Py_Initialize();
  if (PyRun_SimpleString) PyRun_SimpleString("import os");
  at::Tensor y = x * x + fd;
  return at::matmul(y, y);
}
"""
EXPECTED_IMPORTS = {
    "open": "native-symbol-not-allowed", "mkfifo": "native-symbol-not-allowed",
    "renameat": "native-symbol-not-allowed", "Py_Initialize": "native-symbol-not-allowed",
    "PyRun_SimpleString": "native-symbol-not-allowed", "at::_ops::mul_Tensor::call": "native-symbol-not-allowed",
    "at::_ops::add_Scalar::call": "native-symbol-not-allowed", "at::_ops::matmul::call": "native-symbol-not-allowed",
    "unlinkat": "native-symbol-shadows",
}

# Passes every text check (an operator is not a method call and names nothing), computes with ATen.
OPERATOR_COMPUTE = r"""
#include <ATen/ATen.h>

at::Tensor kernel(const at::Tensor& x, const at::Tensor& weight, double eps) {
  return x * weight;
}
"""

# 48 MiB of initialized host data: the object file outgrows a 32 MiB output limit.
HUGE_OBJECT = r"""
#include <ATen/core/Tensor.h>
char ballast[48 << 20] = {1};
at::Tensor kernel(const at::Tensor& x) { ballast[1] = ballast[0]; return x; }
"""


def _named(violations: list) -> dict[str, str]:
    """symbol -> rule, the symbol read from the message ('... imports NAME(...' / '... defines NAME, ...')."""
    return {re.search(r"(?:imports|defines) (\S+?)(?=\(|\s|: |,|$)", v.message).group(1): v.rule for v in violations}


def test_text_checks_see_the_spellings_that_used_to_pass() -> None:
    methods = compute_methods(BASE_ALLOWED_TORCH_OPS)
    messages = {v.message for v in check_native_source(IMPORT_ATTACKS, methods)}
    assert {"call of (open)()", "use of mkfifo", "use of renameat", "weak symbols and aliases are refused",
            "use of Py_Initialize: the CPython API", "use of PyRun_SimpleString: the CPython API",
            'extern "C" declarations are refused (except __global__ kernels)'} <= messages
    # An extern "C" kernel keeps working; operator overloads are beyond a text check (the audit sees them).
    assert check_native_source('extern "C" __global__ void k(float* y) { y[0] = 1.0f; }\n', methods) == []
    assert check_native_source(OPERATOR_COMPUTE, methods) == []


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("attack_builds")


@pytest.fixture(scope="module")
def import_attacks(cache: Path) -> BuildResult:
    return build_extension(IMPORT_ATTACKS, "cuda", cache_dir=cache / "builds")


@needs_nvcc
@pytest.mark.slow
def test_every_import_attack_is_named_by_the_symbol_audit(import_attacks: BuildResult) -> None:
    assert import_attacks.linked or import_attacks.object_path is not None, import_attacks.log[-2000:]
    assert not import_attacks.ok and import_attacks.library_path is None and import_attacks.op_namespace is None
    assert _named(import_attacks.violations) == EXPECTED_IMPORTS
    weak = [v.message for v in import_attacks.violations if "Py_Initialize" in v.message]
    assert weak == ["the built library imports Py_Initialize (weak): the CPython API"]
    assert import_attacks.log.startswith("rejected by the symbol audit: the built library imports ")


@needs_nvcc
@pytest.mark.slow
def test_the_audit_alone_makes_evaluate_reject(import_attacks: BuildResult, cache: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """static_checks=False: the text layer is off, the build's audit decides (and reads the cache)."""
    monkeypatch.setenv("WARPSMITH_CACHE", str(cache))
    result = evaluate(Candidate(task="rmsnorm", language="cuda", source=IMPORT_ATTACKS), get_task("rmsnorm"),
                      device="cpu", static_checks=False)
    assert result.status == "rejected"
    assert _named(result.violations) == EXPECTED_IMPORTS
    assert result.message.startswith("symbol audit: the built library imports ")


@needs_nvcc
@pytest.mark.slow
def test_operator_overload_compute_passes_the_text_checks_and_is_rejected_by_the_audit(
        import_attacks: BuildResult, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARPSMITH_CACHE", str(cache))
    monkeypatch.setenv("WARPSMITH_BUILD_CACHE_MB", "0")  # this build evicts every older entry
    result = evaluate(Candidate(task="rmsnorm", language="cuda", source=OPERATOR_COMPUTE), get_task("rmsnorm"),
                      device="cpu")
    assert result.status == "rejected", result.message
    assert [(v.rule, v.message) for v in result.violations] == [(
        "native-symbol-not-allowed",
        "the built library imports at::_ops::mul_Tensor::call(at::Tensor const&, at::Tensor const&) "
        "[_ZN2at4_ops10mul_Tensor4callERKNS_6TensorES4_]: an ATen operator (compute)")]
    # The quota: the import-attack library built before is gone, this one stays.
    entries = [p.name for p in (cache / "builds").iterdir() if not p.name.startswith(".")]
    assert entries == [result_key(cache)]


def result_key(cache: Path) -> str:
    built = build_extension(OPERATOR_COMPUTE, "cuda", cache_dir=cache / "builds")
    assert built.cached
    return built.key


@needs_nvcc
@pytest.mark.slow
def test_a_compile_past_the_output_limit_is_a_compile_error_with_one_clear_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARPSMITH_BUILD_OUTPUT_MB", "32")
    result = build_extension(HUGE_OBJECT, "cuda", cache_dir=tmp_path)
    assert not result.ok and not result.timed_out and not result.violations
    assert result.log.splitlines()[0] == "the compiler exceeded its 32 MiB output limit"
    assert not (tmp_path / result.key).exists(), "a limit hit is not cached"
    assert not list(tmp_path.rglob("core*")), "no core dump from the killed compiler"


@needs_nvcc
@pytest.mark.slow
def test_a_compile_past_the_memory_limit_is_a_compile_error_with_one_clear_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any torch-including compile needs more than 300 MiB of address space: it stops within seconds."""
    monkeypatch.setenv("WARPSMITH_BUILD_MEMORY_MB", "300")
    result = evaluate(Candidate(task="rmsnorm", language="cuda", source=OPERATOR_COMPUTE + "// memory\n"),
                      get_task("rmsnorm"), device="cpu")
    assert result.status == "compile_error"
    assert result.compile_log.splitlines()[0] == "the compiler exceeded its 300 MiB memory limit"
