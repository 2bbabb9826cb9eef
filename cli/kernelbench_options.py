"""The options for tasks brought as files, shared by `tasks show`, `eval` and `optimize`.

Owns: turning `--kernelbench FILE` or `--kernelbench-dir DIR --level L --problems N`, or
`--trace-definition definition.json [--workloads workload.jsonl]` (plus `--tolerance`) into one task,
with each mistake a one-line usage error; `options`, the decorator that gives a command all seven options
at once as one `BroughtTask`. Does not own: reading problems (warpsmith.tasklib.kernelbench*,
warpsmith.tasklib.flashinfer_trace) or running many of them (bench_kernelbench.py).
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import typer

from warpsmith.cli.errors import usage_error

FILE_HELP = "A KernelBench problem file (class Model, get_inputs, get_init_inputs) to use as the task."
DIR_HELP = "A KernelBench checkout (or its KernelBench/ folder); pick one problem with --level and --problems."


def file_option() -> Any:
    return typer.Option(None, "--kernelbench", help=FILE_HELP)


def dir_option() -> Any:
    return typer.Option(None, "--kernelbench-dir", help=DIR_HELP)


def level_option() -> Any:
    return typer.Option(None, "--level", help="KernelBench level(s), e.g. 1 or 1,2 (level 4 is out of scope).")


def problems_option() -> Any:
    return typer.Option(None, "--problems", help="KernelBench problem numbers, e.g. 1-20,23.")


def tolerance_option() -> Any:
    return typer.Option(None, "--tolerance", help="atol = rtol for a KernelBench task's float outputs (1e-2).")


def trace_option() -> Any:
    return typer.Option(None, "--trace-definition", help="A FlashInfer-Trace definition.json to use as the task.")


def workloads_option() -> Any:
    return typer.Option(None, "--workloads", help="The definition's workload.jsonl (its bench shapes).")


def wants_kernelbench(file: Path | None, directory: Path | None, trace: Path | None = None) -> bool:
    return file is not None or directory is not None or trace is not None


def selected_problems(directory: Path, level: str | None, problems: str | None) -> list[tuple[int, Path]]:
    """(level, path) per problem the options pick in a checkout."""
    from warpsmith.tasklib.kernelbench import KernelBenchError, find_problems, parse_numbers

    if not level:
        raise usage_error("--kernelbench-dir needs --level (1, 2 or 3; e.g. --level 1)")
    try:
        levels = parse_numbers(level)
        numbers = parse_numbers(problems) if problems else None
        return find_problems(directory.expanduser().resolve(), levels, numbers)
    except KernelBenchError as error:
        raise usage_error(str(error)) from None


def load_one(file: Path | None, directory: Path | None, level: str | None, problems: str | None,
             tolerance: float | None, trace: Path | None = None, workloads: Path | None = None) -> Any:
    """The one task the options name (a KernelBench problem or a FlashInfer-Trace definition)."""
    from warpsmith.tasklib.kernelbench import KernelBenchError
    from warpsmith.tasklib.kernelbench_task import load_kernelbench

    if (file is not None) + (directory is not None) + (trace is not None) > 1:
        raise usage_error("give one of --kernelbench FILE, --kernelbench-dir DIR or --trace-definition FILE")
    if trace is not None:
        from warpsmith.tasklib.flashinfer_trace import TraceError, load_trace_definition

        try:
            return load_trace_definition(trace, workloads, tolerance)
        except TraceError as error:
            raise usage_error(str(error)) from None
    if workloads is not None:
        raise usage_error("--workloads goes with --trace-definition")
    picked_level = None
    if directory is not None:
        found = selected_problems(directory, level, problems)
        if len(found) != 1:
            raise usage_error(f"--level {level} --problems {problems or 'all'} picks {len(found)} problems; this "
                              "command takes one (`warpsmith bench kernelbench` runs many)")
        picked_level, file = found[0]
    assert file is not None
    try:
        return load_kernelbench(file, level=picked_level, tolerance=tolerance)
    except KernelBenchError as error:
        raise usage_error(str(error)) from None


@dataclass(frozen=True)
class BroughtTask:
    """The seven options of a task brought as files, as one command received them."""

    kernelbench: Path | None = None
    kernelbench_dir: Path | None = None
    level: str | None = None
    problems: str | None = None
    tolerance: float | None = None
    trace_definition: Path | None = None
    workloads: Path | None = None

    def wanted(self) -> bool:
        """Whether the options name a task (a KernelBench problem or a FlashInfer-Trace definition)."""
        return wants_kernelbench(self.kernelbench, self.kernelbench_dir, self.trace_definition)

    def load(self) -> Any:
        return load_one(self.kernelbench, self.kernelbench_dir, self.level, self.problems, self.tolerance,
                        self.trace_definition, self.workloads)


_OPTION_OF: dict[str, Callable[[], Any]] = {
    "kernelbench": file_option, "kernelbench_dir": dir_option, "level": level_option,
    "problems": problems_option, "tolerance": tolerance_option, "trace_definition": trace_option,
    "workloads": workloads_option,
}


def options(command: Callable[..., Any]) -> Callable[..., Any]:
    """A typer command's decorator (below @app.command): the command declares `brought: BroughtTask` and
    the CLI shows the seven options in its place, in `_OPTION_OF`'s order."""
    hints = typing.get_type_hints(command)  # the command's own annotations, resolved for typer
    own = [p.replace(annotation=hints.get(p.name, p.annotation))
           for p in inspect.signature(command).parameters.values()]
    at = next(i for i, p in enumerate(own) if p.name == "brought")
    field_types = typing.get_type_hints(BroughtTask)
    added = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=_OPTION_OF[f.name](),
                               annotation=field_types[f.name]) for f in fields(BroughtTask)]
    after = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own[at + 1:]]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        brought = BroughtTask(**{f.name: kwargs.pop(f.name) for f in fields(BroughtTask)})
        return command(**kwargs, brought=brought)

    params = own[:at] + added + after
    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper
