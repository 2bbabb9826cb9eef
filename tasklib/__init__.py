"""warpsmith.tasklib: what each kernel must compute, on which shapes, and how it is judged.

Owns: the `Task` contract (base.py), the built-in tasks (one folder each, seeds inside) and the
registry. Does not own: running or timing candidates (warpsmith.evaluator).
"""

from warpsmith.tasklib.base import (
    BASE_ALLOWED_TORCH_OPS,
    DISTRIBUTIONS,
    SUITES,
    CheckReport,
    Cost,
    Shape,
    Task,
)
from warpsmith.tasklib.registry import (
    BUILTIN_TASKS,
    TaskFileError,
    UnknownTaskError,
    get_task,
    list_tasks,
    load_task_file,
)

__all__ = [
    "BASE_ALLOWED_TORCH_OPS",
    "BUILTIN_TASKS",
    "DISTRIBUTIONS",
    "SUITES",
    "CheckReport",
    "Cost",
    "Shape",
    "Task",
    "TaskFileError",
    "UnknownTaskError",
    "get_task",
    "list_tasks",
    "load_task_file",
]
