"""A FlashInfer-Trace definition (definition.json, optionally with its workload.jsonl) as a task.

Owns: `FlashInferTraceTask` and `load_trace_definition` / `trace_task_from_spec`. The definition's
`inputs` (in order) are kernel(...)'s inputs, its `outputs` the outputs; the reference is the
definition's `reference` code (its global `run`, called with the inputs by name). Shapes: `bench`
is one shape per workload (its `var` axes bound; the `const` axes as defined), or var axes of 16,
128 and 1024 without workloads; `smoke` binds every var axis to 2, `check` to 1 and to 7. Scalar
inputs (shape null) take the value the first workload gives them (1e-6 for a float, 1 for an int,
False for a bool when none does). Tensor inputs are drawn from the trial's seed: floats from the
trial's distribution (tasklib/values.py), integers uniform in [0, 16), bools at random. Workload inputs
of type `safetensors` (`path` relative to the TraceSet root, `tensor_key`) are read in the trusted
parent when the task is built (flashinfer_workloads.py) and checked against the definition's dtype and
shape under that workload's axes; on its bench shape an integer or bool input is the stored tensor (the
structure a workload records: index pointers, lengths), a float input is drawn from the trial's seed
in its shape (values the candidate cannot know). The definition's `constraints` that are arithmetic
over axes are checked for every workload and for the smoke and check bindings; a violation is one
TraceError line. Tolerance: the dtype defaults (tasklib/checking.py) unless the spec sets one.
Not supported yet: structured integer inputs on the smoke and check shapes (random integers are not
a valid page table), and constraints over tensor contents (listed, not checked).
Does not own: running candidates.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from warpsmith.records.tasks import TaskSpec
from warpsmith.tasklib.base import Cost, Shape, Suite, Task
from warpsmith.tasklib.checking import ElementwiseChecked
from warpsmith.tasklib.flashinfer_workloads import (
    TraceError,
    checkable,
    constraint_problem,
    repaired,
    resolve_safetensors,
    stored_inputs,
    stored_tensor,
    workload_entries,
)
from warpsmith.tasklib.values import random_values

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
          "float8_e4m3fn": torch.float8_e4m3fn, "float8_e5m2": torch.float8_e5m2, "int64": torch.int64,
          "int32": torch.int32, "int16": torch.int16, "int8": torch.int8, "bool": torch.bool}
_NAMESPACES: dict[str, dict[str, Any]] = {}


class FlashInferTraceTask(ElementwiseChecked, Task):
    """One FlashInfer-Trace definition; see the module docstring."""

    const_axes: dict[str, int]
    var_axes: tuple[str, ...]
    tensors: dict[str, tuple[tuple[str, ...] | None, str]]  # name -> (axis names or None: a scalar, dtype)
    scalars: dict[str, float | int | bool]
    reference_source: str
    bench_axes: list[dict[str, int]]
    bench_labels: list[str]
    # per bench shape's label, the inputs its workload stores in safetensors files: {input: (absolute path, tensor key)}
    stored: dict[str, dict[str, tuple[str, str]]] = {}
    constraints: list[str] = []  # the definition's, as written
    tolerance: float | None = None
    require_launch: bool = True

    def shapes(self, suite: Suite) -> list[Shape]:
        if suite == "smoke":
            return [self._shape("var=2", self._synthetic(2))]
        if suite == "check":
            return [self._shape("var=1", self._synthetic(1)), self._shape("var=7", self._synthetic(7))]
        if suite == "bench":
            return [self._shape(label, axes) for label, axes in zip(self.bench_labels, self.bench_axes, strict=True)]
        raise ValueError(f"unknown suite {suite!r}")

    def _shape(self, label: str, var: dict[str, int]) -> Shape:
        return Shape(label=_label(label, var), dims={**self.const_axes, **var})

    def _synthetic(self, n: int) -> dict[str, int]:
        """Every var axis n, then the definition's equality constraints met (flashinfer_workloads.repaired)."""
        found = repaired(self.constraints, {**self.const_axes, **{a: n for a in self.var_axes}}, self.var_axes)
        return {a: found[a] for a in self.var_axes}

    def _size(self, axes: tuple[str, ...], shape: Shape) -> tuple[int, ...]:
        return tuple(int(shape.dims[a]) for a in axes)

    def make_inputs(self, shape: Shape, seed: int, device: str | torch.device = "cpu",
                    distribution: str | None = None) -> tuple[Any, ...]:
        generator, dist = self.random_source(seed, distribution)
        stored = self.stored.get(shape.label, {})
        values: list[Any] = []
        for name in self.input_names:
            axes, dtype_name = self.tensors[name]
            if axes is None:
                values.append(self.scalars[name])
                continue
            size, dtype = self._size(axes, shape), DTYPES[dtype_name]
            if name in stored and not dtype.is_floating_point:  # structure (indices, lengths) as the workload has it
                values.append(stored_tensor(*stored[name]).clone().to(device))
                continue
            if dtype.is_floating_point:  # values from the secret seed, also where the workload stores floats
                value = random_values(size, dist, generator, torch.float32)
                value = value.clamp(-448, 448) if dtype_name.startswith("float8") else value
            elif dtype == torch.bool:
                value = torch.rand(size, generator=generator) < 0.5
            else:
                value = torch.randint(0, 16, size, generator=generator)
            values.append(value.to(dtype).to(device))
        return tuple(values)

    def reference(self, *inputs: Any) -> tuple[torch.Tensor, ...]:
        run = _namespace(self.reference_source)["run"]
        out = run(**dict(zip(self.input_names, inputs, strict=True)))
        return tuple(out) if isinstance(out, (tuple, list)) else (out,)

    def cost(self, shape: Shape) -> Cost:
        total = 0
        for axes, dtype_name in self.tensors.values():
            if axes is not None:
                numel = 1
                for d in self._size(axes, shape):
                    numel *= d
                total += numel * DTYPES[dtype_name].itemsize
        return Cost(bytes=total)


def _label(label: str, var: dict[str, int]) -> str:
    text = " ".join(f"{k}={v}" for k, v in var.items()) or "no var axes"
    return f"{label} {text}" if not label.startswith("var=") else text


def _namespace(source: str) -> dict[str, Any]:
    if source not in _NAMESPACES:
        namespace: dict[str, Any] = {"__name__": "warpsmith_flashinfer_reference"}
        try:
            exec(compile(source, "<flashinfer-trace reference>", "exec"), namespace)  # the user's definition
        except Exception as exc:
            raise TraceError(f"the definition's reference failed to run: {type(exc).__name__}: {exc}") from exc
        if not callable(namespace.get("run")):
            raise TraceError("the definition's reference defines no global function run(...)")
        _NAMESPACES[source] = namespace
    return _NAMESPACES[source]


def trace_task_from_spec(spec: TaskSpec) -> FlashInferTraceTask:
    try:
        definition = json.loads(spec.source or "")
    except ValueError as exc:
        raise TraceError(f"the definition is not JSON: {exc}") from exc
    missing = [k for k in ("name", "axes", "inputs", "outputs", "reference") if k not in definition]
    if missing:
        raise TraceError(f"the definition lacks {', '.join(missing)}")
    axes = definition["axes"]
    const = {k: int(v["value"]) for k, v in axes.items() if v.get("type") == "const"}
    var = tuple(k for k, v in axes.items() if v.get("type") == "var")
    tensors: dict[str, tuple[tuple[str, ...] | None, str]] = {}
    for name, entry in [*definition["inputs"].items(), *definition["outputs"].items()]:
        if entry["dtype"] not in DTYPES:
            raise TraceError(f"{name}: dtype {entry['dtype']!r} is not supported ({', '.join(DTYPES)})")
        shape = entry.get("shape")
        unknown = [a for a in (shape or []) if a not in axes]
        if unknown:
            raise TraceError(f"{name}: axes {unknown} are not in the definition's axes")
        tensors[name] = (tuple(shape) if shape is not None else None, entry["dtype"])
    workloads = workload_entries(spec.workloads)
    scalars: dict[str, float | int | bool] = {}
    for name, entry in definition["inputs"].items():
        if entry.get("shape") is None:
            given = next((w["inputs"][name]["value"] for w in workloads
                          if w.get("inputs", {}).get(name, {}).get("type") == "scalar"), None)
            default = 1e-6 if entry["dtype"].startswith(("float", "bfloat")) else (False if entry["dtype"] == "bool" else 1)
            scalars[name] = given if given is not None else default
    constraints = [str(c) for c in definition.get("constraints") or []]
    generic = [repaired(constraints, {**const, **{a: n for a in var}}, var) for n in (16, 128, 1024)]
    bench = [{a: int(w["axes"][a]) for a in var} for w in workloads] or [{a: g[a] for a in var} for g in generic]
    labels = [f"workload {str(w.get('uuid', i))[:8]}" for i, w in enumerate(workloads)]
    labels = [label if labels.count(label) == 1 else f"{label} #{i}" for i, label in enumerate(labels)] or \
        ["var"] * len(bench)
    synthetic = [("the smoke shape (var axes 2)", 2), ("a check shape (var axes 1)", 1), ("a check shape (var axes 7)", 7)]
    made = [(lbl, repaired(constraints, {**const, **{a: n for a in var}}, var)) for lbl, n in synthetic]
    named = list(zip(labels, bench, strict=True)) if workloads else \
        [(f"the generic bench shape (var axes {n})", b) for n, b in zip((16, 128, 1024), bench, strict=True)]
    for label, axes_now in [*named, *made]:
        if problem := constraint_problem(constraints, {**const, **axes_now}, label):
            raise TraceError(problem)
    stored = {_label(label, axes_now): found for label, w, axes_now in zip(labels, workloads, bench, strict=False)
              if (found := stored_inputs(w, label, tensors, {**const, **axes_now}, DTYPES))}
    kept = sorted({n for found in stored.values() for n in found})
    unchecked = [c for c in constraints if not checkable(c, set(axes))]
    note = (f" Constraints not checked (they name more than axes): {'; '.join(unchecked)}." if unchecked else "")
    note += (f" Workload inputs {', '.join(kept)} are read from the workload's safetensors files (integer and bool "
            "tensors as stored; float tensors drawn from the trial's seed in their shape)." if kept else "")
    signature = "kernel(" + ", ".join(
        f"{n}[{','.join(tensors[n][0])}] {tensors[n][1]}" if tensors[n][0] is not None else f"{n}: {tensors[n][1]}"
        for n in definition["inputs"]) + ") -> " + ", ".join(
        f"{n}[{','.join(tensors[n][0] or ())}] {tensors[n][1]}" for n in definition["outputs"])
    description = (f"FlashInfer-Trace definition {definition['name']}: {definition.get('description', '')} "
                   f"Const axes {const}; var axes {list(var)}.{note} Reference (its run(...) is the "
                   f"specification):\n\n```python\n{definition['reference']}\n```")
    return FlashInferTraceTask(
        name=spec.name, description=description, signature=signature,
        input_names=tuple(definition["inputs"]), output_names=tuple(definition["outputs"]),
        const_axes=const, var_axes=var, tensors=tensors, scalars=scalars,
        reference_source=definition["reference"], bench_axes=bench, bench_labels=labels, stored=stored, constraints=constraints,
        tolerance=spec.tolerance, origin=spec)


def load_trace_definition(path: str | Path, workloads: str | Path | None = None,
                          tolerance: float | None = None) -> FlashInferTraceTask:
    """The task for a definition.json (and its workload.jsonl); a one-line TraceError otherwise."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise TraceError(f"definition file {path} does not exist")
    text = path.read_text()
    workload_text = None
    if workloads is not None:
        workloads = Path(workloads).expanduser().resolve()
        if not workloads.is_file():
            raise TraceError(f"workload file {workloads} does not exist")
        workload_text = resolve_safetensors(workloads.read_text(), workloads.parent)
    try:
        name = json.loads(text).get("name") or path.stem
    except (ValueError, AttributeError) as exc:
        raise TraceError(f"the definition {path} is not a JSON object") from exc
    spec = TaskSpec(kind="flashinfer_trace", name=re.sub(r"\W", "_", str(name).lower()), path=str(path),
                    source=text, workloads=workload_text, tolerance=tolerance)
    return trace_task_from_spec(spec)
