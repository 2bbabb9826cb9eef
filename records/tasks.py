"""A task as data: `TaskSpec`, what a worker needs to rebuild any task without importing it by name.

Owns: the serializable description of a task (built-in, a user's task file, a KernelBench problem,
a FlashInfer-Trace definition) that the trusted parent hands to the sandboxed child and to the
reference-timing process. Does not own: building a `Task` from it (warpsmith.tasklib.registry
`task_from_spec`) or any behaviour of a task.

A spec carries the source text of a problem file (not only its path), so a worker rebuilds exactly
the problem the parent checked, even when the file changed on disk meanwhile or lies outside the
folders a sandboxed child may read.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TaskKind = Literal["builtin", "file", "kernelbench", "flashinfer_trace"]


class TaskSpec(BaseModel):
    """Enough to rebuild one task in another process."""

    model_config = ConfigDict(frozen=True)

    kind: TaskKind = Field(description="Where the task comes from.")
    name: str = Field(description="The task's name (a built-in's folder name, or derived from the file).")
    path: str | None = Field(default=None, description="The file the task was read from (file, kernelbench, "
                             "flashinfer_trace); informative for kernelbench, whose text is in `source`.")
    source: str | None = Field(default=None, description="The problem file's text (kernelbench, flashinfer_trace).")
    workloads: str | None = Field(default=None, description="FlashInfer-Trace workload.jsonl text, when given.")
    level: int | None = Field(default=None, description="KernelBench level (1-3) when known from the path.")
    problem_id: int | None = Field(default=None, description="KernelBench problem number when known from the name.")
    tolerance: float | None = Field(default=None, description="atol = rtol for float outputs; None: the kind's default.")
    allowed_torch_ops: tuple[str, ...] = Field(
        default=(), description="Torch calls a candidate may make besides allocation and views (added to the base).")
    smoke_elements: int = Field(default=1 << 12, description="Target elements per tensor for the smoke suite.")
    check_elements: int = Field(default=1 << 14, description="Target elements per tensor for the check suite.")
