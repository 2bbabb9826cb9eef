"""`warpsmith bench kernelbench`: run KernelBench problems and report KernelBench's own metrics.

Owns: the command (problems picked in a checkout by --level and --problems; each problem's
solution from --solutions DIR; optionally --rounds N of search from it, with --model or offline),
the progress lines, the metrics table, the JSON report and recording it in the store (the dashboard
shows it at /bench/kernelbench). Without --problems the problems are KernelBench's own 35-problem
representative subset (warpsmith.tasklib.kernelbench.REPRESENTATIVE_SUBSET). Does not own: the metrics
(bench_kernelbench_report.py), the tasks (warpsmith.tasklib.kernelbench_task) or the evaluation.

A solution for problem `level1/19_ReLU.py` is DIR/level1/19_ReLU.py, DIR/19_ReLU.py or DIR/19.py, in
either candidate form (kernel(*inputs) or a ModelNew source). KernelBench ships no solutions and
warpsmith does not yet write a first kernel from nothing, so a problem without a solution is
reported as `no-solution`, never skipped silently.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import typer

from warpsmith.cli import kernelbench_options as kb
from warpsmith.cli.bench_kernelbench_report import NOT_COMPARABLE, ProblemRow, row_of, summarize
from warpsmith.cli.errors import usage_error
from warpsmith.cli.output import cell, print_table, stderr_console, stdout_console, table
from warpsmith.records.bench import KernelBenchReport, KernelBenchSummary

bench_app = typer.Typer(help="Benchmark harnesses: run a public problem set and report its metrics.",
                        no_args_is_help=True)
out, err = stdout_console(), stderr_console()
EXIT_CODES = "Exit codes: 0 the report was written, 2 a usage error."


def solution_for(solutions: Path, level: int, path: Path) -> Path | None:
    number = path.name.split("_", 1)[0]
    for candidate in (solutions / f"level{level}" / path.name, solutions / path.name, solutions / f"{number}.py",
                      solutions / f"level{level}" / f"{number}.py"):
        if candidate.is_file():
            return candidate
    return None


def _evaluate_one(task: Any, source: str, suite: str, device: str, rounds: int, optimizer: Any) -> tuple[Any, float]:
    """(the best EvalResult, dollars spent): the solution evaluated, or the best of a search from it."""
    if rounds > 0:
        return optimizer(task)
    from warpsmith.evaluator.evaluate import evaluate
    from warpsmith.evaluator.native_module import is_native_module
    from warpsmith.records.evaluation import Candidate

    language = "cuda" if is_native_module(source, "cuda", task) and "load_inline" in source else "triton"
    candidate = Candidate(task=task.name, language=language, source=source, origin="import")
    return evaluate(candidate, task, suite=suite, device=device), 0.0


def _optimizer(settings: dict[str, Any], db: str | None) -> Any:
    """A function that runs `--rounds` of search from a task's seed and returns (best result, dollars)."""
    from warpsmith.agents.call_log import CallLog
    from warpsmith.cli.optimize_cmd import _strategy
    from warpsmith.evaluator.hardware import detect_hardware
    from warpsmith.records.runs import RunSettings
    from warpsmith.search.optimize import run_optimization
    from warpsmith.store.db import StoreError, open_store

    try:
        store = open_store(db)
    except StoreError as error:
        raise usage_error(str(error)) from None
    run_settings = RunSettings(**settings)
    hardware = detect_hardware(run_settings.device, 0)

    def optimize(task: Any) -> tuple[Any, float]:
        call_log = CallLog()
        strategy, _chat = _strategy(task, run_settings, run_settings.model is None, {}, call_log)
        summary = run_optimization(task, strategy, store, run_settings, hardware, call_log=call_log)
        best = summary.best or summary.seed
        if best is None or best.result is None:
            raise RuntimeError(f"the search ended without an evaluated kernel: {summary.message}")
        return best.result, summary.cost_usd

    return optimize


@bench_app.command("kernelbench", epilog=EXIT_CODES)
def kernelbench_command(
    kernelbench_dir: Path = typer.Option(..., "--kernelbench-dir", help=kb.DIR_HELP),
    level: str = typer.Option("1", "--level", help="KernelBench level(s), e.g. 1 or 1,2 (4 is out of scope)."),
    problems: str | None = typer.Option(None, "--problems", help="Problem numbers, e.g. 1-20,23, or all (default: "
                                        "KernelBench's representative subset of each level)."),
    solutions: Path | None = typer.Option(None, "--solutions", help="A folder of solutions named after the problems."),
    rounds: int = typer.Option(0, "--rounds", min=0, help="Search rounds from each solution (0: evaluate it only)."),
    width: int = typer.Option(2, "--width", min=1, help="Candidates per search round."),
    model: str | None = typer.Option(None, "--model", help="litellm model for the search (default: offline)."),
    suite: str | None = typer.Option(None, "--suite", help="smoke | check | bench (default: bench on a GPU, "
                                     "check on the CPU interpreter)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    tolerance: float | None = kb.tolerance_option(),
    report: Path = typer.Option(Path("kernelbench_report.json"), "--report", help="Where the JSON report goes."),
    db: str | None = typer.Option(None, "--db", help="The store for --rounds searches and the report (or "
                                  "WARPSMITH_DB; the dashboard shows its reports)."),
    no_store: bool = typer.Option(False, "--no-store", help="Write the JSON report only, not to the store."),
) -> None:
    """Run KernelBench problems; print fast_0, fast_1, fast_2 vs eager and torch.compile, geomean speedup,
    dollars and minutes per problem and the fraction of the bytes floor; write a JSON report."""
    import torch

    from warpsmith.tasklib.kernelbench import KernelBenchError
    from warpsmith.tasklib.kernelbench_task import load_kernelbench

    if device not in ("auto", "cpu", "cuda"):
        raise usage_error(f"--device must be auto, cpu or cuda, not {device!r}")
    on_gpu = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    suite = suite or ("bench" if on_gpu else "check")
    if suite not in ("smoke", "check", "bench"):
        raise usage_error(f"--suite must be smoke, check or bench, not {suite!r}")
    if solutions is not None and not solutions.is_dir():
        raise usage_error(f"--solutions {solutions} is not a folder")
    picked = _picked(kernelbench_dir, level, problems)
    optimizer = None
    if rounds:
        optimizer = _optimizer({"rounds": rounds, "width": width, "suite": suite, "model": model,
                                "device": "cuda" if on_gpu else "cpu"}, db)
    rows: list[ProblemRow] = []
    for index, (lvl, path) in enumerate(picked, start=1):
        started = time.perf_counter()
        err.print(f"[{index}/{len(picked)}] level {lvl} {path.name}", highlight=False, markup=False)
        number = int(path.name.split("_", 1)[0])
        try:
            task = load_kernelbench(path, level=lvl, tolerance=tolerance)
        except KernelBenchError as error:
            rows.append(ProblemRow(problem=path.stem, level=lvl, number=number, status="load-error",
                                   message=str(error)[:300]))
            continue
        found = solution_for(solutions, lvl, path) if solutions else None
        if found is None:
            rows.append(ProblemRow(problem=task.name, level=lvl, number=number, status="no-solution",
                                   message="no solution file for this problem under --solutions"))
            continue
        if optimizer is not None:
            task = task.model_copy(update={"seed_file": found.resolve()})
        result, dollars = _evaluate_one(task, found.read_text(), suite, "cuda" if on_gpu else "cpu", rounds,
                                        optimizer)
        rows.append(row_of(task.name, lvl, number, result, dollars, (time.perf_counter() - started) / 60))
        err.print(f"    {result.status}: {result.message[:160]}", highlight=False, markup=False)
    summary = summarize(rows)
    _print(rows, summary)
    document = KernelBenchReport(level=level, suite=suite, device="cuda" if on_gpu else "cpu", rounds=rounds,
                                 model=model or "offline", summary=KernelBenchSummary(**summary), problems=rows)
    report.write_text(json.dumps(document.model_dump(mode="json"), indent=2))  # first: nothing lost if the store fails
    err.print(f"report: {report}", highlight=False, markup=False)
    if not no_store:
        _record(document, db)


def _picked(kernelbench_dir: Path, level: str, problems: str | None) -> list[tuple[int, Path]]:
    """(level, path) per problem: --problems N, --problems all, or KernelBench's representative subset."""
    from warpsmith.tasklib.kernelbench import KernelBenchError, parse_numbers, representative_problems

    if problems is not None:
        return kb.selected_problems(kernelbench_dir, level, None if problems.strip() == "all" else problems)
    try:
        return representative_problems(kernelbench_dir.expanduser().resolve(), parse_numbers(level))
    except KernelBenchError as error:
        raise usage_error(str(error)) from None


def _record(document: KernelBenchReport, db: str | None) -> None:
    """The report into the store, where the dashboard finds it; a store that cannot be opened is one line
    (the JSON report is already written, so the exit status stays 0)."""
    from sqlalchemy.exc import SQLAlchemyError

    from warpsmith.store.bench_reports import record_bench_report
    from warpsmith.store.db import StoreError, open_store

    try:
        store = open_store(db)
    except StoreError as error:
        err.print(f"warning: the report was not recorded in the store: {error}", highlight=False, markup=False)
        return
    try:
        with store.session() as session:
            report_id = record_bench_report(session, document)
    except SQLAlchemyError as error:  # say, a store opened read-only: the JSON report stands
        err.print(f"warning: the report was not recorded in the store: {str(error).splitlines()[0][:200]}",
                  highlight=False, markup=False)
    else:
        err.print(f"stored as report {report_id} in {store.url} (dashboard: /bench/kernelbench/{report_id})",
                  highlight=False, markup=False)
    finally:
        store.close()


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _print(rows: list[ProblemRow], summary: dict[str, Any]) -> None:
    listing = table("problems", ["problem", "status", "vs eager", "vs compile", "of floor", "$", "min"],
                    right=("vs eager", "vs compile", "of floor", "$", "min"))
    for r in rows:
        speed = [_fmt(r.speedup_eager), _fmt(r.speedup_compile), _fmt(r.fraction_of_floor)]
        if r.mode == "interpreter":
            speed = [NOT_COMPARABLE, "", ""]
        listing.add_row(cell(r.problem), cell(r.status), *speed, f"{r.dollars:.2f}", f"{r.minutes:.1f}")
    print_table(out, listing)
    metrics = table("KernelBench metrics", ["metric", "value"], right=("value",))
    for key, value in summary.items():
        metrics.add_row(cell(key), cell(_fmt(value)))
    print_table(out, metrics)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")
