"""Static checks: every adversarial source the AST or text rules must refuse, refused before anything
runs, with the rule named; and no false alarm on the shipped seeds or on names inside comments."""

from __future__ import annotations

import pytest

from tests._evaluator_helpers import rules, run_file, run_source, source_of
from warpsmith.evaluator.build_guard import refuse_reason
from warpsmith.evaluator.native import compute_methods
from warpsmith.evaluator.static_cpp_lexer import strip_comments, strip_literals
from warpsmith.evaluator.static_native import check_native_source
from warpsmith.evaluator.static_python import check_python_source
from warpsmith.tasklib import BASE_ALLOWED_TORCH_OPS, list_tasks

STATIC_ATTACKS = {
    "torch_only.py": {"no-triton-kernel", "torch-op-not-allowed"},
    "launch_then_torch.py": {"torch-op-not-allowed"},
    "getattr_hidden.py": {"forbidden-builtin"},
    "dunder_subclasses.py": {"private-attribute"},
    "dunder_import.py": {"forbidden-builtin"},
    "read_env_key.py": {"forbidden-import"},
    "open_proc_environ.py": {"forbidden-builtin"},
    "network_socket.py": {"forbidden-import"},
    "read_store.py": {"forbidden-builtin"},
    "patch_allclose.py": {"attribute-assignment"},
    "patch_perf_counter.py": {"forbidden-import", "attribute-assignment"},
    "try_swallow.py": {"try-except"},
    "side_stream.py": {"stream", "with-statement", "torch-op-not-allowed"},
    "orphan_process.py": {"forbidden-import"},
    "background_thread.py": {"forbidden-import"},
    "tensor_subclass.py": {"class-definition"},
    "tensor_method.py": {"torch-op-not-allowed"},
    "torch_in_jit.py": {"torch-in-jit"},
    "matmul_operator.py": {"torch-op-not-allowed"},
    "type_three_args.py": {"forbidden-builtin"},
    "unbound_tensor_method.py": {"torch-op-not-allowed"},
    "triton_internals.py": {"forbidden-triton-api"},
    "gc_find_reference.py": {"forbidden-import"},
    "from_import_sort.py": {"torch-op-not-allowed"},
    "fake_stdout_exit.py": {"forbidden-import"},
    "ignore_sigterm.py": {"forbidden-import"},
    # from a red-team pass over this evaluator:
    "redteam_frame_escape.py": {"introspection-attribute"},  # generator.gi_frame.f_builtins
    "redteam_jit_body_tolist.py": {"torch-op-not-allowed", "jit-global"},  # Python inside an interpreted jit body
    "redteam_jit_body_torch.py": {"torch-op-not-allowed", "jit-global"},
    "redteam_tolist_python.py": {"torch-op-not-allowed"},  # torch.Tensor.tolist, invisible to aten
    "redteam_type_alias_subclass.py": {"forbidden-builtin", "torch-op-not-allowed"},  # make = type
    "redteam_typing_escape.py": {"forbidden-import"},  # typing.sys.modules
    "redteam_module_indirection.py": {"module-as-value"},  # core = tl.core; core.builtins
}

NATIVE_ATTACKS = {
    "native_fopen.cu": {"forbidden-call"},
    "native_system.cu": {"forbidden-call"},
    "native_getenv.cu": {"forbidden-call"},
    "native_include_escape.cu": {"forbidden-include"},
    "native_stream.cu": {"stream"},
    "native_at_ops.cu": {"torch-op-not-allowed"},
    "native_token_paste.cu": {"token-pasting"},
    "native_asm_syscall.cu": {"forbidden-call"},
}


@pytest.mark.parametrize("name", sorted(STATIC_ATTACKS))
def test_python_attack_is_rejected_before_running(name: str) -> None:
    result = run_file(name)
    assert result.status == "rejected", result.message
    assert result.mode == "none" and not result.correctness and not result.timings
    assert STATIC_ATTACKS[name] <= rules(result), rules(result)
    assert all(v.line for v in result.violations if v.rule not in {"no-triton-kernel", "no-kernel-function"})


@pytest.mark.parametrize("name", sorted(NATIVE_ATTACKS))
def test_native_attack_is_rejected_before_building(name: str) -> None:
    result = run_file(name)
    assert result.status == "rejected", result.message
    assert result.mode == "none" and result.compile_log == ""  # nothing was compiled
    assert NATIVE_ATTACKS[name] <= rules(result), rules(result)


def test_forbidden_names_in_comments_and_strings_are_not_violations() -> None:
    source = source_of("native_names_in_comments.cu")
    assert check_native_source(source, compute_methods(BASE_ALLOWED_TORCH_OPS)) == []
    code = strip_literals(strip_comments(source))
    assert "fopen" not in code and "cudaStreamCreate" not in code and "popen" not in code
    assert code.count("\n") == source.count("\n")  # line numbers survive stripping


def test_a_prefixed_raw_string_cannot_hide_a_call_from_the_text_rules() -> None:
    # u8R"(")" is one raw literal; read as an ordinary string its quote would swallow `system(`.
    source = 'void f() { const char* s = u8R"(")"; system("id"); const char* t = LR"x(")x"; fork(); }\n'
    found = {v.message for v in check_native_source(source, compute_methods(BASE_ALLOWED_TORCH_OPS))}
    assert {"use of system", "use of fork"} <= found, found


def test_the_build_preflight_and_the_text_rules_read_one_lexer() -> None:
    # A digit separator is no char literal; a raw string spanning lines holds no directive.
    hidden = "int n = 1'000;\n#include \"/etc/passwd\"\n"
    assert refuse_reason(hidden) is not None and "'" not in strip_literals(strip_comments(hidden)).split("\n")[1]
    raw = 'const char* s = R"x(\n#include "/etc/passwd"\n)x";\n'
    assert refuse_reason(raw) is None
    assert "#include" not in strip_literals(strip_comments(raw))
    spliced = '#inc\\\nlude "/etc/passwd"\nint x;\n'
    assert refuse_reason(spliced) is not None and "line 1" in refuse_reason(spliced)


def test_every_shipped_seed_passes_the_static_checks() -> None:
    checked = 0
    for task in list_tasks():
        for language, path in task.seeds().items():
            source = path.read_text()
            if language == "triton":
                found = check_python_source(source, task.allowed_torch_ops)
            else:
                found = check_native_source(source, compute_methods(task.allowed_torch_ops))
            assert found == [], f"{task.name} {language}: {found}"
            checked += 1
    assert checked >= 4


def test_kernel_and_a_jit_function_are_required() -> None:
    no_kernel = "import triton\n\n@triton.jit\ndef _k(x):\n    pass\n"
    assert {v.rule for v in check_python_source(no_kernel, BASE_ALLOWED_TORCH_OPS)} == {"no-kernel-function"}
    nested = "import triton\n\n@triton.jit\ndef _k(x):\n    pass\n\ndef outer():\n    def kernel(x):\n        return x\n"
    assert "no-kernel-function" in {v.rule for v in check_python_source(nested, BASE_ALLOWED_TORCH_OPS)}


def test_syntax_error_is_reported_with_its_line() -> None:
    result = run_source("def kernel(:\n    pass\n")
    assert result.status == "rejected" and rules(result) == {"syntax-error"}
    assert result.violations[0].line == 1


def test_module_attributes_that_reach_other_modules_are_refused() -> None:
    source = source_of("honest_rmsnorm.py").replace("import torch\n", "import torch\nimport math\n")
    escape = source.replace("return out", "return out if tl.core.builtins else out")
    assert "forbidden-module-attribute" in {v.rule for v in check_python_source(escape, BASE_ALLOWED_TORCH_OPS)}
    passed = source.replace("return out", "return out if math.pi else out")
    assert check_python_source(passed, BASE_ALLOWED_TORCH_OPS) == []


def test_task_allowed_ops_extend_the_allow_list() -> None:
    source = source_of("honest_rmsnorm.py").replace("return out", "return out.clone()")
    assert "torch-op-not-allowed" in {v.rule for v in check_python_source(source, BASE_ALLOWED_TORCH_OPS)}
    assert check_python_source(source, BASE_ALLOWED_TORCH_OPS | {"clone"}) == []
