"""Static rules for module-form candidates (KernelBench's `ModelNew`) and for tasks that require a
custom kernel launch: exactly what a module-form candidate opens, and nothing more.

Owns: the one class shape allowed, on tasks that declare a `module_class` only:

    class ModelNew(nn.Module):          # one base, torch.nn.Module; no keywords, decorators, metaclass
        '''optional docstring'''
        def __init__(self, ...):        # only __init__, forward and names without a leading underscore
            super().__init__()          # exactly this statement (no arguments), in __init__ only
            self.weight = nn.Parameter(torch.empty(...))   # self.<public name> = ... in __init__ only
        def forward(self, x, ...): ...

the torch.nn names it may reach (Module as that base, Parameter, and the layer classes the problem's
own Model uses, for the parameter names to match; `import torch.nn as nn` / `from torch import nn`),
attributes of torch.nn.Module itself refused on any object (hooks, state_dict, apply, to, train, ...),
a submodule built from a torch.nn class used as anything but `self.sub.attr` (`self.linear(x)`, or
`f = self.linear` then `f(x)`, runs torch's forward), and, on
tasks with `require_launch`, that the source launches one of its @triton.jit functions (`fn[grid](...)`):
a candidate that only calls torch is `torch-only`. Does not own: every other rule, which applies to
the class's methods as to any function (static_python.py and its helpers), or the shim that builds
the class in the child (module_form.py).
"""

from __future__ import annotations

import ast

import torch

from warpsmith.records.evaluation import Violation

NN_ALWAYS = frozenset({"Module", "Parameter"})
# Attributes of torch.nn.Module (hooks, state, devices, modes): no kernel needs them on any object.
MODULE_ATTRS = frozenset(n for n in [*dir(torch.nn.Module), *vars(torch.nn.Module())] if not n.startswith("_"))


def _v(rule: str, message: str, node: ast.AST | None) -> Violation:
    return Violation(rule=rule, message=message, severity="reject", line=getattr(node, "lineno", None))


def _chain(node: ast.AST, aliases: dict[str, str]) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    return aliases[node.id].split(".") + parts[::-1]


def _is_super_init(stmt: ast.stmt) -> bool:
    """`super().__init__()` exactly: no arguments anywhere."""
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    call = stmt.value
    func = call.func
    return (not call.args and not call.keywords and isinstance(func, ast.Attribute) and func.attr == "__init__"
            and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "super" and not func.value.args and not func.value.keywords)


class ModuleRules:
    """The module-form rules for one source: the permitted nodes the generic rules would refuse
    (the class, `super().__init__()`, `self.x = ...`) and the violations of the class's shape."""

    def __init__(self, tree: ast.Module, aliases: dict[str, str], class_name: str, nn_classes: frozenset[str],
                 allowed_ops: frozenset[str]) -> None:
        self.nn_allowed = NN_ALWAYS | nn_classes
        self.refused_attrs = MODULE_ATTRS - allowed_ops
        self.permitted: set[int] = set()  # ids of nodes the generic rules must let pass
        self.violations: list[Violation] = []
        self.class_node: ast.ClassDef | None = None
        self.submodules: set[str] = set()
        classes = [s for s in tree.body if isinstance(s, ast.ClassDef) and s.name == class_name]
        if classes:
            self.class_node = classes[0]
            self.permitted.add(id(classes[0]))
            self._check_class(classes[0], aliases)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in self.refused_attrs:
                self.violations.append(_v("module-attribute", f"{node.attr!r} is an attribute of torch.nn.Module "
                                          "(hooks, state, devices, modes): no kernel needs it", node))

    def nn_chain_problem(self, full: list[str]) -> str | None:
        """Why a torch.nn chain is refused, or None (`nn` itself, nn.Module, nn.Parameter, the problem's layers)."""
        if len(full) == 2 or (len(full) == 3 and full[2] in self.nn_allowed):
            return None
        return (f"{'.'.join(full)} is not allowed: a module-form candidate may use torch.nn.Module (as its base), "
                f"torch.nn.Parameter and the problem's own layers ({', '.join(sorted(self.nn_allowed - NN_ALWAYS)) or 'none'}) "
                "to hold parameters, never torch.nn.functional or other layers")

    def _check_class(self, cls: ast.ClassDef, aliases: dict[str, str]) -> None:
        if cls.decorator_list or cls.keywords or getattr(cls, "type_params", None) or len(cls.bases) != 1 \
                or _chain(cls.bases[0], aliases) != ["torch", "nn", "Module"]:
            self.violations.append(_v("module-class-shape", f"write exactly `class {cls.name}(nn.Module):` (one base, "
                                      "torch.nn.Module; no decorators, keywords or metaclass)", cls))
        for index, stmt in enumerate(cls.body):
            if index == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) \
                    and isinstance(stmt.value.value, str):
                continue
            if not isinstance(stmt, ast.FunctionDef):
                self.violations.append(_v("module-class-body", f"the body of {cls.name} may hold only a docstring "
                                          "and methods (def __init__, def forward, helpers)", stmt))
                continue
            self._check_method(cls.name, stmt, aliases)
        self._check_submodule_uses(cls)

    def _check_submodule_uses(self, cls: ast.ClassDef) -> None:
        """A torch.nn submodule is read only as `self.sub.attr` (its weight, its bias): bound to a
        name, put in a list or passed on, it could be called where no rule sees a call of `self.sub`."""
        for fn in cls.body:
            params = [*fn.args.posonlyargs, *fn.args.args] if isinstance(fn, ast.FunctionDef) else []
            if not params:
                continue
            self_name = params[0].arg
            parents = {id(child): node for node in ast.walk(fn) for child in ast.iter_child_nodes(node)}
            for node in ast.walk(fn):
                if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) \
                        and isinstance(node.value, ast.Name) and node.value.id == self_name \
                        and node.attr in self.submodules and not isinstance(parents.get(id(node)), ast.Attribute):
                    self.violations.append(_v("torch-module-call", f"{self_name}.{node.attr} is a torch.nn layer: "
                                              f"use only its tensors ({self_name}.{node.attr}.weight), never the "
                                              "layer itself (calling it runs torch's forward: torch computing the "
                                              "answer)", node))

    def _check_method(self, class_name: str, fn: ast.FunctionDef, aliases: dict[str, str]) -> None:
        if (fn.name.startswith("_") and fn.name != "__init__") or (fn.name in MODULE_ATTRS and fn.name != "forward"):
            self.violations.append(_v("module-method-name", f"{class_name}.{fn.name}: methods are __init__, forward "
                                      "or names without a leading underscore that torch.nn.Module does not define "
                                      "(the harness relies on Module's own)", fn))
        if fn.decorator_list:
            self.violations.append(_v("decorator", f"methods of {class_name} may not be decorated", fn))
        params = [*fn.args.posonlyargs, *fn.args.args]
        if not params:
            self.violations.append(_v("module-method-self", f"{class_name}.{fn.name} takes no self", fn))
            return
        self_name = params[0].arg
        for stmt in fn.body if fn.name == "__init__" else []:
            if _is_super_init(stmt):
                call = stmt.value  # type: ignore[attr-defined]
                self.permitted |= {id(call.func), id(call.func.value.func)}
            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                self._permit_self_store(stmt, self_name, aliases)

    def _permit_self_store(self, stmt: ast.Assign, self_name: str, aliases: dict[str, str]) -> None:
        target = stmt.targets[0]
        if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                and target.value.id == self_name and not target.attr.startswith("_")
                and target.attr not in MODULE_ATTRS):
            return
        self.permitted.add(id(target))
        value = stmt.value
        if isinstance(value, ast.Call) and (full := _chain(value.func, aliases)):
            if full[:2] == ["torch", "nn"] and len(full) == 3 and full[2] not in NN_ALWAYS:
                self.submodules.add(target.attr)


def launch_violations(tree: ast.Module, jit_names: set[str]) -> list[Violation]:
    """`torch-only` when no @triton.jit function is ever launched (`fn[grid](...)`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Subscript) \
                and isinstance(node.func.value, ast.Name) and node.func.value.id in jit_names:
            return []
    return [_v("torch-only", "the candidate launches none of its own kernels: this task requires at least one "
               "@triton.jit function launched as fn[grid](...); a solution that only calls torch is refused", None)]
