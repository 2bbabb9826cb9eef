"""KernelBench problem files: reading them, running them with other size constants, finding them in a
checkout.

Owns: the module-level integer constants of a problem (`size_constants`, read with ast), executing the
problem's text with some of them replaced (`problem_namespace`, cached), what a problem's tensors
look like without allocating them (`trace_meta`: inputs, parameters and buffers, outputs on the meta
device), deriving smaller sizes for the smoke and check suites (`scaled_constants`), `input_key`
(the key the harness uses to pick a module's constructor arguments) and finding problems by level
and number in a checkout (`find_problems`). Does not own: the task built from a problem
(kernelbench_task.py) or running candidates.

A problem file is the user's own (or KernelBench's) code, executed here in the trusted parent and,
for timing, in the child before any candidate code exists; it is never a candidate. Level 4
(models downloaded from the Hugging Face hub) is out of scope.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

SCALABLE_MIN = 17  # constants above this are sizes; smaller ones (dims, kernel sizes, strides) stay
SCALE_FLOOR = 8  # never scale a size below this
_NAMESPACES: dict[tuple[str, tuple[tuple[str, int], ...]], dict[str, Any]] = {}


class KernelBenchError(ValueError):
    """A problem file that cannot be used as a task; the message says why in one line."""


def _int_bindings(stmt: ast.stmt) -> list[tuple[str, ast.Constant]]:
    """(name, literal) for `NAME = <int>` and `A, B = <int>, <int>` at module level (bools excluded)."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
        return []
    target, value = stmt.targets[0], stmt.value
    pairs = [(target, value)]
    if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
        pairs = list(zip(target.elts, value.elts, strict=True))
    return [(t.id, v) for t, v in pairs
            if isinstance(t, ast.Name) and isinstance(v, ast.Constant) and type(v.value) is int]


def size_constants(source: str) -> dict[str, int]:
    """Module-level integer constants (`NAME = <int>`, `A, B = <int>, <int>`), in file order."""
    return {name: literal.value for stmt in _parse(source).body for name, literal in _int_bindings(stmt)}


def _parse(source: str) -> ast.Module:
    try:
        return ast.parse(source)
    except SyntaxError as exc:
        raise KernelBenchError(f"syntax error in the problem file, line {exc.lineno}: {exc.msg}") from exc


def problem_namespace(source: str, constants: dict[str, int] | None = None) -> dict[str, Any]:
    """The problem's globals after executing its text with `constants` replacing the module-level ones."""
    constants = constants or {}
    key = (hashlib.sha256(source.encode()).hexdigest(), tuple(sorted(constants.items())))
    if key in _NAMESPACES:
        return _NAMESPACES[key]
    tree = _parse(source)
    for stmt in tree.body:
        for name, literal in _int_bindings(stmt):
            if name in constants:
                literal.value = constants[name]
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
    module = types.ModuleType(f"warpsmith_kernelbench_{digest}")
    sys.modules[module.__name__] = module  # torch.compile looks the Model's module up by name
    namespace = module.__dict__
    try:
        exec(compile(tree, "<kernelbench problem>", "exec"), namespace)  # the user's problem file, trusted
    except Exception as exc:
        raise KernelBenchError(f"the problem file failed to run: {type(exc).__name__}: {exc}") from exc
    missing = [n for n in ("Model", "get_inputs", "get_init_inputs") if not callable(namespace.get(n))]
    if missing:
        raise KernelBenchError(f"the problem file defines no {', '.join(missing)} (KernelBench format: class Model, "
                               "get_inputs(), get_init_inputs())")
    _NAMESPACES[key] = namespace
    return namespace


@dataclass(frozen=True)
class MetaTrace:
    """A problem's tensors at some sizes, traced on the meta device (no memory, no computation)."""

    inputs: tuple[Any, ...]  # meta tensors and Python scalars, as get_inputs() returns them
    init_inputs: tuple[Any, ...]
    params: tuple[tuple[str, torch.Tensor], ...]  # parameters, then buffers, by dotted name
    outputs: tuple[torch.Tensor, ...]
    nn_classes: frozenset[str]  # torch.nn classes the Model is built from

    def largest(self) -> int:
        tensors = [*[v for v in self.inputs if isinstance(v, torch.Tensor)], *[t for _, t in self.params],
                   *self.outputs]
        return max((t.numel() for t in tensors), default=0)


def trace_meta(source: str, constants: dict[str, int] | None = None) -> MetaTrace:
    """The problem's tensors at `constants` (cached per text and sizes)."""
    return _trace(source, tuple(sorted((constants or {}).items())))


@functools.lru_cache(maxsize=256)
def _trace(source: str, items: tuple[tuple[str, int], ...]) -> MetaTrace:
    constants = dict(items)
    namespace = problem_namespace(source, constants)
    try:
        with torch.device("meta"):
            init = tuple(namespace["get_init_inputs"]())
            model = namespace["Model"](*init)
            inputs = tuple(namespace["get_inputs"]())
            with torch.no_grad():
                out = model(*inputs)
    except Exception as exc:
        raise KernelBenchError(f"the problem cannot be traced at sizes {constants or 'as written'}: "
                               f"{type(exc).__name__}: {exc}"[:400]) from exc
    outputs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    if not all(isinstance(o, torch.Tensor) for o in outputs):
        raise KernelBenchError("Model.forward must return a tensor or a tuple of tensors")
    params = tuple(model.named_parameters()) + tuple(model.named_buffers())
    classes = frozenset(type(m).__name__ for m in model.modules()
                        if type(m).__module__.startswith("torch.nn.") and type(m) is not torch.nn.Module)
    return MetaTrace(inputs, init, params, outputs, classes)


def scaled_constants(source: str, target: int, odd: bool = False) -> dict[str, int]:
    """Size constants halved, the largest first, until no tensor holds more than `target` elements;
    a constant whose halving breaks the problem (a shape constraint) is left where it was. With `odd`,
    each scaled constant is then made odd where the problem allows (sizes that divide no block size)."""
    constants = size_constants(source)
    current = dict(constants)
    frozen: set[str] = set()
    largest = trace_meta(source, current).largest()
    while largest > target:
        movable = [k for k, v in current.items() if v >= SCALABLE_MIN and k not in frozen and v // 2 >= SCALE_FLOOR]
        if not movable:
            break
        name = max(movable, key=lambda k: current[k])
        trial = {**current, name: current[name] // 2}
        try:
            largest = trace_meta(source, trial).largest()
            current = trial
        except KernelBenchError:
            frozen.add(name)
    if odd:
        for name in [k for k in current if current[k] != constants[k] and current[k] % 2 == 0]:
            trial = {**current, name: current[name] - 1}
            try:
                trace_meta(source, trial)
                current = trial
            except KernelBenchError:
                pass
    return current


def input_key(inputs: tuple[Any, ...] | list[Any]) -> str:
    """The key that picks a module's constructor arguments: every input's shape (tensors) or value."""
    return "|".join(f"T{list(v.shape)}" if isinstance(v, torch.Tensor) else repr(v) for v in inputs)


_PROBLEM_FILE = re.compile(r"^(\d+)_\w+\.py$")


def problem_number(path: Path) -> int | None:
    match = _PROBLEM_FILE.match(path.name)
    return int(match.group(1)) if match else None


def find_problems(root: Path, levels: list[int], problems: list[int] | None) -> list[tuple[int, Path]]:
    """(level, path) of each problem in a KernelBench checkout (root, root/KernelBench or a level folder)."""
    found: list[tuple[int, Path]] = []
    for level in levels:
        if level == 4:
            raise KernelBenchError("level 4 is out of scope: its problems download model weights")
        folder = next((d for d in (root / "KernelBench" / f"level{level}", root / f"level{level}") if d.is_dir()), None)
        if folder is None:
            raise KernelBenchError(f"no level{level} folder under {root} (point --kernelbench-dir at a KernelBench "
                                   "checkout, or at its KernelBench/ folder)")
        numbered = {n: p for p in folder.glob("*.py") if (n := problem_number(p)) is not None}
        wanted = sorted(numbered) if problems is None else problems
        absent = [n for n in wanted if n not in numbered]
        if absent:
            raise KernelBenchError(f"level {level} has no problem(s) {', '.join(map(str, absent))} in {folder}")
        found += [(level, numbered[n]) for n in wanted]
    return found


# KernelBench's own representative subset (35 problems: 18 + 8 + 9), copied from
# ScalingIntelligence/KernelBench src/kernelbench/dataset.py (LEVEL{1,2,3}_REPRESENTATIVE_IDS, commit 423217d):
# the default problem set of `warpsmith bench kernelbench`.
REPRESENTATIVE_SUBSET: dict[int, tuple[int, ...]] = {
    1: (1, 3, 6, 18, 23, 26, 33, 36, 40, 42, 48, 54, 57, 65, 77, 82, 86, 87),
    2: (1, 2, 8, 18, 23, 28, 33, 43),
    3: (1, 5, 8, 11, 20, 21, 33, 38, 43),
}


def representative_problems(root: Path, levels: list[int]) -> list[tuple[int, Path]]:
    """(level, path) of KernelBench's representative subset of each level, in a checkout."""
    found: list[tuple[int, Path]] = []
    for level in levels:
        if level == 4:
            raise KernelBenchError("level 4 is out of scope: its problems download model weights")
        if level not in REPRESENTATIVE_SUBSET:
            raise KernelBenchError(f"KernelBench defines no representative subset for level {level}: "
                                   "give --problems (e.g. --problems 1-20 or --problems all)")
        try:
            found += find_problems(root, [level], list(REPRESENTATIVE_SUBSET[level]))
        except KernelBenchError as error:
            raise KernelBenchError(f"{error} (the default is KernelBench's representative subset; "
                                   "give --problems to pick others, or --problems all)") from None
    return found


def parse_numbers(text: str) -> list[int]:
    """'1-20,23' -> [1, ..., 20, 23]; a one-line error for anything else."""
    numbers: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise KernelBenchError(f"cannot read {part!r} in {text!r}: write numbers and ranges, e.g. 1-20,23")
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        if high < low:
            raise KernelBenchError(f"range {part!r} runs backwards")
        numbers += range(low, high + 1)
    return sorted(dict.fromkeys(numbers))
