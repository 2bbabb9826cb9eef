"""Import bindings a Triton candidate may make, resolved flow-insensitively, and torch entry points
refused whatever a task allows.

Owns: where imports may stand (top-level statements of the module only: an import inside a def,
class, if or try binds a name the module-wide alias table cannot follow); that a name bound by an
import is bound by nothing else anywhere (no second import of another module, no assignment, def,
parameter, loop or with target, except-as, comprehension or walrus target, global), so the alias
table built from the module's imports (`import_aliases`) is what the name holds at every call;
torch attributes refused on every task (loading, saving, extension loading, dispatch control,
compilation, process and device plumbing); and the `weights_only` keyword (torch.load's pickle
switch) anywhere. Does not own: which imports are allowed at all (static_python_names.py) or the
rest of the AST rules (static_python.py).

Red-team findings closed here (docs/evaluator.md): `import triton.language as M` checked in a jit
body while `import torch as M` at the bottom of the module made `M.load(P, weights_only=False)`
torch.load at run time; `def _f(): import triton.language as torch` re-pointed the table for code
after it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from warpsmith.evaluator.static_python_names import module_allowed
from warpsmith.records.evaluation import Violation

# torch.<name> refused even when a task lists it: each loads or runs code the checks never saw
# (pickles, shared libraries, TorchScript, compiled graphs), turns the run-time op guard off, or
# reaches processes, devices and files.
DENIED_TORCH_ATTRS = frozenset({
    "load", "save", "hub", "utils", "ops", "classes", "library", "jit", "compile", "multiprocessing",
    "distributed", "backends", "package", "serialization", "fx", "overrides", "autograd", "export",
    "from_file", "cuda", "mps", "xpu", "_C", "_dynamo", "_inductor", "_ops", "_library", "testing",
    "set_default_device", "set_default_dtype", "set_default_tensor_type", "func", "profiler", "onnx",
    "DisableTorchFunction", "DisableTorchFunctionSubclass", "_DisableTorchDispatch",
})
# The keyword that makes torch.load unpickle arbitrary objects; no kernel passes it.
FORBIDDEN_KEYWORDS = frozenset({"weights_only"})


def _v(rule: str, message: str, node: ast.AST | None) -> Violation:
    return Violation(rule=rule, message=message, severity="reject", line=getattr(node, "lineno", None))


def import_aliases(tree: ast.Module, extra: frozenset[str] = frozenset()) -> dict[str, str]:
    """Local name -> dotted target, from the module's top-level imports of allowed modules only (nothing
    else is ever resolved, so no module the candidate names is imported in the parent); `extra`: modules
    allowed for this candidate besides (torch.nn for a module-form candidate)."""
    aliases: dict[str, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if module_allowed(alias.name) or alias.name in extra:
                    root = alias.name.split(".")[0]
                    aliases[alias.asname or root] = alias.name if alias.asname else root
        elif isinstance(stmt, ast.ImportFrom) and not stmt.level and stmt.module and module_allowed(stmt.module):
            for alias in stmt.names:
                if alias.name != "*":
                    aliases[alias.asname or alias.name] = f"{stmt.module}.{alias.name}"
    return aliases


def _import_targets(node: ast.Import | ast.ImportFrom) -> Iterator[tuple[str, str]]:
    for alias in node.names:
        if isinstance(node, ast.Import):
            root = alias.name.split(".")[0]
            yield alias.asname or root, alias.name if alias.asname else root
        else:
            yield alias.asname or alias.name, f"{'.' * node.level}{node.module or ''}.{alias.name}"


def _bindings(node: ast.AST) -> Iterator[str]:
    """Names `node` binds, other than by an import."""
    if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
        yield node.id
    elif isinstance(node, ast.arg):
        yield node.arg
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield node.name
    elif isinstance(node, ast.ExceptHandler) and node.name:
        yield node.name
    elif isinstance(node, (ast.Global, ast.Nonlocal)):
        yield from node.names
    elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
        yield node.name
    elif isinstance(node, ast.MatchMapping) and node.rest:
        yield node.rest
    elif type(node).__name__ in ("TypeVar", "ParamSpec", "TypeVarTuple"):  # 3.12 type parameters
        yield node.name  # type: ignore[attr-defined]


def binding_violations(tree: ast.Module) -> list[Violation]:
    """Imports off the module's top level, and names an import binds that anything else binds too."""
    top = {id(stmt) for stmt in tree.body}
    found: list[Violation] = []
    imported: dict[str, str] = {}
    others: dict[str, ast.AST] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if id(node) not in top:
                found.append(_v("import-not-at-module-level", "imports may only be top-level statements of the "
                                "module (not inside a def, class, if, try or with)", node))
            for name, target in _import_targets(node):
                if imported.setdefault(name, target) != target:
                    found.append(_v("import-rebound", f"{name!r} is imported twice, as {imported[name]} and as "
                                    f"{target}: a name may be imported once", node))
        else:
            for name in _bindings(node):
                others.setdefault(name, node)
    for name, node in others.items():
        if name in imported:
            found.append(_v("import-rebound", f"{name!r} names an import ({imported[name]}) and is bound again "
                            "(assignment, def, parameter, loop target...): a name may be bound once", node))
    return found


def torch_and_keyword_violations(tree: ast.Module, aliases: dict[str, str]) -> list[Violation]:
    """torch attributes no task may reach (DENIED_TORCH_ATTRS) and the `weights_only` keyword."""
    found: list[Violation] = []
    for node in ast.walk(tree):
        chains: list[list[str]] = []
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            chains.append([*aliases[node.value.id].split("."), node.attr])  # outer links: their inner one decides
        elif isinstance(node, ast.Name) and node.id in aliases:
            chains.append(aliases[node.id].split("."))
        elif isinstance(node, ast.Import):
            chains += [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            chains += [[*node.module.split("."), alias.name] for alias in node.names]
        for full in chains:
            if full[0] == "torch" and len(full) > 1 and full[1] in DENIED_TORCH_ATTRS:
                found.append(_v("torch-denied", f"torch.{full[1]} is refused on every task (it loads or runs "
                                "code the checks never saw, or turns the run-time guard off)", node))
        if isinstance(node, ast.keyword) and node.arg in FORBIDDEN_KEYWORDS:
            found.append(_v("forbidden-keyword", f"the keyword {node.arg!r} is not allowed (torch.load's "
                            "pickle switch)", node))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "weights_only" in node.value:
            found.append(_v("forbidden-keyword", "a string naming 'weights_only' (a **kwargs key for "
                            "torch.load's pickle switch)", node))
    return found


def jit_value_violations(tree: ast.Module, jit_names: set[str]) -> list[Violation]:
    """A @triton.jit / autotuned function may only be called or launched (`fn(...)`, `fn[grid](...)`),
    or head its own decorators: never bound to another name, stored, passed or returned. An alias
    (`g = kernel_fn`) would escape the rule that refuses attributes on a jit function's own name, and
    the autotuner's hooks (`g.pre_hook`, `g.restore_value`) run torch ops from Triton's code, where the
    run-time op guard takes them for the launcher's (second red team)."""
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Name) and node.id in jit_names and isinstance(node.ctx, ast.Load)):
            continue
        parent = getattr(node, "parent", None)
        if isinstance(parent, ast.Call) and parent.func is node:
            continue
        if isinstance(parent, ast.Subscript) and parent.value is node:
            continue
        found.append(_v("jit-function-as-value", f"{node.id!r} is a jit function: call or launch it "
                        "(fn[grid](...)); it may not be bound, stored, passed or returned", node))
    return found
