"""FlashInfer-Trace workloads: their lines, the safetensors inputs they name, and the definition's constraints.

Owns: reading workload.jsonl lines (`workload_entries`), making the safetensors paths they name absolute
(`resolve_safetensors`: a path is relative to the TraceSet root, so it is looked up beside the workload
file and in each folder above it), loading one stored tensor in the trusted parent (`stored_tensor`,
the `safetensors` package: `pip install 'warpsmith[flashinfer]'`), checking every stored tensor's dtype
and shape against the definition under its workload's axes (`stored_inputs`), and evaluating the
definition's `constraints` (arithmetic over axis names, e.g. "H_qo == H_kv * H_r") for a binding of the
axes (`constraint_problem`). A constraint that names anything but axes (a tensor's contents) cannot be
checked from the axes and is listed as unchecked. Every problem is one TraceError line (the error of flashinfer_trace.py too).
Does not own: the task (flashinfer_trace.py) or what a stored tensor becomes in a trial.
"""

from __future__ import annotations

import ast
import json
import operator
from pathlib import Path
from typing import Any

import torch

_LOADED: dict[tuple[str, str], torch.Tensor] = {}
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge}


class TraceError(ValueError):
    """A definition or workload file that cannot be a task; the message says why in one line."""


def workload_entries(text: str | None) -> list[dict[str, Any]]:
    found = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if line.strip():
            try:
                entry = json.loads(line)
            except ValueError as exc:
                raise TraceError(f"workload line {number} is not JSON: {exc}") from exc
            found.append(entry.get("workload", entry))
    return found


def resolve_safetensors(text: str, base: Path) -> str:
    """The workload text with every safetensors `path` made absolute (looked up under `base` and each
    folder above it, as a TraceSet root may be); a one-line TraceError when a file is in none."""
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        entry = json.loads(line)
        workload = entry.get("workload", entry)
        for name, spec in (workload.get("inputs") or {}).items():
            if isinstance(spec, dict) and spec.get("type") == "safetensors":
                if not spec.get("path") or not spec.get("tensor_key"):
                    raise TraceError(f"workload line {number}: input {name} of type safetensors needs path and "
                                        "tensor_key")
                relative = Path(spec["path"])
                found = next((p for p in [relative, *[d / relative for d in [base, *base.parents]]]
                              if p.is_absolute() and p.is_file()), None)
                if found is None:
                    raise TraceError(f"workload line {number}: input {name} names {spec['path']}, found neither "
                                        f"as given nor under {base} or a folder above it (the TraceSet root)")
                spec["path"] = str(found.resolve())
        lines.append(json.dumps(entry))
    return "\n".join(lines) + "\n"


def stored_tensor(path: str, key: str) -> torch.Tensor:
    """One tensor of a safetensors file, read in this (trusted) process and cached; CPU."""
    if (path, key) not in _LOADED:
        try:
            from safetensors import safe_open
        except ImportError:
            raise TraceError("workload inputs are safetensors files: install the safetensors package "
                                "(pip install 'warpsmith[flashinfer]')") from None
        try:
            with safe_open(path, framework="pt") as handle:
                if key not in handle.keys():  # noqa: SIM118 - safe_open is not a mapping
                    raise TraceError(f"{path} holds no tensor {key!r} (it holds {', '.join(handle.keys())[:200]})")
                _LOADED[(path, key)] = handle.get_tensor(key)
        except TraceError:
            raise
        except Exception as exc:  # noqa: BLE001 - a file that is not safetensors: one line
            raise TraceError(f"{path} cannot be read as safetensors: {type(exc).__name__}: {exc}"[:300]) from None
    return _LOADED[(path, key)]


def stored_inputs(workload: dict[str, Any], label: str, tensors: dict[str, tuple[tuple[str, ...] | None, str]],
                  axes: dict[str, int], dtypes: dict[str, torch.dtype]) -> dict[str, tuple[str, str]]:
    """{input: (path, key)} of a workload's safetensors inputs, each loaded and checked against the
    definition's dtype and shape under `axes`."""
    found = {}
    for name, spec in (workload.get("inputs") or {}).items():
        if not (isinstance(spec, dict) and spec.get("type") == "safetensors"):
            continue
        if name not in tensors or tensors[name][0] is None:
            raise TraceError(f"{label}: input {name} is stored in a safetensors file but is not a tensor input "
                                "of the definition")
        shape_axes, dtype_name = tensors[name]
        tensor = stored_tensor(spec["path"], spec["tensor_key"])
        expected = [int(axes[a]) for a in shape_axes or ()]
        if list(tensor.shape) != expected or tensor.dtype != dtypes[dtype_name]:
            raise TraceError(
                f"{label}: input {name} in {Path(spec['path']).name}[{spec['tensor_key']}] is "
                f"{str(tensor.dtype).removeprefix('torch.')} {list(tensor.shape)}, the definition says {dtype_name} "
                f"[{', '.join(shape_axes or ())}] = {expected}")
        found[name] = (spec["path"], spec["tensor_key"])
    return found


def _value(node: ast.AST, axes: dict[str, int]) -> Any:
    if isinstance(node, ast.Expression):
        return _value(node.body, axes)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in axes:
            raise KeyError(node.id)
        return axes[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_value(node.left, axes), _value(node.right, axes))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
        inner = _value(node.operand, axes)
        return -inner if isinstance(node.op, ast.USub) else inner if isinstance(node.op, ast.UAdd) else not inner
    if isinstance(node, ast.BoolOp):
        values = [_value(v, axes) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
        left, ok = _value(node.left, axes), True
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _value(right_node, axes)
            ok, left = ok and _COMPARE[type(op)](left, right), right
        return ok
    raise KeyError(type(node).__name__)


def checkable(constraint: str, axis_names: set[str]) -> bool:
    """True when the constraint is arithmetic over axis names only (it can be checked from the axes)."""
    try:
        _value(ast.parse(constraint, mode="eval"), {a: 1 for a in axis_names})
    except (SyntaxError, KeyError, ValueError, TypeError):
        return False
    except ZeroDivisionError:
        return True
    return True


def constraint_problem(constraints: list[str], axes: dict[str, int], label: str) -> str | None:
    """Why `axes` break one of the (checkable) constraints, in one line; None when they hold."""
    for constraint in constraints:
        if not checkable(constraint, set(axes)):
            continue
        try:
            holds = bool(_value(ast.parse(constraint, mode="eval"), axes))
        except ZeroDivisionError:
            holds = False
        if not holds:
            names = sorted({n.id for n in ast.walk(ast.parse(constraint, mode="eval")) if isinstance(n, ast.Name)})
            bound = ", ".join(f"{n}={axes[n]}" for n in names)
            return f"{label} breaks the definition's constraint {constraint!r} ({bound})"
    return None


def repaired(constraints: list[str], axes: dict[str, int], var: tuple[str, ...]) -> dict[str, int]:
    """A synthetic binding (every var axis the same) made to meet equality constraints where one side is
    a var axis alone (`batch_plus_one == batch + 1` sets batch_plus_one): what the smoke and check shapes
    use. Constraints it cannot meet are left for constraint_problem to report."""
    axes = dict(axes)
    for _ in range(len(constraints) + 1):
        changed = False
        for constraint in constraints:
            if not checkable(constraint, set(axes)):
                continue
            tree = ast.parse(constraint, mode="eval").body
            if not (isinstance(tree, ast.Compare) and len(tree.ops) == 1 and isinstance(tree.ops[0], ast.Eq)):
                continue
            for target, other in ((tree.left, tree.comparators[0]), (tree.comparators[0], tree.left)):
                if isinstance(target, ast.Name) and target.id in var:
                    try:
                        value = _value(other, axes)
                    except (KeyError, ZeroDivisionError):
                        break
                    if isinstance(value, int) and value > 0 and axes[target.id] != value:
                        axes[target.id], changed = value, True
                    break
        if not changed:
            break
    return axes
