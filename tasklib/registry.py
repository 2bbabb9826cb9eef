"""Finding tasks: the built-in ones by name, a user's task defined in a Python file, and any task
rebuilt from its `TaskSpec`.

Owns: discovering the built-in task packages (every folder of tasklib/ with an __init__.py that
defines a module-level `TASK`; nothing lists them by hand), `get_task`, `list_tasks`,
`load_task_file`, `spec_of` / `task_from_spec` (a task as data, handed to workers) and their
one-line errors. Does not own: any task's behaviour, nor parsing KernelBench or FlashInfer-Trace
problems (kernelbench*.py, flashinfer_trace.py). A task module defines a module-level `TASK` (an
instance of a `Task` subclass); a user's file does the same, with its seeds in `seeds/` beside the
file (docs/user_tasks.md).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from warpsmith.records.tasks import TaskSpec
from warpsmith.tasklib.base import Task

_TASKLIB_DIR = Path(__file__).resolve().parent
# Listing order only (the headline tasks of TASKS.md first, then the rest by name): not a registration.
_LISTED_FIRST = ("moe_dispatch", "moe_align_block_size", "moe_combine", "rmsnorm")


def discover_builtin_tasks() -> tuple[str, ...]:
    """Names of the built-in task packages: every tasklib/<name>/__init__.py whose folder name is an
    identifier (whether it defines TASK is checked on import). The headline tasks first, then by name."""
    found = {d.name for d in _TASKLIB_DIR.iterdir()
             if d.is_dir() and d.name.isidentifier() and not d.name.startswith("_") and (d / "__init__.py").is_file()}
    return tuple(n for n in _LISTED_FIRST if n in found) + tuple(sorted(found - set(_LISTED_FIRST)))


BUILTIN_TASKS: tuple[str, ...] = discover_builtin_tasks()


class UnknownTaskError(ValueError):
    """No built-in task has this name; the message lists the known ones."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown task {name!r}; known tasks: {', '.join(BUILTIN_TASKS)}")
        self.name = name


class TaskFileError(ValueError):
    """A user's task file cannot be loaded; the message says why in one line."""


def get_task(name: str) -> Task:
    """The built-in task called `name`."""
    if name not in BUILTIN_TASKS:
        raise UnknownTaskError(name)
    module = importlib.import_module(f"warpsmith.tasklib.{name}")
    if not hasattr(module, "TASK"):
        raise TaskFileError(f"tasklib/{name}/__init__.py defines no module-level TASK (an instance of a Task subclass)")
    task = _task_of(module.TASK, f"warpsmith.tasklib.{name}")
    return task.model_copy(update={"origin": TaskSpec(kind="builtin", name=name)})


def list_tasks() -> list[Task]:
    """Every built-in task, in a stable order."""
    return [get_task(name) for name in BUILTIN_TASKS]


def load_task_file(path: str | Path) -> Task:
    """The `TASK` a user's Python file defines; its seeds are read from `seeds/` beside the file."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise TaskFileError(f"task file {path} does not exist")
    if path.suffix != ".py":
        raise TaskFileError(f"task file {path} is not a .py file")
    module_name = f"warpsmith_user_task_{path.stem}_{abs(hash(str(path))):x}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise TaskFileError(f"cannot import task file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # pydantic resolves the subclass's annotations through it
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[module_name]
        raise TaskFileError(f"syntax error in task file {path}, line {exc.lineno}: {exc.msg}") from exc
    except Exception as exc:
        del sys.modules[module_name]
        raise TaskFileError(f"task file {path} failed to import: {type(exc).__name__}: {exc}") from exc
    if not hasattr(module, "TASK"):
        raise TaskFileError(f"task file {path} defines no module-level TASK (an instance of a Task subclass)")
    task = _task_of(module.TASK, str(path))
    return task.model_copy(update={"source_dir": path.parent,
                                   "origin": TaskSpec(kind="file", name=task.name, path=str(path))})


def spec_of(task: Task) -> TaskSpec:
    """The spec a worker rebuilds `task` from: the one it was loaded with, else (a task constructed
    directly, as tests do) a built-in of the same name."""
    if task.origin is not None:
        return task.origin
    if task.name in BUILTIN_TASKS:
        return TaskSpec(kind="builtin", name=task.name)
    raise TaskFileError(f"task {task.name!r} was not loaded through the registry, so no worker can rebuild it; "
                        "load it with get_task, load_task_file or load_kernelbench")


def task_from_spec(spec: TaskSpec | dict) -> Task:
    """Rebuild the task a spec describes (in a worker, the child or the reference-timing process)."""
    spec = TaskSpec.model_validate(spec)
    if spec.kind == "builtin":
        return get_task(spec.name)
    if spec.kind == "file":
        if spec.path is None:
            raise TaskFileError(f"the spec of task {spec.name!r} names no file")
        return load_task_file(spec.path)
    if spec.kind == "kernelbench":
        from warpsmith.tasklib.kernelbench_task import kernelbench_task_from_spec

        return kernelbench_task_from_spec(spec)
    from warpsmith.tasklib.flashinfer_trace import trace_task_from_spec

    return trace_task_from_spec(spec)


def _task_of(obj: object, where: str) -> Task:
    if isinstance(obj, type) and issubclass(obj, Task):
        raise TaskFileError(f"TASK in {where} is the class {obj.__name__}; make it an instance: TASK = {obj.__name__}()")
    if not isinstance(obj, Task):
        raise TaskFileError(f"TASK in {where} is a {type(obj).__name__}, not an instance of a Task subclass")
    return obj
