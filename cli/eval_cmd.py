"""`warpsmith eval`: evaluate one kernel file against a task and print the verdict.

Owns: the command's arguments, usage errors (one red line, exit code 2), the human view and
the exit code. Does not own: the evaluation (warpsmith.evaluator.evaluate). `--json` prints
exactly one JSON object (the EvalResult) on stdout and nothing else there.

Exit codes (so that CI can gate on a kernel): 0 `correct`; 0 `compiled` too, with a note on
stderr: a CUDA/HIP kernel on a machine without that GPU is built for real but cannot run, so
the build is all this machine can check (a CPU-only CI job gates on "it builds"; the
correctness verdict needs a GPU runner); 1 any other verdict (incorrect, rejected, timeout,
runtime_error, compile_error); 2 a usage error (nothing was evaluated).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from warpsmith.cli import kernelbench_options as kb
from warpsmith.cli.baselines_view import timed_vendors, vendor_table, versus_vendor
from warpsmith.cli.errors import usage_error as _usage_error
from warpsmith.cli.output import cell, print_table, stderr_console, stdout_console, table

EXTENSIONS = {"triton": (".py",), "cuda": (".cu", ".cuh"), "hip": (".hip", ".cpp")}
STATUS_COLOUR = {"correct": "green", "compiled": "cyan", "incorrect": "red", "rejected": "red",
                 "runtime_error": "red", "compile_error": "red", "timeout": "yellow"}
PASSING = ("correct", "compiled")
EXIT_CODES = ("Exit codes: 0 correct (or compiled: built, but no GPU here to run it; a note says so), "
              "1 incorrect, rejected, timeout, runtime_error or compile_error, 2 a usage error.")
COMPILE_LOG_CHARS = 3000
_FIRST_ERROR = re.compile(r"\berror\b", re.IGNORECASE)



def _versus(t: Any, baseline: str) -> str:
    """'2.31x [2.2, 2.4] faster' against one baseline, from the comparison the evaluator made."""
    found = next((c for c in t.comparisons if c.baseline == baseline), None)
    if found is None:
        return ""
    bounds = "" if found.low <= 0 and found.high == float("inf") else f" [{found.low:.3g}, {found.high:.3g}]"
    return f"{found.ratio:.3g}x{bounds} {found.verdict}"


def _timing_table(result: Any) -> Any:
    """Per shape: device time and call time apart, the trusted eager and torch.compile references, and
    the speedup over each with its interval and verdict. Interpreter runs get only the labelled clock."""
    if result.mode == "interpreter":
        timing = table("timing (wall clock under the interpreter, the parent's clock: a label, not comparable)",
                       ["shape", "median us", "IQR us", "reps", "noisy"],
                       right=("median us", "IQR us", "reps"))
        for t in result.timings:
            timing.add_row(cell(t.shape), f"{t.median_us:.1f}", f"{t.spread_us:.1f}", str(t.reps),
                           "yes" if t.noisy else "")
        return timing
    vendors = timed_vendors(result.timings)  # vendor kernels that agreed with the reference, side by side
    columns = ["shape", "method", "device us", "IQR us", "call us", "reps", "eager us", "compile us",
               "vs eager", "vs compile", *(f"vs {name}" for name in vendors), "% peak BW"]
    timing = table("timing (device time: events queued behind the L2 flush; call time: host clock, launch "
                   "included)", columns, right=("device us", "IQR us", "call us", "reps", "eager us", "compile us",
                                                "% peak BW"))
    for t in result.timings:
        method = (t.method or "") + (" noisy" if t.noisy else "")
        timing.add_row(cell(t.shape), method, f"{t.median_us:.2f}", f"{t.spread_us:.2f}",
                       "" if t.call_median_us is None else f"{t.call_median_us:.1f}", str(t.reps),
                       "" if t.reference_median_us is None else f"{t.reference_median_us:.2f}",
                       "" if t.compile_median_us is None else f"{t.compile_median_us:.2f}",
                       _versus(t, "eager"), _versus(t, "compile"), *(versus_vendor(t, name) for name in vendors),
                       "" if t.pct_peak_bandwidth is None else f"{t.pct_peak_bandwidth:.0f}%")
    return timing

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


def _read_source(file: Path, lang: str, modelnew: bool = False) -> str:
    """`modelnew`: a brought (KernelBench) task, where a cuda .py is a ModelNew with load_inline."""
    if lang not in EXTENSIONS:
        raise _usage_error(f"unknown --lang {lang!r}; use triton, cuda or hip")
    if file.is_dir():
        raise _usage_error(f"kernel file {file} is a directory; give the kernel's source file")
    if not file.is_file():
        raise _usage_error(f"kernel file {file} does not exist")
    if file.suffix not in EXTENSIONS[lang] and not (modelnew and lang == "cuda" and file.suffix == ".py"):
        raise _usage_error(f"{file.name} does not look like a {lang} kernel (expected {', '.join(EXTENSIONS[lang])})")
    try:
        return file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise _usage_error(f"cannot read {file}: {exc}") from None


def compile_log_excerpt(log: str, limit: int = COMPILE_LOG_CHARS) -> str:
    """The compile log from its first line that names an error (the first real error, not the
    include chain printed above it), at most `limit` characters; the whole log is in --json."""
    lines = log.splitlines()
    first = next((i for i, line in enumerate(lines) if _FIRST_ERROR.search(line) and not line.startswith("$ ")),
                 None)
    text = "\n".join(lines[first:]) if first is not None else log[-limit:]
    return text if len(text) <= limit else text[:limit] + "\n... (the whole log: --json, compile_log)"


def where_it_ran(result: Any) -> str:
    """The hardware, or for a CUDA/HIP kernel without its GPU, the target it was built for."""
    hardware = result.hardware
    if result.language != "triton" and (hardware is None or hardware.backend == "cpu"):
        from warpsmith.evaluator.build_toolchain import default_arch

        return f"built for {default_arch(result.language)}, no {result.language} GPU here"
    return hardware.device_name if hardware else "?"


def demangled(symbols: list[str]) -> dict[str, str]:
    """C++ symbols as a reader writes them (`rmsnorm_kernel(...)`), through c++filt when it is here."""
    tool = shutil.which("cu++filt") or shutil.which("c++filt")
    if tool is None or not symbols:
        return {}
    try:
        done = subprocess.run([tool], input="\n".join(symbols), capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    names = done.stdout.splitlines()
    return dict(zip(symbols, names, strict=False)) if done.returncode == 0 and len(names) == len(symbols) else {}


def render(result: Any, console: Console) -> None:
    """The human view of an EvalResult; every piece of data is printed as is, never as markup."""
    colour = STATUS_COLOUR.get(result.status, "white")
    where = where_it_ran(result)
    where = where if where.startswith("built for") else f"{result.mode} mode on {where}"
    console.print(f"[bold {colour}]{result.status}[/] [dim]({escape(where)})[/]  {escape(result.message)}",
                  soft_wrap=True)
    if result.correctness:
        checks = table("correctness", ["shape", "trial", "values", "ok", "max abs err", "details"])
        for c in result.correctness:
            err = "" if c.max_abs_err is None else f"{c.max_abs_err:.3g}"
            checks.add_row(cell(c.shape), str(c.trial), cell(c.distribution or ""),
                           "[green]yes[/]" if c.ok else "[red]no[/]", err, cell(c.details))
        print_table(console, checks)
    if result.timings:
        print_table(console, _timing_table(result))
    if (vendors := vendor_table(result.vendor_baselines)) is not None:
        print_table(console, vendors)
    if result.resources:  # the compiler's report, for native kernels: what a GPU would have to hold
        report = table("registers and spills (compiler report)",
                       ["kernel", "registers", "shared B", "spill stores B", "spill loads B", "stack B"],
                       right=("registers", "shared B", "spill stores B", "spill loads B", "stack B"))
        names = demangled([r.kernel for r in result.resources])
        for r in result.resources:
            report.add_row(cell(names.get(r.kernel, r.kernel)), *(cell("-" if v is None else v) for v in (
                r.registers, r.shared_bytes, r.spill_stores_bytes, r.spill_loads_bytes, r.stack_bytes)))
        print_table(console, report)
    for v in result.violations:
        tone = "red" if v.severity == "reject" else "yellow"
        line = f" (line {v.line})" if v.line else ""
        console.print(f"[{tone}]{v.severity}[/] {escape(v.rule)}{line}: {escape(v.message)}", highlight=False,
                      soft_wrap=True)
    if result.isolation:
        console.print("isolation: " + "; ".join(result.isolation), style="dim", markup=False, highlight=False,
                      soft_wrap=True)
    if result.status == "compile_error" and result.compile_log:
        console.print(compile_log_excerpt(result.compile_log), markup=False, highlight=False, soft_wrap=True)


def exit_code(status: str) -> int:
    return 0 if status in PASSING else 1


def register(app: typer.Typer) -> None:
    @app.command("eval", epilog=EXIT_CODES)
    @kb.options
    def eval_command(
        file: Path = typer.Argument(..., help="The kernel source file."),
        kernel: str = typer.Option(None, "--kernel", "-k", help="Task name, e.g. moe_dispatch."),
        lang: str = typer.Option("triton", "--lang", help="triton, cuda or hip."),
        json_output: bool = typer.Option(False, "--json", help="Print the EvalResult as one JSON object."),
        suite: str = typer.Option("check", "--suite", help="smoke, check or bench."),
        profile: bool = typer.Option(False, "--profile", help="Collect profiler metrics (device only)."),
        device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
        gpu: int | None = typer.Option(
            None, "--gpu", min=0, help="Index of the GPU that evaluates (device mode; default evaluator.gpu_index or 0)."
        ),
        task_file: Path = typer.Option(None, "--task-file", help="A Python file defining TASK."),
        timeout: float = typer.Option(None, "--timeout", help="Seconds per sandboxed run."),
        brought: kb.BroughtTask = kb.BroughtTask(),  # --kernelbench ... --workloads
    ) -> None:
        """Evaluate one kernel file: static checks, build, correctness, timing, anti-cheat."""
        if suite not in ("smoke", "check", "bench"):
            raise _usage_error(f"unknown --suite {suite!r}; use smoke, check or bench")
        if device not in ("auto", "cpu", "cuda"):
            raise _usage_error(f"unknown --device {device!r}; use auto, cpu or cuda")
        source = _read_source(file, lang, modelnew=brought.wanted())
        from warpsmith.cli.config_cmd import cli_settings

        gpu = cli_settings({"evaluator.gpu_index": gpu}).evaluator.gpu_index or 0
        if device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise _usage_error("--device cuda, but torch sees no CUDA device here")
            if gpu >= torch.cuda.device_count():
                raise _usage_error(f"--gpu {gpu}, but torch sees {torch.cuda.device_count()} CUDA device(s)")
        # the sandboxed child starts in its own working directory: a relative path must not reach it
        task_file = task_file.expanduser().resolve() if task_file is not None else None
        if brought.wanted():
            if kernel or task_file:
                raise _usage_error("give --kernel, --task-file or --kernelbench, not several")
            task = brought.load()
        else:
            task = _load_task(kernel, task_file)
        if lang not in task.languages:
            raise _usage_error(f"task {task.name} has no {lang} form")

        from warpsmith.evaluator.evaluate import evaluate
        from warpsmith.records.evaluation import Candidate

        candidate = Candidate(task=task.name, language=lang, source=source, origin="user")
        result = evaluate(candidate, task, suite=suite, device=device, profile=profile, timeout_s=timeout,
                          task_file=task_file, gpu_index=gpu)
        if json_output:
            typer.echo(result.model_dump_json())
        else:
            render(result, stdout_console())
        if result.status == "compiled":
            stderr_console().print(
                f"note: compiled only ({where_it_ran(result)}): correctness and speed are not checked on this "
                "machine; exit code 0 says it builds", style="cyan", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(exit_code(result.status))
