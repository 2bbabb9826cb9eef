"""`warpsmith eval`: evaluate one kernel file against a task and print the verdict.

Owns: the command's arguments, usage errors (one red line, exit code 2) and the human
table. Does not own: the evaluation (warpsmith.evaluator.evaluate). Exit code 0 whenever the
evaluator reached a verdict, whatever it is; `--json` prints exactly one JSON object
(the EvalResult) on stdout and nothing else there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

EXTENSIONS = {"triton": (".py",), "cuda": (".cu", ".cuh"), "hip": (".hip", ".cpp")}
STATUS_COLOUR = {"correct": "green", "compiled": "cyan", "incorrect": "red", "rejected": "red",
                 "runtime_error": "red", "compile_error": "red", "timeout": "yellow"}


def _usage_error(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(2)


def _load_task(kernel: str | None, task_file: Path | None) -> Any:
    from warpsmith.tasklib import TaskFileError, UnknownTaskError, get_task, load_task_file

    try:
        if task_file is not None:
            task = load_task_file(task_file)
            if kernel and kernel != task.name:
                raise _usage_error(f"--kernel {kernel!r} does not match the task file's task {task.name!r}")
            return task
        if not kernel:
            raise _usage_error("name a task with --kernel NAME (or give --task-file PATH)")
        return get_task(kernel)
    except (UnknownTaskError, TaskFileError) as exc:
        raise _usage_error(str(exc)) from None


def _read_source(file: Path, lang: str) -> str:
    if lang not in EXTENSIONS:
        raise _usage_error(f"unknown --lang {lang!r}; use triton, cuda or hip")
    if not file.is_file():
        raise _usage_error(f"kernel file {file} does not exist")
    if file.suffix not in EXTENSIONS[lang]:
        raise _usage_error(f"{file.name} does not look like a {lang} kernel (expected {', '.join(EXTENSIONS[lang])})")
    try:
        return file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise _usage_error(f"cannot read {file}: {exc}") from None


def render(result: Any, console: Console) -> None:
    """The human view of an EvalResult."""
    colour = STATUS_COLOUR.get(result.status, "white")
    hardware = result.hardware.device_name if result.hardware else "?"
    console.print(f"[bold {colour}]{result.status}[/] [dim]({result.mode} mode on {hardware})[/]  {result.message}")
    if result.correctness:
        table = Table(title="correctness", title_justify="left")
        for column in ("shape", "trial", "values", "ok", "max abs err", "details"):
            table.add_column(column)
        for c in result.correctness:
            err = "" if c.max_abs_err is None else f"{c.max_abs_err:.3g}"
            table.add_row(c.shape, str(c.trial), c.distribution or "", "[green]yes[/]" if c.ok else "[red]no[/]",
                          err, c.details[:80])
        console.print(table)
    if result.timings:
        label = "wall clock under the interpreter: not comparable" if result.mode == "interpreter" else "CUDA events"
        table = Table(title=f"timing ({label})", title_justify="left")
        for column in ("shape", "median us", "IQR us", "reps", "reference us", "speedup", "% peak BW"):
            table.add_column(column, justify="right")
        for t in result.timings:
            table.add_row(t.shape, f"{t.median_us:.1f}", f"{t.spread_us:.1f}", str(t.reps),
                          "" if t.reference_median_us is None else f"{t.reference_median_us:.1f}",
                          "" if t.speedup is None else f"{t.speedup:.2f}x",
                          "" if t.pct_peak_bandwidth is None else f"{t.pct_peak_bandwidth:.0f}%")
        console.print(table)
    for r in result.resources:
        console.print(f"[dim]resources[/] {r.kernel}: {r.registers} registers, {r.shared_bytes} B shared, "
                      f"spills {r.spill_stores_bytes}/{r.spill_loads_bytes} B")
    for v in result.violations:
        tone = "red" if v.severity == "reject" else "yellow"
        line = f" (line {v.line})" if v.line else ""
        console.print(f"[{tone}]{v.severity}[/] {v.rule}{line}: {v.message}", highlight=False)
    if result.isolation:
        console.print("[dim]isolation: " + "; ".join(result.isolation) + "[/]")
    if result.status == "compile_error" and result.compile_log:
        console.print(result.compile_log[-3000:], markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_command(
        file: Path = typer.Argument(..., help="The kernel source file."),
        kernel: str = typer.Option(None, "--kernel", "-k", help="Task name, e.g. moe_dispatch."),
        lang: str = typer.Option("triton", "--lang", help="triton, cuda or hip."),
        json_output: bool = typer.Option(False, "--json", help="Print the EvalResult as one JSON object."),
        suite: str = typer.Option("check", "--suite", help="smoke, check or bench."),
        profile: bool = typer.Option(False, "--profile", help="Collect profiler metrics (device only)."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
        task_file: Path = typer.Option(None, "--task-file", help="A Python file defining TASK."),
        timeout: float = typer.Option(None, "--timeout", help="Seconds per sandboxed run."),
    ) -> None:
        """Evaluate one kernel file: static checks, build, correctness, timing, anti-cheat."""
        if suite not in ("smoke", "check", "bench"):
            raise _usage_error(f"unknown --suite {suite!r}; use smoke, check or bench")
        if device not in ("auto", "cpu", "cuda"):
            raise _usage_error(f"unknown --device {device!r}; use auto, cpu or cuda")
        source = _read_source(file, lang)
        if device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise _usage_error("--device cuda, but torch sees no CUDA device here")
        task = _load_task(kernel, task_file)
        if lang not in task.languages:
            raise _usage_error(f"task {task.name} has no {lang} form")

        from warpsmith.evaluator.evaluate import evaluate
        from warpsmith.evaluator.records import Candidate

        candidate = Candidate(task=task.name, language=lang, source=source, origin="user")
        result = evaluate(candidate, task, suite=suite, device=device, profile=profile, timeout_s=timeout,
                          task_file=task_file)
        if json_output:
            typer.echo(result.model_dump_json())
        else:
            render(result, Console())
