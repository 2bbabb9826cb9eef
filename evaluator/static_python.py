"""Static checks for Python (Triton) candidates: an AST walk before anything runs.

Owns: the rules a Triton candidate's source must pass (imports, names, attributes,
statements, torch calls) and the `Violation`s they produce. Does not own: the run-time
checks that back them up (aten_guard.py records the torch ops actually executed) nor
native sources (static_native.py).

The rules are an allow-list where one is possible (imports, torch and triton
attributes) and a deny-list otherwise (builtins, statements). They are deliberately
strict: a kernel needs none of what is refused, and every refusal names its rule and
line so the coder can fix it. What an AST cannot see (tensor arithmetic through
operators, values computed at run time) is left to the aten recorder in the child.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

import torch

from warpsmith.evaluator.records import Violation

ALLOWED_MODULES = frozenset({"torch", "triton", "triton.language", "math", "typing", "__future__"})
# Sub-modules of triton.language (libdevice and friends) are allowed as well.
ALLOWED_MODULE_PREFIXES = ("triton.language.",)

# What a candidate may reach under `triton.`: decorators, configs and integer helpers.
ALLOWED_TRITON_ATTRS = frozenset(
    {"jit", "autotune", "heuristics", "Config", "cdiv", "next_power_of_2", "language", "constexpr"}
)

FORBIDDEN_NAMES = frozenset(
    {
        "open", "exec", "eval", "compile", "__import__", "getattr", "setattr", "delattr", "hasattr",
        "globals", "locals", "vars", "dir", "breakpoint", "input", "exit", "quit", "memoryview",
        "object", "super", "classmethod", "staticmethod", "property", "__builtins__", "__loader__",
        "__spec__", "help", "copyright", "credits", "license",
    }
)

# Tensor attribute names a candidate may use on values that are not modules (besides the
# task's allowed torch ops): ordinary dict/str methods that torch.Tensor happens to share.
PLAIN_PYTHON_METHODS = frozenset({"values", "keys", "items", "get", "append", "extend", "update", "format", "join"})
TENSOR_ATTRS = frozenset(name for name in dir(torch.Tensor) if not name.startswith("_"))

TRITON_DECORATORS = frozenset({"jit", "autotune", "heuristics"})


def _v(rule: str, message: str, node: ast.AST | None) -> Violation:
    return Violation(rule=rule, message=message, severity="reject", line=getattr(node, "lineno", None))


def _dotted(node: ast.AST) -> list[str] | None:
    """`a.b.c` as ['a', 'b', 'c'], or None when the chain does not start at a name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _module_allowed(name: str) -> bool:
    return name in ALLOWED_MODULES or name.startswith(ALLOWED_MODULE_PREFIXES)


class _Checker(ast.NodeVisitor):
    def __init__(self, allowed_torch_ops: frozenset[str]) -> None:
        self.allowed = allowed_torch_ops
        self.aliases: dict[str, str] = {}  # local name -> dotted module or module attribute
        self.violations: list[Violation] = []
        self.jit_depth = 0
        self.jit_functions: list[str] = []
        self.defines_kernel = False

    # --- imports -------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not _module_allowed(alias.name):
                self.violations.append(_v("forbidden-import", f"import of {alias.name!r} is not allowed", node))
                continue
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                root = alias.name.split(".")[0]
                self.aliases[root] = root

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or not _module_allowed(module):
            self.violations.append(_v("forbidden-import", f"import from {module or '.'!r} is not allowed", node))
            return
        for alias in node.names:
            if alias.name == "*":
                self.violations.append(_v("forbidden-import", "star imports are not allowed", node))
                continue
            full = f"{module}.{alias.name}"
            self.aliases[alias.asname or alias.name] = full
            self._check_module_attr(full.split("."), node)

    # --- names and attributes ------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES or (node.id.startswith("__") and node.id != "__name__"):
            self.violations.append(_v("forbidden-builtin", f"use of {node.id!r} is not allowed", node))
        elif node.id == "type" and isinstance(node.ctx, ast.Load):
            pass  # checked at the call: type(x) is fine, type(name, bases, dict) is not
        elif self.jit_depth and self.aliases.get(node.id, "").split(".")[0] == "torch":
            self.violations.append(_v("torch-in-jit", "torch may not be used inside a @triton.jit function", node))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_"):
            self.violations.append(
                _v("private-attribute", f"access to private or dunder attribute {node.attr!r}", node)
            )
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.violations.append(
                _v("attribute-assignment", f"assigning or deleting attribute {node.attr!r} (monkey-patching)", node)
            )
        chain = _dotted(node)
        if chain is not None and chain[0] in self.aliases:
            full = self.aliases[chain[0]].split(".") + chain[1:]
            self._check_module_attr(full, node)
        elif not self.jit_depth and node.attr in TENSOR_ATTRS and node.attr not in self.allowed:
            if node.attr not in PLAIN_PYTHON_METHODS:
                self.violations.append(
                    _v("torch-op-not-allowed", f"tensor method {node.attr!r} is not in the task's allowed torch ops", node)
                )
        self.generic_visit(node)

    def _check_module_attr(self, full: list[str], node: ast.AST) -> None:
        if full[0] == "torch" and len(full) > 1:
            if self.jit_depth:
                self.violations.append(_v("torch-in-jit", "torch may not be used inside a @triton.jit function", node))
            elif full[1] not in self.allowed:
                self.violations.append(
                    _v("torch-op-not-allowed", f"torch.{full[1]} is not in the task's allowed torch ops", node)
                )
        elif full[0] == "triton" and len(full) > 1 and full[1] not in ALLOWED_TRITON_ATTRS:
            self.violations.append(_v("forbidden-triton-api", f"triton.{full[1]} is not allowed", node))

    # --- statements ----------------------------------------------------------------
    def visit_Try(self, node: ast.AST) -> None:
        self.violations.append(_v("try-except", "try/except is not allowed (it can hide a failed launch)", node))
        self.generic_visit(node)

    visit_TryStar = visit_Try

    def visit_With(self, node: ast.AST) -> None:
        self.violations.append(_v("with-statement", "with-blocks are not allowed (streams, devices, suppression)", node))
        self.generic_visit(node)

    visit_AsyncWith = visit_With

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.violations.append(_v("class-definition", "classes are not allowed (tensor subclasses, overrides)", node))
        self.generic_visit(node)

    def visit_AsyncFunctionDef(self, node: ast.AST) -> None:
        self.violations.append(_v("async", "async code is not allowed", node))

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.MatMult) and not self.jit_depth:
            self.violations.append(_v("torch-op-not-allowed", "the @ operator computes on tensors", node))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "type" and len(node.args) != 1:
            self.violations.append(_v("forbidden-builtin", "type() may only be called with one argument", node))
        if not self.jit_depth:
            for keyword in node.keywords:
                if keyword.arg == "stream":
                    self.violations.append(_v("stream", "launching on another stream is not allowed", node))
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        is_jit = any(self._is_triton_decorator(d) for d in node.decorator_list)
        for decorator in node.decorator_list:
            self.visit(decorator)
        if node.name == "kernel" and self.jit_depth == 0 and node.col_offset == 0:
            self.defines_kernel = True
        if is_jit:
            self.jit_functions.append(node.name)
        self.jit_depth += is_jit
        for child in [node.args, *node.body, *([node.returns] if node.returns else [])]:
            self.visit(child)
        self.jit_depth -= is_jit

    def _is_triton_decorator(self, decorator: ast.AST) -> bool:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        chain = _dotted(target)
        if chain is None or chain[0] not in self.aliases:
            return False
        full = self.aliases[chain[0]].split(".") + chain[1:]
        return len(full) == 2 and full[0] == "triton" and full[1] in TRITON_DECORATORS


def check_python_source(source: str, allowed_torch_ops: Iterable[str]) -> list[Violation]:
    """All reject-level violations of a Triton candidate's source (empty list: it may run)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [Violation(rule="syntax-error", message=f"{exc.msg} (line {exc.lineno})", line=exc.lineno)]
    checker = _Checker(frozenset(allowed_torch_ops))
    checker.visit(tree)
    found = checker.violations
    if not checker.defines_kernel:
        found.append(_v("no-kernel-function", "the module must define a top-level kernel(...) function", None))
    if not checker.jit_functions:
        found.append(_v("no-triton-kernel", "the module must define at least one @triton.jit function", None))
    return _dedupe(found)


def _dedupe(violations: list[Violation]) -> list[Violation]:
    seen: set[tuple[str, str, int | None]] = set()
    unique = []
    for v in violations:
        key = (v.rule, v.message, v.line)
        if key not in seen:
            seen.add(key)
            unique.append(v)
    return unique
