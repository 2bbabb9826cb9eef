"""CUDA candidates in KernelBench's `ModelNew` form: read, never run, as Python; built by warpsmith.

Owns: recognising a CUDA candidate that is a KernelBench solution file (Python defining
`class ModelNew(nn.Module)` whose forward calls a function of a `load_inline(...)` extension) and
reading it declaratively (`parse`): the CUDA text (`cuda_sources`, literal strings or module-level
names bound to them), the `functions` it exports, and forward's one call, each argument a forward
input, a parameter or buffer of Model read as `self.<dotted name>`, or a literal. The Python is
never executed (not in the parent, not in the child): the CUDA text goes through the native static
check and warpsmith's own build (build.py, each exported function registered with the dispatcher
instead of load_inline's pybind module), and the harness calls the function with the parent's
tensors (module_form.NativeModuleCall). Parameters are strict, as for Triton ModelNew: forward
must pass every parameter and buffer of Model and nothing else (a missing or extra name is a
violation that lists them). Does not own: the native text rules (static_native.py), the build,
or the Triton ModelNew form (module_form.py, static_python_module.py).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from warpsmith.records.evaluation import Violation

IMPORTS = frozenset({"torch", "torch.nn", "torch.utils.cpp_extension"})
IGNORED_KEYWORDS = frozenset({"name", "cpp_sources", "verbose", "with_cuda", "extra_cflags", "extra_cuda_cflags"})
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class NativeModuleForm:
    cuda_source: str = ""
    functions: tuple[str, ...] = ()
    function: str = ""
    args: list[tuple[str, Any]] = field(default_factory=list)  # ("input", i) | ("param", i) | ("const", value)
    violations: list[Violation] = field(default_factory=list)

    def payload(self, n_inputs: int, param_names: list[str]) -> dict[str, Any]:
        """What the child's shim needs (module_form.NativeModuleCall)."""
        return {"native_call": {"function": self.function, "args": [list(a) for a in self.args]},
                "n_inputs": n_inputs, "param_names": param_names}


def _v(message: str, node: ast.AST | None = None, rule: str = "native-modelnew") -> Violation:
    return Violation(rule=rule, message=message, severity="reject", line=getattr(node, "lineno", None))


def is_native_module(source: str, language: str, task: Any) -> bool:
    """A CUDA candidate on a task that accepts ModelNew, whose text is Python defining that class."""
    if language != "cuda" or not getattr(task, "module_class", None):
        return False
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(isinstance(s, ast.ClassDef) and s.name == task.module_class for s in tree.body)


def parse(source: str, task: Any, language: str = "cuda") -> NativeModuleForm | None:
    """The candidate read as a CUDA ModelNew (None when it is not one: plain CUDA or HIP text)."""
    if not is_native_module(source, language, task):
        return None
    form = NativeModuleForm()
    tree = ast.parse(source)
    strings: dict[str, str] = {}
    extension: str | None = None
    cls: ast.ClassDef | None = None
    for stmt in tree.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
            continue  # a docstring
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in stmt.names] if isinstance(stmt, ast.Import) else [stmt.module or ""]
            if not all(n in IMPORTS for n in names):
                form.violations.append(_v(f"a CUDA ModelNew imports only {', '.join(sorted(IMPORTS))}", stmt))
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name, value = stmt.targets[0].id, stmt.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                strings[name] = value.value
            elif isinstance(value, ast.Call) and _callee(value.func) == "load_inline" and extension is None:
                extension = name
                _read_load_inline(value, strings, form)
            else:
                form.violations.append(_v("a CUDA ModelNew's module holds only imports, string constants, one "
                                          "`ext = load_inline(...)` and the class (its Python is not run)", stmt))
        elif isinstance(stmt, ast.ClassDef) and stmt.name == task.module_class:
            cls = stmt
        else:
            form.violations.append(_v("a CUDA ModelNew's module holds only imports, string constants, one "
                                      "`ext = load_inline(...)` and the class (its Python is not run)", stmt))
    if extension is None:
        form.violations.append(_v("a CUDA ModelNew builds its kernels with one module-level "
                                  "`ext = load_inline(cuda_sources=..., functions=[...])`"))
    if cls is not None and extension is not None:
        _read_forward(cls, extension, task, form)
    return form


def native_violations(source: str, language: str, task: Any, compute_methods: frozenset[str]) -> list[Violation]:
    """The native static check of a CUDA/HIP candidate's text, or of a CUDA ModelNew's load_inline text
    after its own rules (a ModelNew that breaks them is not read further)."""
    from warpsmith.evaluator.static_native import check_native_source

    form = parse(source, task, language)
    if form is not None:
        # the names in functions=[...] reach the build's binding (`&name`) too: checked as that text would
        # be (red team 5: functions=["system"] bound libc's system with no mention of it in the checked text)
        refs = "".join(f"\nstatic const void* const warpsmith_export_{i} = (const void*)&{name};"
                       for i, name in enumerate(form.functions))
        return form.violations or check_native_source(form.cuda_source + refs, compute_methods)
    return check_native_source(source, compute_methods)


def _callee(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _texts(node: ast.expr, strings: dict[str, str]) -> list[str] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name) and node.id in strings:
        return [strings[node.id]]
    if isinstance(node, (ast.List, ast.Tuple)):
        parts = [_texts(e, strings) for e in node.elts]
        return None if any(p is None for p in parts) else [t for p in parts for t in p or []]
    return None


def _read_load_inline(call: ast.Call, strings: dict[str, str], form: NativeModuleForm) -> None:
    if call.args:
        form.violations.append(_v("pass load_inline's arguments by keyword (cuda_sources=..., functions=[...])", call))
        return
    for keyword in call.keywords:
        if keyword.arg == "cuda_sources":
            texts = _texts(keyword.value, strings)
            if texts is None:
                form.violations.append(_v("cuda_sources must be string literals or module-level names bound to "
                                          "them (the harness reads them without running Python)", keyword.value))
            else:
                form.cuda_source = "\n".join(texts)
        elif keyword.arg == "functions":
            names = _texts(keyword.value, {})
            if not names or not all(IDENT.match(n) for n in names):
                form.violations.append(_v("functions must be a literal list of C++ function names", keyword.value))
            else:
                form.functions = tuple(dict.fromkeys(names))
        elif keyword.arg not in IGNORED_KEYWORDS:
            form.violations.append(_v(f"load_inline's {keyword.arg}= is not supported (warpsmith's build sets the "
                                      "flags and links nothing else)", keyword.value))
    if not form.cuda_source.strip() or not form.functions:
        form.violations.append(_v("load_inline needs cuda_sources (the kernels and the host functions) and "
                                  "functions=[...]", call))


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join(reversed(parts)) if isinstance(node, ast.Name) and node.id == "self" and parts else None


def _read_forward(cls: ast.ClassDef, extension: str, task: Any, form: NativeModuleForm) -> None:
    forward = next((s for s in cls.body if isinstance(s, ast.FunctionDef) and s.name == "forward"), None)
    shape = ("forward must be `return <ext>.<function>(...)` (or `self.<attr>.<function>(...)`), each argument a "
             "forward input, `self.<parameter>` or a literal")
    if forward is None:
        form.violations.append(_v(f"{cls.name} defines no forward", cls))
        return
    body = [s for s in forward.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    call = body[0].value if len(body) == 1 and isinstance(body[0], ast.Return) else None
    if not isinstance(call, ast.Call) or call.keywords or not isinstance(call.func, ast.Attribute):
        form.violations.append(_v(shape, forward))
        return
    owner = call.func.value
    if not ((isinstance(owner, ast.Name) and owner.id == extension) or _dotted(owner) is not None):
        form.violations.append(_v(shape, call))
        return
    if call.func.attr not in form.functions:
        form.violations.append(_v(f"forward calls {call.func.attr}, which load_inline does not export "
                                  f"({', '.join(form.functions) or 'none'})", call))
        return
    form.function = call.func.attr
    inputs = [a.arg for a in forward.args.args[1:]]
    params = list(getattr(task, "param_names", ()))
    used: list[str] = []
    for arg in call.args:
        dotted = _dotted(arg)
        if isinstance(arg, ast.Name) and arg.id in inputs:
            form.args.append(("input", inputs.index(arg.id)))
        elif dotted is not None:
            used.append(dotted)
            form.args.append(("param", params.index(dotted) if dotted in params else -1))
        elif isinstance(arg, ast.Constant) and isinstance(arg.value, (int, float, bool)):
            form.args.append(("const", arg.value))
        else:
            form.violations.append(_v(shape, arg))
            return
    missing, extra = sorted(set(params) - set(used)), sorted(set(used) - set(params))
    if missing or extra:
        form.violations.append(_v(
            f"{cls.name}.forward must pass exactly Model's parameters and buffers (the evaluator's values, by "
            f"name): missing {missing or 'none'}, extra {extra or 'none'}", call, rule="module-parameters"))
