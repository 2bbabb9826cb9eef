"""Module-form candidates (KernelBench's `ModelNew`): the harness's shim that turns the candidate's
class into the `kernel(*inputs)` the rest of the evaluator calls.

Owns: deciding that a Triton candidate is in module form (`module_candidate`), what the parent
hands the child for it (`module_form_payload`: the class name, how many inputs are the forward's,
the parameter and buffer names the parent drew, the constructor's arguments per input shape), and
`ModuleCall`, the shim that runs in the child: it builds the candidate's class on the meta device
(no data, no computation: its own initialisation never matters), checks that its parameters and
buffers are exactly the ones the parent drew (a missing or extra name is an error that lists them,
never skipped), and calls forward with the parent's tensors substituted by name
(torch.func.functional_call, strict). Does not own: the static rules on the class's shape
(static_python_module.py), the task's parameter list (tasklib/kernelbench_task.py) or any verdict:
the parent compares the outputs with its own reference, whatever the shim reports.
"""

from __future__ import annotations

import ast
from typing import Any

import torch

from warpsmith.evaluator import aten_guard


class ModuleFormError(RuntimeError):
    """The candidate's module does not fit the problem (its parameters, its constructor)."""


def defines_class(source: str, class_name: str) -> bool:
    """True when `source` defines a top-level class called `class_name` (False when it does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(isinstance(stmt, ast.ClassDef) and stmt.name == class_name for stmt in tree.body)


def module_candidate(source: str, task: Any) -> bool:
    """A candidate is in module form when its task accepts one and it defines the class."""
    return bool(task.module_class) and defines_class(source, task.module_class)


def module_form_payload(candidate: Any, task: Any, shapes: list[Any]) -> dict[str, Any] | None:
    """What the child's shim needs, for a Triton candidate in module form; None for kernel(...)."""
    if candidate.language == "cuda":  # a CUDA ModelNew: the harness calls its exported function
        from warpsmith.evaluator.native_module import parse

        form = parse(candidate.source, task)
        return None if form is None else form.payload(int(task.n_forward), list(task.param_names))
    if candidate.language != "triton" or not module_candidate(candidate.source, task):
        return None
    unique = list({shape.label: shape for shape in shapes}.values())
    return task.module_form(unique)


def input_key(inputs: tuple[Any, ...] | list[Any]) -> str:
    """The key that picks a constructor's arguments: every input's shape (tensors) or value (scalars)."""
    parts = [f"T{list(v.shape)}" if isinstance(v, torch.Tensor) else repr(v) for v in inputs]
    return "|".join(parts)


class ModuleCall:
    """kernel(*inputs) for a module-form candidate: forward inputs first, then the parameters and
    buffers in `param_names` order (the parent's functional form)."""

    def __init__(self, cls: Any, form: dict[str, Any]) -> None:
        self.cls = cls
        self.n_inputs = int(form["n_inputs"])
        self.param_names = list(form["param_names"])
        self.init_inputs = {key: list(args) for key, args in form["init_inputs"]}
        # built now, at import (outside any timed block): a wrong parameter set fails before any call
        self.models: dict[str, Any] = {key: self._build(key) for key in self.init_inputs}

    def __call__(self, *inputs: Any) -> Any:
        key = input_key(inputs)
        model = self.models.get(key)
        if model is None:
            model = self.models[key] = self._build(key)
        forward_inputs = inputs[: self.n_inputs]
        tensors = dict(zip(self.param_names, inputs[self.n_inputs:], strict=True))
        with torch.no_grad():  # through call_candidate: a forward that is a torch function is the candidate's
            return aten_guard.call_candidate(torch.func.functional_call, model, tensors, tuple(forward_inputs),
                                             strict=True)

    def _build(self, key: str) -> Any:
        if key not in self.init_inputs:
            raise ModuleFormError(f"no constructor arguments for inputs {key}")
        with torch.device("meta"):
            model = self.cls(*self.init_inputs[key])
        if not isinstance(model, torch.nn.Module):
            raise ModuleFormError(f"{self.cls.__name__}(...) is a {type(model).__name__}, not a torch.nn.Module")
        names = [n for n, _ in model.named_parameters()] + [n for n, _ in model.named_buffers()]
        missing = sorted(set(self.param_names) - set(names))
        extra = sorted(set(names) - set(self.param_names))
        if missing or extra:
            raise ModuleFormError(
                f"{self.cls.__name__}'s parameters and buffers must be exactly Model's (the evaluator loads its "
                f"own values into them by name): missing {missing or 'none'}, extra {extra or 'none'}")
        return model


class NativeModuleCall:
    """kernel(*inputs) for a CUDA ModelNew (evaluator/native_module.py): its exported function, called
    with forward inputs, the parent's parameters (by the names forward passed) and literals, in
    forward's order. Nothing of the candidate's Python runs."""

    def __init__(self, op: Any, form: dict[str, Any]) -> None:
        self.op = op
        self.n_inputs = int(form["n_inputs"])
        self.n_params = len(form["param_names"])
        self.args = [(str(kind), value) for kind, value in form["native_call"]["args"]]

    def __call__(self, *inputs: Any) -> Any:
        if len(inputs) != self.n_inputs + self.n_params:
            raise ModuleFormError(f"expected {self.n_inputs} forward inputs and {self.n_params} parameters, "
                                  f"got {len(inputs)} values")
        values = [inputs[v] if kind == "input" else inputs[self.n_inputs + v] if kind == "param" else v
                  for kind, v in self.args]
        return self.op(*values)
