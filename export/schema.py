"""The exported op's signature, read off the task itself: its inputs' kinds and its outputs' count.

Owns: `OpSchema` (the Python annotations of the op function and the `torch.library` schema string
a TORCH_LIBRARY registration declares). Does not own: the op's body (templates/).

The kinds come from real inputs (`make_inputs` on the first smoke shape) and the output count from
the reference on them, so the op's signature is exactly what the evaluator called `kernel` with.
Inputs other than tensors, floats, ints and bools (lists, None) have no op schema here: refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from warpsmith.tasklib.base import Task

_KINDS: tuple[tuple[type, str, str], ...] = (  # python type, annotation, schema type
    (torch.Tensor, "torch.Tensor", "Tensor"),
    (bool, "bool", "bool"),  # before int: a bool is an int
    (int, "int", "int"),
    (float, "float", "float"),
)


class SchemaError(ValueError):
    """The task's inputs or outputs have no torch.library schema (one line)."""


@dataclass(frozen=True)
class OpSchema:
    task: str
    params: tuple[tuple[str, str, str], ...]  # (name, python annotation, schema type)
    outputs: int

    @property
    def names(self) -> str:
        return ", ".join(name for name, _, _ in self.params)

    @property
    def python_params(self) -> str:
        return ", ".join(f"{name}: {annotation}" for name, annotation, _ in self.params)

    @property
    def python_return(self) -> str:
        if self.outputs == 1:
            return "torch.Tensor"
        return "tuple[" + ", ".join(["torch.Tensor"] * self.outputs) + "]"

    @property
    def schema(self) -> str:
        """The schema string, e.g. `rmsnorm(Tensor x, Tensor weight, float eps) -> Tensor`."""
        params = ", ".join(f"{kind} {name}" for name, _, kind in self.params)
        result = "Tensor" if self.outputs == 1 else "(" + ", ".join(["Tensor"] * self.outputs) + ")"
        return f"{self.task}({params}) -> {result}"


def op_schema(task: Task) -> OpSchema:
    shape = task.shapes("smoke")[0]
    inputs = task.make_inputs(shape, seed=0)
    expected = task.reference(*inputs)
    params = tuple(_param(task.name, name, value) for name, value in zip(task.input_names, inputs, strict=True))
    if not isinstance(expected, tuple) or not all(isinstance(t, torch.Tensor) for t in expected):
        raise SchemaError(f"task {task.name}: the reference does not return a tuple of tensors")
    return OpSchema(task=task.name, params=params, outputs=len(expected))


def _param(task: str, name: str, value: Any) -> tuple[str, str, str]:
    for python_type, annotation, kind in _KINDS:
        if isinstance(value, python_type):
            return name, annotation, kind
    raise SchemaError(
        f"task {task}: input {name!r} is a {type(value).__name__}; an exported op takes tensors, floats, ints, bools"
    )
