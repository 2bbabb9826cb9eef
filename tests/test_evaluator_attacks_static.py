"""Attacks on "the static checks see exactly what runs" (issue 15), one per rule, each asserting the rule
that stops it; plus the interpreter's raw memory access, which only the in-child bounds guard stops.

Small static attacks are snippets inside an honest skeleton (check_python_source); attacks whose
run-time effect matters go through the real evaluate() on the rmsnorm smoke suite (interpreter, CPU),
some with the static layer off to show the attack is real and what the child does on its own.
"""

from __future__ import annotations

import inspect
import linecache

import numpy as np
import pytest

from tests._evaluator_helpers import rules, run_file, run_source, source_of
from warpsmith.evaluator import interpreter_bounds
from warpsmith.evaluator.child import _import_triton_candidate
from warpsmith.evaluator.static_python import check_python_source
from warpsmith.evaluator.static_python_source import source_lines
from warpsmith.tasklib import get_task, list_tasks

RMSNORM_OPS = get_task("rmsnorm").allowed_torch_ops

SKELETON = '''import math

import torch
import triton
import triton.language as tl


@triton.jit
def _k(x_ptr, out_ptr):
    tl.store(out_ptr, tl.load(x_ptr))
{prelude}

def kernel(x, weight, eps):
    out = torch.empty_like(x)
    _k[(1,)](x, out)
{body}
    return out
'''


def _py(body: str = "pass", prelude: str = "") -> str:
    return SKELETON.format(body="\n".join("    " + line for line in body.strip().splitlines()), prelude=prelude)


def _rules(source: str) -> set[str]:
    return {v.rule for v in check_python_source(source, RMSNORM_OPS)}


# (snippet inside kernel(), the rule that must stop it)
BODY_ATTACKS = {
    # free names: after a first launch the interpreter copies np, inspect, math... into the module
    "interpreter_global_np": ("np.frombuffer(x.untyped_storage(), dtype=np.uint8)", "unbound-name"),
    "interpreter_global_inspect": ("inspect.currentframe()", "unbound-name"),
    "builtin_repr": ("repr(_k)", "unbound-name"),
    # addresses
    "id_address": ("addr = id(_k)", "forbidden-builtin"),
    "hash_address": ("addr = hash(_k)", "forbidden-builtin"),
    # fail-open chains
    "tl_extra_modules_dict": ("tl.extra.modules['os'].system('id')", "disallowed-object"),
    "submodule_never_imported": ("tl.extra.libdevice.rsqrt", "unresolved-attribute"),
    "missing_attribute": ("tl.core.no_such_thing.open('/etc/passwd')", "unresolved-attribute"),
    "class_from_another_package": ("tl.core.dataclass", "disallowed-object"),
    "function_from_importlib": ("tl.extra.module_from_spec", "disallowed-object"),
    "module_spec_instance": ("tl.extra.spec.loader", "unresolved-attribute"),
    # jit function objects: only launched or called
    "tl_jit_capture_scope": ("tl.sum.get_capture_scope()", "forbidden-attribute"),
    "tl_jit_chain": ("tl.sum.cache", "jit-function-attribute"),
    "user_jit_fn_through_list": ("[_k][0].fn", "forbidden-attribute"),
    "used_global_vals": ("_j = [_k][0]\n_j.used_global_vals", "forbidden-attribute"),
    "jit_applied_as_call": ("f = triton.jit(lambda: 0)", "jit-decorator-only"),
    "jit_by_alias": ("j = triton.jit", "jit-decorator-only"),
    # statements
    "match_class_pattern": ("match x:\n    case torch.Tensor(data=d):\n        pass", "match-statement"),
    "alias_rebound": ("tl = x", "alias-rebound"),
    "jit_src_monkeypatch": ("[_k][0].src = 'def _k(x_ptr, out_ptr):\\n    pass\\n'", "attribute-assignment"),
    "interpreter_builder_global": ("interpreter_builder.create_load", "unbound-name"),
    "device_function_on_host": ("v = tl.load(x)", "triton-language-on-host"),
    "device_function_as_value": ("f = tl.core.load", "triton-language-on-host"),
}

# (text around an honest skeleton, the rule): whole-module forms
MODULE_ATTACKS = {
    "latin1_cookie": ("# -*- coding: latin-1 -*-\n" + _py(), "coding-cookie"),
    "cookie_second_line": ("#!/usr/bin/env python\n# vim: set fileencoding=utf-16 :\n" + _py(), "coding-cookie"),
    "nul_character": (_py("s = 'a\x00b'"), "invalid-source-text"),
    "lone_surrogate": (_py("s = '\ud800'"), "invalid-source-text"),
    "lone_carriage_return": (_py() + "a = 1\rb = 2\n", "invalid-source-text"),
    "byte_order_mark": ("\ufeff" + _py(), "invalid-source-text"),
    "future_import": ("from __future__ import annotations\n" + _py(), "forbidden-import"),
    "from_import_modules_dict": ("from triton.language.extra import modules\n" + _py(), "disallowed-object"),
    "import_unloaded_submodule": ("import triton.language.extra.libdevice\n" + _py(), "forbidden-import"),
    "custom_decorator": (_py(prelude="\n\ndef deco(f):\n    return f\n\n\n@deco\ndef helper():\n    return 0\n"),
                         "decorator"),
    "global_statement": (_py(prelude="\n\ndef helper():\n    global torch\n    return 0\n"), "global-statement"),
    "string_annotation": (_py(prelude="\n\n@triton.jit\ndef _j(x_ptr: 'tl.core.builtins'):\n    pass\n"),
                          "string-annotation"),
    "deep_expression": (_py("y = 1" + " + 1" * 3000), "source-too-deep"),
    "jit_raw_numpy_handle": (_py(prelude="\n\n@triton.jit\ndef _j(x_ptr):\n    a = x_ptr.handle\n"),
                             "jit-attribute"),
    "def_line_in_nested_string": (_py(prelude='\n\n@triton.jit\ndef _j(x_ptr):\n    """\ndef _j(x_ptr):\n'
                                               '    pass\n    """\n'), "interpreter-source-mismatch"),
}


def test_the_skeleton_alone_is_clean() -> None:
    assert _rules(_py()) == set()


@pytest.mark.parametrize("name", sorted(BODY_ATTACKS))
def test_body_attack_is_refused_statically(name: str) -> None:
    body, rule = BODY_ATTACKS[name]
    assert rule in _rules(_py(body))


@pytest.mark.parametrize("name", sorted(MODULE_ATTACKS))
def test_module_attack_is_refused_statically(name: str) -> None:
    source, rule = MODULE_ATTACKS[name]
    assert rule in _rules(source)


def test_utf8_cookie_and_allowed_chains_stay_clean() -> None:
    assert _rules("# -*- coding: utf-8 -*-\n" + _py()) == set()
    jit = "\n\n@triton.jit\ndef _j(x_ptr):\n    tl.store(x_ptr, tl.extra.cuda.libdevice.rsqrt(tl.load(x_ptr)))\n"
    assert _rules(_py("z = math.pi\nd = torch.float32\nb = tl.constexpr(4)\nf = tl.float32", prelude=jit)) == set()


def test_every_triton_seed_passes_the_new_rules() -> None:
    for task in list_tasks():
        seed = task.seeds().get("triton")
        if seed is not None:
            assert check_python_source(seed.read_text(), task.allowed_torch_ops) == [], task.name


# --- whole evaluations -----------------------------------------------------------------------------
def test_def_inside_a_jit_string_is_what_the_interpreter_runs_and_is_refused() -> None:
    result = run_file("static_def_in_jit_string.py")
    assert result.status == "rejected" and result.mode == "none", result.message
    assert rules(result) == {"interpreter-source-mismatch"}
    unchecked = run_file("static_def_in_jit_string.py", static_checks=False)
    assert unchecked.status == "incorrect", unchecked.message  # the hidden body (zeros) is what ran


def test_coding_cookie_is_refused_and_the_child_runs_the_checked_text() -> None:
    source = source_of("static_coding_cookie_utf7.py")
    assert "\n    out = out * 0.0\n" in source.encode().decode("utf-7")  # what importing the file would run
    result = run_file("static_coding_cookie_utf7.py")
    assert result.status == "rejected" and rules(result) == {"coding-cookie"}, result.message
    unchecked = run_file("static_coding_cookie_utf7.py", static_checks=False)
    assert unchecked.status == "correct", unchecked.message  # the str was compiled, not the decoded bytes


@pytest.mark.parametrize("name", ["raw_memory_read.py", "raw_memory_write.py", "raw_memory_int_pointer.py"])
def test_interpreter_loads_and_stores_outside_the_launch_tensors_are_refused(name: str) -> None:
    result = run_file(name)
    assert result.status == "runtime_error", (result.status, result.message)
    assert "OutOfBoundsAccess" in result.message and not result.timings


def test_honest_kernel_stays_correct_under_the_bounds_guard() -> None:
    result = run_source(source_of("honest_rmsnorm.py"))
    assert result.status == "correct", result.message


# --- the pieces on their own ----------------------------------------------------------------------
def test_bounds_check_is_exact_at_the_edges() -> None:
    base = 1 << 40
    interpreter_bounds._active = (np.array([base], dtype=np.uint64), np.array([base + 64], dtype=np.uint64))
    try:
        interpreter_bounds.check(np.array([base, base + 60], dtype=np.uint64), None, 4, "load")
        for bad in (base - 4, base + 61, base + 64, 2**64 - 2):
            with pytest.raises(interpreter_bounds.OutOfBoundsAccess):
                interpreter_bounds.check(np.array([bad], dtype=np.uint64), None, 4, "load")
        masked = np.array([base, base - 4096], dtype=np.uint64)
        interpreter_bounds.check(masked, np.array([True, False]), 4, "load")  # masked-off lanes are not accessed
    finally:
        interpreter_bounds._active = None
    with pytest.raises(interpreter_bounds.OutOfBoundsAccess, match="outside a kernel launch"):
        interpreter_bounds.check(np.array([base], dtype=np.uint64), None, 4, "store")


def test_ranges_merge_overlapping_views() -> None:
    import torch

    x = torch.zeros(16)
    starts, ends = interpreter_bounds.ranges_of([x[4:], (x[:2], 3), torch.zeros(0)])
    assert list(starts) == [x.data_ptr()] and list(ends) == [x.data_ptr() + 64]


def test_child_runs_the_text_and_linecache_keeps_it_after_the_file_changes(tmp_path) -> None:
    path = tmp_path / "candidate.py"
    text = source_of("honest_rmsnorm.py")
    path.write_text(text)
    kernel = _import_triton_candidate(path)
    path.write_text("def kernel():\n    return 'replaced'\n")
    assert linecache.getlines(str(path)) == source_lines(text)
    assert inspect.getsource(kernel).startswith("def kernel(x, weight, eps):")


def test_a_source_too_deep_to_walk_gets_a_verdict_not_an_exception() -> None:
    result = run_source(_py("y = 1" + " + 1" * 3000))  # RecursionError in the parent's AST walk, once
    assert result.status == "rejected" and rules(result) == {"source-too-deep"}, result.message
