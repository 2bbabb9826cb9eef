"""Static checks for Python (Triton) candidates: an AST walk before anything runs.

Owns: the rules a Triton candidate's source must pass (imports, names, attributes,
statements, torch calls) and the `Violation`s they produce. Does not own: the run-time
checks that back them up (aten_guard.py records the torch ops actually executed, interpreter_bounds.py
checks raw loads and stores), the text rules and Triton's source re-discovery (static_python_source.py),
what names and attribute chains resolve to (static_python_names.py), nor native sources (static_native.py).

The rules are an allow-list where one is possible (imports, torch and triton
attributes) and a deny-list otherwise (builtins, statements). They are deliberately
strict: a kernel needs none of what is refused, and every refusal names its rule and
line so the coder can fix it. What an AST cannot see (tensor arithmetic through
operators, values computed at run time) is left to the aten recorder in the child.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from types import ModuleType

import torch
import triton.language as tl

from warpsmith.evaluator.static_python_bindings import (
    binding_violations,
    import_aliases,
    jit_value_violations,
    torch_and_keyword_violations,
)
from warpsmith.evaluator.static_python_module import ModuleRules, launch_violations
from warpsmith.evaluator.static_python_names import (
    FORBIDDEN_ATTRS,
    chain_problem,
    module_allowed,
    module_reached,
    resolve,
    statement_violations,
    unbound_name_violations,
)
from warpsmith.evaluator.static_python_source import replay_violations, text_violations
from warpsmith.evaluator.static_python_tree import constant_globals, dedupe, dotted
from warpsmith.records.evaluation import Violation

# What a candidate may reach under `triton.`: decorators, configs and integer helpers.
ALLOWED_TRITON_ATTRS = frozenset(
    {"jit", "autotune", "heuristics", "Config", "cdiv", "next_power_of_2", "language", "constexpr"}
)

FORBIDDEN_NAMES = frozenset(
    {
        "open", "exec", "eval", "compile", "__import__", "getattr", "setattr", "delattr", "hasattr",
        "globals", "locals", "vars", "dir", "breakpoint", "input", "exit", "quit", "memoryview",
        "object", "super", "classmethod", "staticmethod", "property", "__builtins__", "__loader__",
        "__spec__", "help", "copyright", "credits", "license", "type",
        "id", "hash",  # addresses of objects: with raw loads and stores they name memory to reach
    }
)

# Tensor attribute names a candidate may use on values that are not modules (besides the
# task's allowed torch ops): ordinary dict/str methods that torch.Tensor happens to share.
PLAIN_PYTHON_METHODS = frozenset({"values", "keys", "items", "get", "append", "extend", "update", "join"})
# str.format walks attributes and items named INSIDE the string ('{0.gi_frame.f_back}'): use f-strings.
STRING_FORMAT_ATTRS = frozenset({"format", "format_map"})
TENSOR_ATTRS = frozenset(name for name in dir(torch.Tensor) if not name.startswith("_"))

TRITON_DECORATORS = frozenset({"jit", "autotune", "heuristics"})

# Frames, code objects and tracebacks reach builtins and globals without any underscore name
# (generator.gi_frame.f_builtins); no kernel needs them.
INTROSPECTION_ATTR = re.compile(r"^(gi|cr|ag|f|tb|co|func|im)_\w+$|^mro$")
# Inside a @triton.jit body (plain Python under the interpreter) only Triton's own tensor methods.
TL_TENSOR_ATTRS = frozenset(n for n in dir(tl.tensor) if not n.startswith("_")) | {"dtype", "shape", "type", "numel"}
# Every attribute a jit body may read on a value: those of Triton's value and type classes, nothing an
# instance holds beyond them (under the interpreter x.handle.data is the raw numpy array behind x).
JIT_VALUE_ATTRS = TL_TENSOR_ATTRS | frozenset(
    n for obj in (tl.dtype, tl.pointer_type, tl.block_type, tl.constexpr, tl.tuple_type, tl.tensor_descriptor,
                  *vars(tl.float32), *vars(tl.int8), *vars(tl.pointer_type(tl.float32)),
                  *vars(tl.block_type(tl.float32, [4])), *vars(tl.constexpr(1)))
    for n in (dir(obj) if isinstance(obj, type) else [obj]) if not n.startswith("_"))
# Builtins a jit body may name (the Triton compiler accepts these).
JIT_BUILTINS = frozenset({"range", "min", "max", "int", "float", "bool", "abs", "len", "print", "isinstance", "tuple"})


def _v(rule: str, message: str, node: ast.AST | None) -> Violation:
    return Violation(rule=rule, message=message, severity="reject", line=getattr(node, "lineno", None))


class _Checker(ast.NodeVisitor):
    def __init__(self, allowed_torch_ops: frozenset[str]) -> None:
        self.allowed = allowed_torch_ops
        self.aliases: dict[str, str] = {}  # local name -> dotted module or module attribute
        self.violations: list[Violation] = []
        self.jit_depth = 0
        self.jit_functions: list[str] = []
        self.jit_locals: list[set[str]] = []
        self.jit_names: set[str] = set()  # filled by a first pass: jit functions may call later ones
        self.constant_globals: set[str] = set()
        self.defines_kernel = False
        self.decorator_nodes: set[int] = set()  # the triton.jit/autotune/heuristics nodes heading a def
        self.module: ModuleRules | None = None  # module-form candidates only (static_python_module.py)
        self.ok: set[int] = set()  # nodes the module-form rules permit (the class, super().__init__(), self.x =)

    # --- imports -------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not module_allowed(alias.name) and not (self.module and alias.name == "torch.nn"):
                self.violations.append(_v("forbidden-import", f"import of {alias.name!r} is not allowed", node))
                continue
            if not isinstance(resolve(alias.name.split(".")), ModuleType):
                self.violations.append(_v("forbidden-import", f"{alias.name!r} is not a module the evaluator has "
                                          "loaded (importing it would run code the checks never saw)", node))
                continue  # the alias table is built before the walk (static_python_bindings.import_aliases)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level or not module_allowed(module) or not isinstance(resolve(module.split(".")), ModuleType):
            self.violations.append(_v("forbidden-import", f"import from {module or '.'!r} is not allowed", node))
            return
        for alias in node.names:
            if alias.name == "*":
                self.violations.append(_v("forbidden-import", "star imports are not allowed", node))
                continue
            self._check_module_attr(f"{module}.{alias.name}".split("."), node)

    # --- names and attributes ------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        if id(node) in self.ok:
            return
        if node.id in self.aliases:
            self._check_decorator_use(self.aliases[node.id].split("."), node)
            if not isinstance(node.ctx, ast.Load):  # the rules would go on resolving it as the import
                self.violations.append(_v("alias-rebound", f"{node.id!r} names an import; do not rebind it", node))
        if node.id in FORBIDDEN_NAMES or (node.id.startswith("__") and node.id != "__name__"):
            self.violations.append(_v("forbidden-builtin", f"use of {node.id!r} is not allowed", node))
        elif node.id in self.aliases and resolve(self.aliases[node.id].split(".")) is not None \
                and isinstance(resolve(self.aliases[node.id].split(".")), ModuleType) and not _is_namespace_use(node):
            self.violations.append(_v("module-as-value", f"module {node.id!r} may only be used as a namespace", node))
        elif self.jit_depth and self.aliases.get(node.id, "").split(".")[0] == "torch":
            self.violations.append(_v("torch-in-jit", "torch may not be used inside a @triton.jit function", node))
        elif self.jit_depth and isinstance(node.ctx, ast.Load) and not self._jit_may_read(node.id):
            self.violations.append(_v(
                "jit-global", f"a @triton.jit body reads {node.id!r}: only its arguments, locals, "
                "constant globals, triton and other jit functions are allowed there", node))

    def visit_arg(self, node: ast.arg) -> None:
        if node.arg in self.aliases:
            self.violations.append(_v("alias-rebound", f"parameter {node.arg!r} shadows an import", node))
        self.generic_visit(node)

    def _jit_may_read(self, name: str) -> bool:
        module = self.aliases.get(name, "")
        return (
            name in self.jit_locals[-1] or name in self.constant_globals or name in self.jit_names
            or name in JIT_BUILTINS or module.split(".")[0] in ("triton", "math")
        )

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if id(node) in self.ok:
            return self.generic_visit(node) if isinstance(node.ctx, ast.Load) else self.visit(node.value)
        if node.attr.startswith("_"):
            self.violations.append(
                _v("private-attribute", f"access to private or dunder attribute {node.attr!r}", node)
            )
        elif node.attr in STRING_FORMAT_ATTRS:
            self.violations.append(_v("string-format", f".{node.attr}() can reach attributes named in a string; "
                                      "use an f-string", node))
        elif isinstance(node.value, ast.Name) and node.value.id in self.jit_names:
            self.violations.append(_v("jit-function-attribute", f"{node.value.id}.{node.attr}: a @triton.jit "
                                      "function may only be launched (fn[grid](...)) or called from another", node))
        elif node.attr in FORBIDDEN_ATTRS:
            self.violations.append(_v("forbidden-attribute", f"attribute {node.attr!r} is refused on any object "
                                      "(it reaches a jit function's Python function, globals or caches)", node))
        elif INTROSPECTION_ATTR.match(node.attr):
            self.violations.append(
                _v("introspection-attribute", f"{node.attr!r} reaches frames, code or globals", node)
            )
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.violations.append(
                _v("attribute-assignment", f"assigning or deleting attribute {node.attr!r} (monkey-patching)", node)
            )
        chain = dotted(node)
        if chain is not None and chain[0] in self.aliases:
            full = self.aliases[chain[0]].split(".") + chain[1:]
            self._check_module_attr(full, node)
            self._check_decorator_use(full, node)
            if isinstance(resolve(full), ModuleType) and not _is_namespace_use(node):
                self.violations.append(_v("module-as-value", f"module {'.'.join(full)} may only be used as a namespace", node))
        elif self.jit_depth and node.attr in TENSOR_ATTRS and node.attr not in TL_TENSOR_ATTRS:
            self.violations.append(_v(
                "torch-op-not-allowed", f"{node.attr!r} is a torch method, not a Triton one (@triton.jit body)", node
            ))
        elif self.jit_depth and node.attr not in JIT_VALUE_ATTRS:
            self.violations.append(_v("jit-attribute", f"{node.attr!r} is not an attribute of Triton's tensors, "
                                      "dtypes or constexprs (@triton.jit body)", node))
        elif not self.jit_depth and node.attr in TENSOR_ATTRS and node.attr not in self.allowed:
            if node.attr not in PLAIN_PYTHON_METHODS:
                self.violations.append(
                    _v("torch-op-not-allowed", f"tensor method {node.attr!r} is not in the task's allowed torch ops", node)
                )
        self.generic_visit(node)

    def _check_module_attr(self, full: list[str], node: ast.AST) -> None:
        if self.module and full[:2] == ["torch", "nn"]:
            problem = self.module.nn_chain_problem(full) or (chain_problem(full) or (None, None))[1]
            return self.violations.append(_v("torch-nn-not-allowed", problem, node)) if problem else None
        reached = module_reached(full)
        if reached is not None:
            self.violations.append(_v(
                "forbidden-module-attribute", f"{'.'.join(full)} reaches module {reached!r}, which is not allowed", node
            ))
        elif (problem := chain_problem(full)) is not None:
            self.violations.append(_v(*problem, node))
        if full[0] == "torch" and len(full) > 1:
            if self.jit_depth:
                self.violations.append(_v("torch-in-jit", "torch may not be used inside a @triton.jit function", node))
            elif full[1] not in self.allowed:
                self.violations.append(
                    _v("torch-op-not-allowed", f"torch.{full[1]} is not in the task's allowed torch ops", node)
                )
            elif full[1] == "Tensor" and len(full) > 2 and full[2] not in self.allowed:
                self.violations.append(  # torch.Tensor.sort(x) is x.sort()
                    _v("torch-op-not-allowed", f"torch.Tensor.{full[2]} is not in the task's allowed torch ops", node)
                )
        elif full[0] == "triton" and len(full) > 1 and full[1] not in ALLOWED_TRITON_ATTRS:
            self.violations.append(_v("forbidden-triton-api", f"triton.{full[1]} is not allowed", node))

    def _check_decorator_use(self, full: list[str], node: ast.AST) -> None:
        """triton.jit(f) or j = triton.jit: a function made a kernel where the jit-body rules cannot see it."""
        if len(full) == 2 and full[0] == "triton" and full[1] in TRITON_DECORATORS \
                and id(node) not in self.decorator_nodes:
            self.violations.append(_v("jit-decorator-only", f"triton.{full[1]} may only be used as a decorator "
                                      "(@triton.jit def ...)", node))
        if not self.jit_depth and full[:2] == ["triton", "language"] and callable(obj := resolve(full)) \
                and not isinstance(obj, type):  # device functions belong in jit bodies; classes (constexpr) do not
            self.violations.append(_v("triton-language-on-host", f"{'.'.join(full)} is a device function: call it "
                                      "inside a @triton.jit function", node))

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
        if id(node) not in self.ok:
            self.violations.append(_v("class-definition", "classes are not allowed (tensor subclasses, overrides)", node))
        self.generic_visit(node)

    def visit_AsyncFunctionDef(self, node: ast.AST) -> None:
        self.violations.append(_v("async", "async code is not allowed", node))

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.MatMult) and not self.jit_depth:
            self.violations.append(_v("torch-op-not-allowed", "the @ operator computes on tensors", node))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if not self.jit_depth:
            for keyword in node.keywords:
                if keyword.arg == "stream":
                    self.violations.append(_v("stream", "launching on another stream is not allowed", node))
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        is_jit = any(self._is_triton_decorator(d) for d in node.decorator_list)
        for decorator in node.decorator_list:
            if self._is_triton_decorator(decorator):
                self.decorator_nodes.add(id(decorator.func if isinstance(decorator, ast.Call) else decorator))
            else:  # any other decorator is a call on the function object, out of the rules' sight
                self.violations.append(_v("decorator", "only @triton.jit, @triton.autotune and @triton.heuristics "
                                          "may decorate a function", decorator))
            self.visit(decorator)
        if node.name == "kernel" and self.jit_depth == 0 and node.col_offset == 0:
            self.defines_kernel = True
        if is_jit:
            self.jit_functions.append(node.name)
            self.jit_locals.append(_bound_names(node))
        self.jit_depth += is_jit
        for child in [node.args, *node.body, *([node.returns] if node.returns else [])]:
            self.visit(child)
        self.jit_depth -= is_jit
        if is_jit:
            self.jit_locals.pop()

    def _is_triton_decorator(self, decorator: ast.AST) -> bool:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        chain = dotted(target)
        if chain is None or chain[0] not in self.aliases:
            return False
        full = self.aliases[chain[0]].split(".") + chain[1:]
        return len(full) == 2 and full[0] == "triton" and full[1] in TRITON_DECORATORS


def check_python_source(source: str, allowed_torch_ops: Iterable[str], module_class: str | None = None,
                        nn_classes: Iterable[str] = (), require_launch: bool = False) -> list[Violation]:
    """All reject-level violations of a Triton candidate's source (empty list: it may run).
    Never raises on any str: nesting too deep for the parser or the walk is a violation too.
    `module_class` (KernelBench tasks): a class of that name may stand in for kernel(...), in the one
    shape static_python_module.py allows; `require_launch`: a @triton.jit function must be launched."""
    text_problems = text_violations(source)
    if text_problems:
        return text_problems
    try:
        return _check(source, frozenset(allowed_torch_ops), module_class, frozenset(nn_classes), require_launch)
    except (RecursionError, MemoryError) as exc:
        return [_v("source-too-deep", f"the source nests too deeply to be checked ({type(exc).__name__})", None)]


def _check(source: str, allowed_torch_ops: frozenset[str], module_class: str | None, nn_classes: frozenset[str],
           require_launch: bool) -> list[Violation]:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [Violation(rule="syntax-error", message=f"{exc.msg} (line {exc.lineno})", line=exc.lineno)]
    checker = _Checker(allowed_torch_ops)
    # flow-insensitive: every import is top-level and bound once
    checker.aliases = import_aliases(tree, extra=frozenset({"torch.nn"}) if module_class else frozenset())
    if module_class:
        checker.module = ModuleRules(tree, checker.aliases, module_class, nn_classes, allowed_torch_ops)
        checker.ok = checker.module.permitted
    checker.constant_globals = constant_globals(tree)
    checker.jit_names = _jit_function_names(tree)
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            child.parent = parent  # type: ignore[attr-defined]
    checker.visit(tree)
    found = checker.violations + unbound_name_violations(source, tree, FORBIDDEN_NAMES) + statement_violations(tree)
    found += binding_violations(tree) + torch_and_keyword_violations(tree, checker.aliases)
    found += jit_value_violations(tree, checker.jit_names)
    found += replay_violations(source, tree)
    if checker.module is not None:
        found += checker.module.violations
    if require_launch and checker.jit_functions:
        found = launch_violations(tree, checker.jit_names) + found
    if not checker.defines_kernel and not (checker.module and checker.module.class_node):
        found.append(_v("no-kernel-function", "the module must define a top-level kernel(...) function", None))
    if not checker.jit_functions:
        found.insert(0, _v("torch-only" if require_launch else "no-triton-kernel", "the module must define at least "
                           "one @triton.jit function" + (" (a solution that only calls torch is refused)"
                                                          if require_launch else ""), None))
    return dedupe(found)


def _is_namespace_use(node: ast.AST) -> bool:
    """True when `node` is only the left side of an attribute access (`tl.load`, not `m = tl`)."""
    parent = getattr(node, "parent", None)
    return isinstance(parent, ast.Attribute) and parent.value is node


def _bound_names(fn: ast.FunctionDef) -> set[str]:
    names = {a.arg for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]}
    names |= {a.arg for a in (fn.args.vararg, fn.args.kwarg) if a is not None}
    return names | {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _jit_function_names(tree: ast.Module) -> set[str]:
    def decorated(fn: ast.FunctionDef) -> bool:
        targets = [d.func if isinstance(d, ast.Call) else d for d in fn.decorator_list]
        return any((chain := dotted(t)) is not None and chain[-1] in TRITON_DECORATORS for t in targets)

    return {s.name for s in tree.body if isinstance(s, ast.FunctionDef) and decorated(s)}
