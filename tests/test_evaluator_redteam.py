"""Red-team tests: attacks the evaluator's first adversarial suite did not try.

Each test attacks one promise of the trusted parent: a kernel is only "correct" when the
evaluator computed that itself, with the candidate confined to Triton kernels plus the task's
allowed torch ops. Every hole the first red-team pass found is closed; each now asserts the rule that closes it.
A new hole goes in as `xfail(strict=True)` with a reason starting "HOLE:" (`_hole`), so the fix
shows up as an XPASS that fails the suite until the marker is dropped. Candidates live in tests/adversarial/redteam_*.py
(rmsnorm smoke shape under the Triton interpreter); small static attacks are inline snippets.
"""

from __future__ import annotations

import pytest

from tests._evaluator_helpers import rules, run_file
from warpsmith.evaluator.native import compute_methods
from warpsmith.evaluator.static_native import check_native_source
from warpsmith.evaluator.static_python import check_python_source
from warpsmith.tasklib import get_task

RMSNORM_OPS = get_task("rmsnorm").allowed_torch_ops

# An honest kernel around each snippet, so the only thing the static check can object to is the snippet.
PY_SKELETON = '''
import math

import torch
import triton
import triton.language as tl


@triton.jit
def _k(x_ptr, out_ptr):
    tl.store(out_ptr, tl.load(x_ptr))


def kernel(x, weight, eps):
    out = torch.empty_like(x)
    _k[(1,)](x, out)
{body}
    return out
'''


def _py(body: str) -> str:
    return PY_SKELETON.format(body="\n".join("    " + line for line in body.strip().splitlines()))


def _hole(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=f"HOLE: {reason}")


# (snippet inside kernel(), a rule the static check must name)
PY_STATIC = {
    "typing_sys": ("import typing\ntyping.sys.modules['os'].getpid()", "forbidden-import"),
    "tl_core_builtins": ("tl.core.builtins.open('/etc/passwd')", "forbidden-module-attribute"),
    "generator_frame": ("g = (v for v in ())\ng.gi_frame.f_builtins['open']", "introspection-attribute"),
    "tensor_class_method": ("torch.Tensor.tolist(x)", "torch-op-not-allowed"),
    "torch_ops_aten": ("torch.ops.aten.sort(x)", "torch-op-not-allowed"),
    "torch_module_alias": ("t = torch\nt.sort(x)", "module-as-value"),
    "type_alias_three_args": ("make = type\nmake('S', (torch.Tensor,), {})", "forbidden-builtin"),
    "private_C": ("torch._C._VariableFunctions.sort(x)", "private-attribute"),
    "dunder_matmul": ("x.__matmul__(x)", "private-attribute"),
    "numpy_method": ("x.numpy()", "torch-op-not-allowed"),
    "new_tensor": ("x.new_tensor([1.0])", "torch-op-not-allowed"),
}

# Holes found by the red-team pass, closed since (the rule that closes each is named).
PY_STATIC.update({
    "module_by_assignment": ("core = tl.core\ncore.builtins.open('/etc/passwd')", "module-as-value"),
    "module_by_call_result": ("(lambda: tl)().core.builtins.open('/etc/passwd')", "module-as-value"),
    "module_in_container": ("[tl][0].core.builtins.open('/etc/passwd')", "module-as-value"),
    "jit_capture_scope": ("_k.get_capture_scope()['__builtins__']", "jit-function-attribute"),
    "format_string_traversal": ("'{0.gi_frame.f_back.f_locals}'.format((v for v in ()))", "string-format"),
})


@pytest.mark.parametrize("name", sorted(PY_STATIC))
def test_python_escape_is_refused_statically(name: str) -> None:
    body, rule = PY_STATIC[name]
    assert check_python_source(_py("pass"), RMSNORM_OPS) == []  # the skeleton alone is clean
    assert rule in {v.rule for v in check_python_source(_py(body), RMSNORM_OPS)}


# --- native sources: text rules only (no build needed to see them pass or fail) -------------------
NATIVE_HEAD = "#include <torch/extension.h>\n"
NATIVE_BODY = "torch::Tensor kernel(torch::Tensor x, torch::Tensor weight, double eps) {{ {0} return x; }}\n"


def _cu(body: str, prelude: str = "") -> str:
    return NATIVE_HEAD + prelude + NATIVE_BODY.format(body)


NATIVE_DEFENDED = {
    "std_qualified_system": (_cu('std::system("id");'), "forbidden-call"),
    "method_sort": (_cu("auto y = std::get<0>(x.sort());"), "torch-op-not-allowed"),
    "at_ops_namespace": (_cu("auto y = at::_ops::sort::call(x, false, -1, false);"), "torch-op-not-allowed"),
    "u8_raw_string_then_call": (_cu('const char* s = u8R"(a)"; system("id");'), "forbidden-call"),
    "escaped_quote_char": (_cu("char c = '\\''; system(\"id\");"), "forbidden-call"),
}

# Holes found by the red-team pass, closed since.
NATIVE_CLOSED = {
    "digit_separator_hides_call": (
        _cu("int a = 1'000; system(\"id\"); int b = 2'000;"), "forbidden-call",
        "static_native._literal_end: C++14 digit separators (1'000) are read as a char literal that "
        "swallows everything up to the next apostrophe; skip ' between digits"),
    "line_continuation_splits_name": (
        _cu('sys\\\ntem("id");'), "forbidden-call",
        "static_native: backslash-newline is not spliced before the rules run (translation phase 2)"),
    "macro_alias_without_paste": (
        _cu('RUN("id");', "#define RUN system\n"), "forbidden-call",
        "static_native: `#define RUN system` then RUN(...): refuse forbidden names anywhere in code, "
        "not only before '('"),
    "function_pointer": (
        _cu('auto f = &system; f("id");'), "forbidden-call",
        "static_native: a forbidden name taken by address; match the bare identifier"),
    "using_namespace_at": (
        _cu("auto y = std::get<0>(sort(x));", "using namespace at;\n"), "torch-op-not-allowed",
        "static_native: `using namespace at/torch` makes every op callable unqualified, and ops a "
        "native kernel calls are invisible to the aten recorder; refuse using-directives of at/torch/c10"),
    "namespace_alias": (
        _cu("auto y = std::get<0>(A::sort(x));", "namespace A = at;\n"), "torch-op-not-allowed",
        "static_native: `namespace A = at;` aliases escape the at::/torch:: regex"),
    "include_through_macro": (
        _cu("", '#define SECRET "/etc/shadow"\n#include SECRET\n'), "forbidden-include",
        "static_native.INCLUDE: a macro-expanded #include is not checked; refuse #include not followed "
        "by <...> or \"...\""),
    "asm_split_string": (
        _cu('long r; asm volatile("sys" "call" : "=a"(r) : "a"(39));'), "forbidden-call",
        "static_native: adjacent string literals concatenate inside asm; refuse host asm outright"),
    "asm_raw_bytes": (
        _cu('long r; asm volatile(".byte 0x0f, 0x05" : "=a"(r) : "a"(39));'), "forbidden-call",
        "static_native: `.byte 0x0f,0x05` is a syscall; refuse host asm outright"),
    "posix_spawn": (
        _cu('pid_t p; posix_spawn(&p, "/bin/sh", 0, 0, 0, 0);', "#include <spawn.h>\n"), "forbidden-call",
        "static_native.FORBIDDEN_CALLS is a deny-list: posix_spawn, dup2, send, ioctl, prctl, "
        "process_vm_readv, std::filesystem, extern environ... are all missing"),
}


@pytest.mark.parametrize("name", sorted(NATIVE_DEFENDED))
def test_native_evasion_is_refused_statically(name: str) -> None:
    source, rule = NATIVE_DEFENDED[name]
    methods = compute_methods(RMSNORM_OPS)
    assert check_native_source(_cu(""), methods) == []  # the skeleton alone is clean
    assert rule in {v.rule for v in check_native_source(source, methods)}


@pytest.mark.parametrize("name", sorted(NATIVE_CLOSED))
def test_native_evasion_found_by_red_team_is_refused(name: str) -> None:
    source, rule, _why = NATIVE_CLOSED[name]
    assert rule in {v.rule for v in check_native_source(source, compute_methods(RMSNORM_OPS))}


# --- whole evaluations in the sandbox -------------------------------------------------------------
REFUSED_BEFORE_RUNNING = {
    "redteam_typing_escape.py": "forbidden-import",
    "redteam_module_indirection.py": "module-as-value",
    "redteam_frame_escape.py": "introspection-attribute",
    "redteam_tolist_python.py": "torch-op-not-allowed",
    "redteam_jit_body_tolist.py": "jit-global",
    "redteam_jit_body_torch.py": "jit-global",
    "redteam_type_alias_subclass.py": "forbidden-builtin",
}


@pytest.mark.parametrize("name", sorted(REFUSED_BEFORE_RUNNING))
def test_redteam_candidate_is_rejected_statically(name: str) -> None:
    result = run_file(name)
    assert result.status == "rejected", result.message
    assert result.mode == "none" and not result.correctness
    assert REFUSED_BEFORE_RUNNING[name] in rules(result), rules(result)


@pytest.mark.slow
def test_module_indirection_escape_is_caught_at_run_time_too() -> None:
    # `core = tl.core; core.builtins` once reached builtins; with the static layer off, the harness
    # notices its replaced functions (the static layer refuses the module used as a value).
    result = run_file("redteam_module_indirection.py", static_checks=False)
    assert result.status == "rejected", (result.status, result.message, [t.median_us for t in result.timings])
    assert "harness-tampering" in rules(result)


@pytest.mark.slow
def test_timed_calls_are_guarded_like_checked_calls() -> None:
    result = run_file("redteam_timing_phase.py")
    assert result.status == "rejected", result.message
    assert "torch-op-not-allowed" in rules(result)


# The run-time layer on its own (static checks off), as tests/test_evaluator_layers.py does.
RUNTIME_DEFENDED = {
    "redteam_jit_body_torch.py": "torch-op-not-allowed",  # a jit body's frame is the candidate's
    "redteam_type_alias_subclass.py": "output-not-plain-tensor",
}
# Holes of the run-time layer found by the red-team pass, closed since: Tensor.tolist is refused by
# the torch-function guard, refused ops raise (clearing the record afterwards is too late), and
# every harness function is checked for replacement.
RUNTIME_DEFENDED.update({
    "redteam_tolist_python.py": "torch-op-not-allowed",
    "redteam_frame_escape.py": "torch-op-not-allowed",
    "redteam_typing_escape.py": "harness-tampering",
})


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUNTIME_DEFENDED))
def test_runtime_layer_alone_rejects(name: str) -> None:
    result = run_file(name, static_checks=False)
    assert result.status == "rejected", result.message
    assert RUNTIME_DEFENDED[name] in rules(result), rules(result)
