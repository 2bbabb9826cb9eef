"""Fail-closed name and attribute rules for Triton candidates: what a name or an attribute chain
may resolve to, decided on the real objects in the trusted parent.

Owns: free names (a name read in some scope must be bound in the module or be an allowed
builtin: after a first launch the Triton interpreter copies its own globals, np, inspect, ...,
into the candidate's module, so a name the candidate never bound may still resolve at run time);
attribute chains that start at an allowed module (every link must resolve statically, only
through modules and classes, ending at a module, class, function or constant; never a dict
such as tl.extra.modules, never an attribute of a jit function object); attribute names refused
on any object; statements a kernel never needs (match, global/nonlocal, string annotations).
Does not own: the rest of the AST rules and their traversal (static_python.py).
"""

from __future__ import annotations

import ast
import enum
import importlib
import inspect
import symtable
import types

import torch
import triton.language as tl
import triton.runtime.jit as triton_jit

from warpsmith.records.evaluation import Violation

# typing is not here: typing.get_type_hints evaluates annotation strings, and typing re-exports sys.
ALLOWED_MODULES = frozenset({"torch", "triton", "triton.language", "math", "__future__"})
# Sub-modules of triton.language (libdevice and friends) are allowed as well.
ALLOWED_MODULE_PREFIXES = ("triton.language.",)

# Builtins a candidate may read without binding them. Anything else unbound is refused, whatever
# happens to be in the module's globals at run time (the interpreter adds np, inspect, math, ...).
ALLOWED_BUILTINS = frozenset({
    "range", "min", "max", "int", "float", "bool", "abs", "len", "print", "isinstance", "tuple", "list",
    "dict", "set", "frozenset", "zip", "enumerate", "sum", "any", "all", "round", "divmod", "pow", "sorted",
    "reversed", "str", "slice", "map", "filter", "__name__", "ValueError", "RuntimeError", "AssertionError",
    "NotImplementedError", "TypeError", "IndexError", "KeyError", "ArithmeticError", "ZeroDivisionError",
    "OverflowError", "Exception",
})

# Refused on any object: what a jit function object (or Triton's runtime) exposes beyond launching
# it: the wrapped Python function, its globals and builtins, caches, the interpreter's rewriter.
FORBIDDEN_ATTRS = frozenset({
    "fn", "get_capture_scope", "used_global_vals", "src", "raw_src", "rewriter", "rewrite", "rewritten_fn",
    "cache", "kernel_cache", "device_caches", "run", "warmup", "params", "arg_names", "pre_run_hooks",
    "add_pre_run_hook", "modules", "builtins", "globals", "getframe", "signature", "base_fn", "create_binder",
    "preload", "parse", "do_bench", "check_disk_cache", "prune_configs", "cache_key", "launch_metadata",
    "DisableTorchFunction", "DisableTorchFunctionSubclass",  # turn the run-time op guard off (torch._C)
    # The autotuner's and heuristics' internals: their hooks run torch ops from Triton's own frames.
    "pre_hook", "post_hook", "user_defined_pre_hook", "user_defined_post_hook", "restore_value",
    "restore_copies", "reset_to_zero", "configs", "configs_timings", "configs_top_k", "best_config",
    "early_config_prune", "perf_model", "bench_time", "cache_results", "nargs", "ir_override", "hasher",
    "constexprs", "do_not_specialize", "supported_modules", "supported_python_builtins", "nonlocals",
})

_JIT_TYPES = tuple(t for t in (getattr(triton_jit, "JITCallable", None), triton_jit.KernelInterface) if t)
_CALLABLE_TYPES = (
    types.FunctionType, types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType,
    types.ClassMethodDescriptorType, types.GetSetDescriptorType, types.MemberDescriptorType,
    staticmethod, classmethod, property,
)
_SCALARS = (int, float, complex, str, bytes, bool, type(None), enum.Enum)
_VALUE_TYPES = (*_SCALARS, tl.dtype, tl.constexpr, torch.dtype, torch.layout, torch.memory_format, torch.device)
_MISSING = object()
# Classes and functions reached through an allowed module must be defined in one of these packages.
OWNER_ROOTS = frozenset({"torch", "triton", "math"})


def _v(rule: str, message: str, line: int | None) -> Violation:
    return Violation(rule=rule, message=message, severity="reject", line=line)


def _owner(obj: object) -> str:
    """The module a class or function was defined in (re-exports keep their origin: pathlib.Path
    imported into some triton module is still pathlib's)."""
    for inner in ("__func__", "fget", "__objclass__"):
        obj = getattr(obj, inner, obj)
    owner = getattr(obj, "__module__", None)
    return owner if isinstance(owner, str) else ""


def _allowed_end(obj: object) -> bool:
    if isinstance(obj, (type, *_CALLABLE_TYPES)):
        return _owner(obj).split(".")[0] in OWNER_ROOTS
    if isinstance(obj, (types.ModuleType, *_VALUE_TYPES, *_JIT_TYPES)):
        return True
    return isinstance(obj, (tuple, frozenset)) and all(isinstance(item, _SCALARS) for item in obj)


def module_allowed(name: str) -> bool:
    return name in ALLOWED_MODULES or name.startswith(ALLOWED_MODULE_PREFIXES)


def resolve(full: list[str]) -> object | None:
    """The object a dotted chain names, looked up on the real modules in this trusted process."""
    try:
        obj: object = importlib.import_module(full[0])
    except ImportError:
        return None
    for attr in full[1:]:
        # getattr_static: never run a property of a real module object (triton's driver has some)
        obj = inspect.getattr_static(obj, attr, None) if not attr.startswith("_") else None
        if obj is None:
            return None
    return obj


def module_reached(full: list[str]) -> str | None:
    """The first module outside the allow-list that an attribute chain on an allowed module reaches
    (typing.sys, torch.cuda, ...), resolved on the real modules in this trusted process."""
    for end in range(2, len(full) + 1):
        obj = resolve(full[:end])
        if obj is None:
            return None
        if isinstance(obj, types.ModuleType) and not module_allowed(obj.__name__):
            return obj.__name__
    return None


def chain_problem(full: list[str]) -> tuple[str, str] | None:
    """(rule, message) when an attribute chain on an allowed module does not end, through modules and
    classes only, at a module, class, function or constant the parent can see; None when it does.
    Private links are left to the private-attribute rule; modules outside the allow-list to the caller."""
    try:
        obj: object = importlib.import_module(full[0])
    except ImportError:
        return "unresolved-attribute", f"module {full[0]!r} cannot be found"
    for index, attr in enumerate(full[1:], start=1):
        where = ".".join(full[:index])
        if attr.startswith("_"):
            return None
        if isinstance(obj, _JIT_TYPES):
            return "jit-function-attribute", f"{where}.{attr}: a jit function may only be called or launched"
        if not isinstance(obj, (types.ModuleType, type)):
            return "unresolved-attribute", f"{where} is a {type(obj).__name__}; attributes are only followed " \
                                           "through modules and classes"
        # getattr_static: never run a property or a module __getattr__ in this trusted process
        obj = inspect.getattr_static(obj, attr, _MISSING)
        if obj is _MISSING:
            return "unresolved-attribute", f"{where}.{attr} does not resolve to anything the evaluator has " \
                                           "loaded (a submodule never imported, a lazy or dynamic attribute)"
    if not _allowed_end(obj):
        return "disallowed-object", f"{'.'.join(full)} is a {type(obj).__name__} from {_owner(obj) or '?'}, " \
                                    "not a module, or a class, function or constant of torch, triton or math"
    return None


def unbound_name_violations(source: str, tree: ast.Module, reported: frozenset[str]) -> list[Violation]:
    """Names read somewhere that nothing in the module binds (scopes as Python itself resolves them),
    except those in `reported` (refused by name already)."""
    try:
        top = symtable.symtable(source, "<candidate>", "exec")
    except (SyntaxError, ValueError):
        return []  # the parser's own error is reported by the caller
    bound = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    unbound: set[str] = set()
    pending = [top]
    while pending:
        table = pending.pop()
        pending += table.get_children()
        for sym in table.get_symbols():
            module_level = table.get_type() == "module" or sym.is_global()
            if sym.is_referenced() and module_level and sym.get_name() not in bound:
                unbound.add(sym.get_name())
    unbound -= ALLOWED_BUILTINS | reported
    unbound = {n for n in unbound if not n.startswith("__")}
    lines = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in unbound:
            lines.setdefault(node.id, node.lineno)
    return [_v("unbound-name", f"{name!r} is neither bound in the module nor an allowed builtin", lines.get(name))
            for name in sorted(unbound)]


def statement_violations(tree: ast.Module) -> list[Violation]:
    """Statements and forms no kernel needs and that resolve names or attributes out of sight."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Match):
            found.append(_v("match-statement", "match statements are not allowed (class patterns read "
                            "attributes named only as strings)", node.lineno))
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            found.append(_v("global-statement", "global/nonlocal statements are not allowed", node.lineno))
        elif isinstance(node, ast.arg) and isinstance(node.annotation, ast.Constant) \
                and isinstance(node.annotation.value, str):
            found.append(_v("string-annotation", f"the annotation of {node.arg!r} is a string, which Triton "
                            "may evaluate at run time; write the expression", node.lineno))
        elif isinstance(node, ast.ImportFrom) and node.module == "__future__":
            found.append(_v("forbidden-import", "__future__ imports change how the checked text compiles",
                            node.lineno))
    return found
