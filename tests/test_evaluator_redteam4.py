"""Red team, round 4: the C++ text checks (static_native.py over static_cpp_lexer.py) against
spellings the compiler accepts and the checks did not see: digraphs (`%:` is `#`, `%:%:` is `##`)
and asm labels (`int f(const char*) __asm__("system");` renames a declaration to any libc
symbol). Each source below compiles with g++ -std=c++17 and links the forbidden symbol; the symbol
audit of the built library is the second layer, these are the first."""

from __future__ import annotations

import pytest

from warpsmith.evaluator.native import compute_methods
from warpsmith.evaluator.static_native import check_native_source
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
