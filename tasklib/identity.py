"""The identity of a task's definition: one hash over everything that decides a verdict.

Owns: `task_definition_hash(task)`. Covered: the source text of the module that defines the
task's class and of every module it reaches through its globals that is part of warpsmith.tasklib
(the base class, the default checker in checking.py, helpers such as moe_common.py and values.py)
or lies in the same folder as the task's module (a user's helper beside the task file), the
class's bases, the task's fields (signature, input and output names, allowed torch ops, trial
seeds, and any field a subclass adds, e.g. tolerances) and the shapes of every suite.
Not covered, on purpose: `description` (agent-facing prose, not a judged property),
`source_dir` (where the seeds lie; moving a task file does not change what it asks) and `origin`
(how a worker rebuilds the task; what it asks is covered by the fields and sources above) and
`seed_file` (a KernelBench run's starting kernel, not part of the problem).
Does not own: where the hash is stored or compared (warpsmith.agents.mapping, warpsmith.store).

Decisions:
- Sources are read from the files on disk, not through `inspect.getsource`: linecache may
  serve a stale copy of a file edited while the process runs.
- A user's task module is loaded under a per-process name (registry.load_task_file), so
  modules outside warpsmith are keyed by their text's digest, not by their name: importing the
  same file again, from any process or folder, gives the same hash.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from warpsmith.tasklib.base import SUITES, Task

_TASKLIB = "warpsmith.tasklib"
# Task.check imports the default checker lazily, so no global of a task module points at it.
_ALWAYS = ("warpsmith.tasklib.base", "warpsmith.tasklib.checking")
_NOT_DEFINITION = {"description", "source_dir", "origin", "seed_file"}


def _digest(text: str | bytes) -> str:
    return hashlib.sha256(text if isinstance(text, bytes) else text.encode()).hexdigest()


def _module_of(obj: Any) -> ModuleType | None:
    if isinstance(obj, ModuleType):
        return obj
    name = getattr(obj, "__module__", None)
    return sys.modules.get(name) if isinstance(name, str) else None


def _folder(module: ModuleType) -> Path | None:
    path = getattr(module, "__file__", None)
    return Path(path).resolve().parent if path else None


def _defining_modules(task: Task) -> list[ModuleType]:
    """The task class's modules (its bases' too) and every tasklib module their globals reach."""
    roots = [_module_of(cls) for cls in type(task).__mro__ if cls not in (object, BaseModel)]
    roots += [importlib.import_module(name) for name in _ALWAYS]
    own = {m.__name__ for m in roots if m is not None}
    folders = {_folder(m) for m in roots if m is not None} - {None}
    seen: dict[str, ModuleType] = {}
    pending = [m for m in roots if m is not None]
    while pending:
        module = pending.pop()
        if module.__name__ in seen:
            continue
        seen[module.__name__] = module
        for value in list(vars(module).values()):
            found = _module_of(value)
            if found is None or found.__name__ in seen:
                continue
            if found.__name__.startswith(_TASKLIB) or found.__name__ in own or _folder(found) in folders:
                pending.append(found)
    return list(seen.values())


def _source_digest(module: ModuleType) -> str:
    path = getattr(module, "__file__", None)
    if not path or not Path(path).is_file():
        return f"no-source:{module.__name__}"
    stat = Path(path).stat()
    return _file_digest(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=512)  # every evaluation asks: a file is hashed again only when it changed
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    return _digest(Path(path).read_bytes())


def _normalized(value: Any) -> Any:
    """A JSON value that is the same in every process (sets sorted, models dumped)."""
    if isinstance(value, BaseModel):
        return _normalized(value.model_dump())
    if isinstance(value, set | frozenset):
        return sorted((_normalized(item) for item in value), key=repr)
    if isinstance(value, list | tuple):
        return [_normalized(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _normalized(item) for key, item in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def _shapes(task: Task) -> dict[str, Any]:
    suites: dict[str, Any] = {}
    for suite in SUITES:
        try:
            suites[suite] = [_normalized(shape) for shape in task.shapes(suite)]
        except Exception as error:  # a suite the task does not define is part of its definition too
            suites[suite] = f"error: {type(error).__name__}: {error}"
    return suites


def task_definition_hash(task: Task) -> str:
    """sha256 (hex) of the task's definition: reference and checker sources, fields, shapes."""
    sources = sorted(
        (
            module.__name__ if module.__name__.startswith("warpsmith.") else "user-module",
            _source_digest(module),
        )
        for module in _defining_modules(task)
    )
    fields = {
        name: _normalized(getattr(task, name))
        for name in sorted(type(task).model_fields)
        if name not in _NOT_DEFINITION
    }
    definition = {"sources": sources, "fields": fields, "shapes": _shapes(task)}
    return _digest(json.dumps(definition, sort_keys=True))
