"""Finding tasks: the built-in ones by name, and a user's task defined in a Python file.

Owns: the list of built-in task modules, `get_task`, `list_tasks`, `load_task_file` and their
one-line errors. Does not own: any task's behaviour. A task module defines a module-level `TASK`
(an instance of a `Task` subclass); a user's file does the same, with its seeds in `seeds/`
beside the file (docs/user_tasks.md).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from warpsmith.tasklib.base import Task

BUILTIN_TASKS: tuple[str, ...] = ("moe_dispatch", "moe_align_block_size", "moe_combine", "rmsnorm")
# issue 13, first four serving kernels
BUILTIN_TASKS += ("fused_add_rmsnorm", "silu_and_mul", "gelu_and_mul", "topk_softmax")

# issue 13, second batch (kept on its own line so parallel additions merge cleanly)
BUILTIN_TASKS += ("moe_fused_gate", "per_token_group_quant_fp8", "merge_attn_states", "rotary_embedding")


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
    return _task_of(module.TASK, f"warpsmith.tasklib.{name}")


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
    return task.model_copy(update={"source_dir": path.parent})


def _task_of(obj: object, where: str) -> Task:
    if isinstance(obj, type) and issubclass(obj, Task):
        raise TaskFileError(f"TASK in {where} is the class {obj.__name__}; make it an instance: TASK = {obj.__name__}()")
    if not isinstance(obj, Task):
        raise TaskFileError(f"TASK in {where} is a {type(obj).__name__}, not an instance of a Task subclass")
    return obj
