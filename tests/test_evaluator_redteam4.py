"""Red team, round 4: the C++ text checks (static_native.py over static_cpp_lexer.py) against
spellings the compiler accepts and the checks did not see: digraphs (`%:` is `#`, `%:%:` is `##`)
and asm labels (`int f(const char*) __asm__("system");` renames a declaration to any libc
symbol). Each source below compiles with g++ -std=c++17 and links the forbidden symbol; the symbol
audit of the built library is the second layer, these are the first."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests._kernelbench_helpers import problem, run_source
from warpsmith.evaluator.build_jail import jailed_command
from warpsmith.evaluator.build_limits import BuildLimits, limited_command
from warpsmith.evaluator.hardware import detect_hardware
from warpsmith.evaluator.native import compute_methods
from warpsmith.evaluator.reference_timing import reference_timings
from warpsmith.evaluator.static_native import check_native_source
from warpsmith.evaluator.static_python import check_python_source
from warpsmith.tasklib import get_task
from warpsmith.tasklib.base import BASE_ALLOWED_TORCH_OPS

SKELETON = "#include <ATen/ATen.h>\n\nat::Tensor kernel(const at::Tensor& x) {\n{body}\n  return x;\n}\n"

NATIVE_BYPASSES = {
    # `%:%:` is the ## digraph: token pasting assembles `system` from two harmless identifiers
    "digraph_token_paste": ("#define CAT(a, b) a%:%:b\n" + SKELETON.replace("{body}", '  CAT(sys, tem)("id");'),
                            "token-pasting"),
    # `%:include` is #include: a forbidden header
    "digraph_include": ("%:include <unistd.h>\n" + SKELETON.replace("{body}", "  getpid();"), "forbidden-include"),
    # `%:   include` with spaces, and the `#include MACRO` form behind a digraph
    "digraph_include_macro": ("#define H <dlfcn.h>\n%:  include H\n" + SKELETON.replace("{body}", ""),
                              "forbidden-include"),
    # an asm label binds an innocent name to libc's system
    "asm_label_system": ('int run_cmd(const char*) __asm__("system");\n'
                         + SKELETON.replace("{body}", '  run_cmd("id");'), "forbidden-call"),
    # ... or to any symbol no deny-list names, or a variable to environ
    "asm_label_other": ('extern char** env_table asm("envi" "ron");\nint peek(int) asm("getpid");\n'
                        + SKELETON.replace("{body}", "  peek(env_table != 0);"), "forbidden-call"),
}


@pytest.mark.parametrize("name", sorted(NATIVE_BYPASSES))
def test_native_text_bypass_is_refused(name: str) -> None:
    source, rule = NATIVE_BYPASSES[name]
    methods = compute_methods(BASE_ALLOWED_TORCH_OPS)
    assert check_native_source(SKELETON.replace("{body}", ""), methods) == []
    assert rule in {v.rule for v in check_native_source(source, methods)}


def test_inline_asm_and_percent_operators_stay_allowed() -> None:
    """The fixes refuse asm labels, not asm statements, and `%:` only as a digraph."""
    body = ('  int a = 7, b = 3; int c = a % b; int d = a%b; (void)c; (void)d;\n'
            '  asm volatile("" ::: "memory");\n  __asm__ __volatile__("nop");\n'
            '  const char* s = "%:include <unistd.h>"; (void)s;')
    assert check_native_source(SKELETON.replace("{body}", body), compute_methods(BASE_ALLOWED_TORCH_OPS)) == []


# ---- trusted processes started with `python -m` put their working directory first on sys.path ----

HIJACK = "import pathlib\npathlib.Path({marker!r}).write_text('imported from the working directory')\n"


def _plant(folder: Path) -> Path:
    """A working directory whose `json.py` and `warpsmith/` would run if Python imported from it."""
    marker = folder / "HIJACKED"
    (folder / "json.py").write_text(HIJACK.format(marker=str(marker)) + "raise ImportError('hijacked')\n")
    (folder / "warpsmith").mkdir()
    (folder / "warpsmith" / "__init__.py").write_text(HIJACK.format(marker=str(marker)))
    return marker


def test_reference_timing_process_never_imports_from_its_working_directory(tmp_path: Path, monkeypatch) -> None:
    """The trusted reference process inherits the parent's cwd (a pool worker's is /tmp, writable by
    anyone): with `python -m` that folder came first on sys.path, ahead of the stdlib and warpsmith."""
    monkeypatch.setenv("WARPSMITH_CACHE", str(tmp_path / "cache"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    marker = _plant(cwd)
    monkeypatch.chdir(cwd)
    task = get_task("rmsnorm")
    shape = task.shapes("smoke")[0]
    found = reference_timings(task, [shape], "cpu", detect_hardware("cpu"))
    assert not marker.exists()
    assert found[shape.label]["wall_clock"]["eager"]


def test_build_wrappers_never_import_from_the_build_folder(tmp_path: Path) -> None:
    """The compiler's wrappers (rlimits, then the Landlock jail) run with cwd = the build folder,
    which the jailed compiler may write: they must not import from it."""
    marker = _plant(tmp_path)
    command = limited_command(jailed_command(["true"], read=[], write=[tmp_path]), BuildLimits())
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert not marker.exists(), done.stderr[-500:]


# ---- KernelBench module form: a torch.nn layer called through an alias ----

ADVERSARIAL = Path(__file__).parent / "adversarial"


@pytest.mark.parametrize("name", ["rt4_alias_submodule", "rt4_list_submodule"])
def test_a_layer_called_through_an_alias_is_refused_statically_and_at_run_time(name: str) -> None:
    """`lin = self.linear; lin(x)` or `self.layers = [self.linear]; self.layers[0](x)`: torch's
    Linear computes the GEMM while a decoy Triton ReLU is launched. The static rule once saw only
    `self.linear(...)`; the op guard refuses aten.addmm either way."""
    source = (ADVERSARIAL / f"{name}.py").read_text()
    task = problem(3)
    found = check_python_source(source, task.allowed_torch_ops, module_class=task.module_class,
                                nn_classes=task.module_nn_classes, require_launch=task.require_launch)
    assert [v.rule for v in found] == ["torch-module-call"]
    result = run_source(3, source, static_checks=False)
    assert result.status == "rejected" and "aten.addmm" in result.message, result.message


def test_torch_called_from_inside_the_triton_interpreter_is_not_correct() -> None:
    """Run-time layer alone (static checks off): a ModelNew passed to a launch, with a `data_ptr`
    method and `untyped_storage` bound to `torch.sigmoid(x, out=s)`, made Triton's interpreter call
    torch from its own frame, which the op guard trusts: the swish came out `correct`. Such an
    argument is now refused before the interpreter touches it."""
    source = (ADVERSARIAL / "rt4_triton_calls_torch.py").read_text()
    result = run_source(1, source, static_checks=False)
    assert result.status != "correct"
    assert "ForeignLaunchArgument" in result.message, result.message


def test_a_torch_op_as_a_pre_run_hook_is_not_correct() -> None:
    """Run-time layer alone: `_noop.add_pre_run_hook(torch.Tensor.sigmoid_)` had the interpreter apply
    sigmoid_ to the launch's argument from Triton's frame: `correct`. A launch with hooks is refused.
    (GPU mode: JITFunction.run calls the hooks too; there the static rule `jit-function-attribute`
    is the layer that refuses them.)"""
    source = (ADVERSARIAL / "rt4_pre_run_hook.py").read_text()
    result = run_source(1, source, static_checks=False)
    assert result.status != "correct"
    assert "pre-run hooks" in result.message, result.message


def test_a_c_callable_grid_is_not_correct() -> None:
    """Run-time layer alone: a grid `functools.partial(max, s, key=torch.Tensor.sigmoid_)` had Triton
    apply sigmoid_ while computing the grid, from its own frame: `correct`. Under the interpreter a
    grid that is callable but not a Python function is refused. (GPU mode: JITFunction.run calls the
    grid too; there the static rules, functools and torch names, are the layer that refuses it.)"""
    source = (ADVERSARIAL / "rt4_grid_c_callable.py").read_text()
    result = run_source(1, source, static_checks=False)
    # the candidate catches the TypeError its trick relies on, so the refusal shows as sigmoid never applied
    assert result.status == "incorrect", result.message
