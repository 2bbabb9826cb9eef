"""`warpsmith evolve`: one batch evolution run over several tasks, evaluated in parallel.

Owns: the command's options, reading the tasks (--kernels a,b,c | --suite NAME | --task-file F),
the settings of a new or resumed run (the user's settings, records.settings via cli_settings: model,
server, per-role models, budgets; the whole effective settings are stored with the run, in
runs.config['settings'], and a resumed run starts from them), the stop rules (--target-floor,
--patience: per task, agents.stop_rules), choosing the strategy (offline parameter search unless
--model or the settings' llm.model names a model), the pool (warpsmith.search.pools.make_pool: --workers,
--ray), the progress display (one row per task: generation, best, time, % of the bytes floor,
archive cells, evaluated, rejected near-duplicates; a line of pool usage: busy workers, queue,
done, failed; cost) and the exit code. Does not own: the engine (warpsmith.search.engine).
Exit codes: 0 completed (or budget spent), 1 the run failed, 2 a usage error, 130 interrupted.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from warpsmith.cli.errors import opened_store, usage_error
from warpsmith.cli.optimize_display import LiveBlock
from warpsmith.cli.output import print_table, stderr_console, stdout_console, table

err = stderr_console()
out = stdout_console()
EXIT_CODES = "Exit codes: 0 completed (or budget spent), 1 the run failed, 2 a usage error, 130 interrupted."
GPU_DEFAULTS = {"generations": 5, "suite": "bench"}
CPU_DEFAULTS = {"generations": 3, "suite": "smoke"}


def _tasks(kernels: str | None, suite: str | None, task_file: Path | None) -> list[Any]:
    from warpsmith.search.settings import TASK_SUITES
    from warpsmith.tasklib import TaskFileError, UnknownTaskError, get_task, load_task_file

    if sum(x is not None for x in (kernels, suite, task_file)) != 1:
        raise usage_error("name the tasks with exactly one of --kernels a,b,c, --suite NAME or --task-file F")
    try:
        if task_file is not None:
            return [load_task_file(task_file)]
        if suite is not None:
            if suite not in TASK_SUITES:
                raise usage_error(f"unknown suite {suite!r}; known: {', '.join(TASK_SUITES)}")
            return [get_task(name) for name in TASK_SUITES[suite]]
        names = [name.strip() for name in (kernels or "").split(",") if name.strip()]
        if not names:
            raise usage_error("--kernels: give at least one task name, e.g. --kernels rmsnorm,silu_and_mul")
        return [get_task(name) for name in dict.fromkeys(names)]
    except (UnknownTaskError, TaskFileError) as error:
        raise usage_error(str(error)) from None


def _stored_settings(store: Any, resume: str) -> tuple[str, dict[str, Any]]:
    from warpsmith.store.reads import get_run
    from warpsmith.store.runs import RunIdError, resolve_run_id

    with store.session() as session:
        try:
            run_id = resolve_run_id(session, resume)
        except RunIdError as error:
            raise usage_error(f"{error} ({store.url})") from None
        row = get_run(session, run_id)
        if row is None or row.strategy != "evolve":
            kind = row.strategy if row is not None else "missing"
            raise usage_error(f"run {run_id} is not an evolve run ({kind}); continue it with `warpsmith optimize "
                              f"--resume {run_id}`")
        spent = {"spent_usd": row.cost_usd, "spent_tokens": row.prompt_tokens + row.completion_tokens}
        return run_id, {**row.config, "_spent": spent}


def _user_settings(stored: dict[str, Any], overrides: dict[str, Any]) -> Any:
    """The settings this run runs under: a resumed run's stored ones (else the user's: files, WARPSMITH_*),
    with the flags given (`overrides`, dotted keys; None overrides nothing) on top."""
    from warpsmith.cli.config_cmd import cli_settings
    from warpsmith.records.settings import Settings

    if not stored.get("settings"):
        return cli_settings(overrides)
    return _with_values(Settings.model_validate(stored["settings"]), overrides)


def _with_values(settings: Any, values: dict[str, Any]) -> Any:
    """`settings` with the dotted `values` that are not None written in."""
    from warpsmith.records.settings import Settings

    data = settings.model_dump()
    for key, value in values.items():
        if value is None:
            continue
        *parents, leaf = key.split(".")
        node = data
        for part in parents:
            node = node[part]
        node[leaf] = value
    return Settings.model_validate(data)


def _strategy_for(tasks: list[Any], settings: Any, call_log: Any, spent: dict[str, Any]) -> Any:
    from warpsmith.search.strategies import offline_strategies, shared_strategy

    if settings.strategy == "offline":
        return offline_strategies(tasks, settings.language)
    from warpsmith.agents.llm import Budget
    from warpsmith.agents.llm_strategy import LLMStrategy
    from warpsmith.cli.llm_setup import role_models
    from warpsmith.records.settings import Settings

    budget = Budget(max_usd=settings.budget_usd, max_tokens=settings.budget_tokens, **spent)  # a resumed run spent some
    models = role_models(Settings.model_validate(settings.settings).llm, budget, call_log)
    strategy = LLMStrategy(models["planner"], coder_model=models["coder"], judge_model=models["judge"])
    names = {role: chat.model_name for role, chat in models.items()}
    on = f"on {settings.model}" if set(names.values()) == {settings.model} else \
        ", ".join(f"{role} on {name}" for role, name in names.items())
    err.print(f"LLM strategy: planner, coder and judge {on}", highlight=False)
    return shared_strategy(strategy)


class EvolveView(LiveBlock):
    """A rich Live table on a terminal; otherwise a plain log line per message."""

    def __init__(self) -> None:
        self.live: Live | None = Live(console=err, refresh_per_second=2, transient=False) if err.is_terminal else None
        self.started = time.monotonic()
        self.last: Any = None

    def __call__(self, progress: Any) -> None:
        self.last = progress
        if self.live is not None:
            self.live.update(self.render(progress))
        elif progress.message:
            err.print(f"[{time.monotonic() - self.started:6.0f}s] gen {progress.generation}/{progress.generations} "
                      f"{progress.message} | {_pool_line(progress.pool)}", markup=False, highlight=False)

    def render(self, progress: Any) -> Table:
        rows = table(f"evolve {progress.run_id}: generation {progress.generation}/{progress.generations}",
                     ["task", "gen", "best", "time", "% floor", "cells", "evaluated", "rejected"],
                     right=("gen", "time", "% floor", "cells", "evaluated", "rejected"))
        for row in progress.tasks:
            rows.add_row(*_task_cells(row, progress.generation))
        rules = f"; {progress.stop_rules}" if progress.stop_rules else ""
        rows.caption = f"{_pool_line(progress.pool)}; cost ${progress.cost_usd:.4f}{rules}; {progress.message}"
        return rows


def _pool_line(stats: Any) -> str:
    if stats is None:
        return "pool: -"
    return (f"pool: {stats.busy}/{stats.workers} busy, {stats.queued} queued, {stats.done} done, "
            f"{stats.failed} failed")


def _task_cells(row: Any, generation: int) -> list[str]:
    when = "" if row.mode is None else (" (interp.)" if row.mode == "interpreter" else "")
    time_us = f"{row.best_time_us:.1f} us{when}" if row.best_time_us is not None else "-"
    floor = f"{100 * row.floor_fraction:.0f}%" if row.floor_fraction is not None else (row.floor_note or "?")
    gen = f"{row.generation} (stopped)" if row.stopped else str(generation)
    return [row.task, gen, (row.best_hash or "-")[:10], time_us, floor, str(row.cells),
            str(row.evaluated), str(row.rejected)]


def evolve(
    kernels: str | None = typer.Option(None, "--kernels", help="Comma-separated task names, e.g. rmsnorm,silu_and_mul."),
    suite: str | None = typer.Option(None, "--suite", help="A named group of tasks: serving | moe | norms."),
    task_file: Path | None = typer.Option(None, "--task-file", help="A Python file defining a Task."),
    generations: int | None = typer.Option(None, "--generations", min=0, help="Generations after seeding (GPU 5, CPU 3)."),
    population: int | None = typer.Option(None, "--population", min=1, help="Candidates per island per generation (4)."),
    islands: int | None = typer.Option(None, "--islands", min=1, help="Islands per task (1)."),
    migrate_every: int | None = typer.Option(None, "--migrate-every", min=1, help="Ring migration every K generations (2)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Evaluations in parallel on this machine."),
    ray: str | None = typer.Option(None, "--ray", help="Evaluate on a Ray cluster: auto or its address."),
    offline: bool = typer.Option(False, "--offline", help="Parameter search without any LLM (the default without a model)."),
    model: str | None = typer.Option(None, "--model", help="litellm model, e.g. openai/gpt-4.1 (or WARPSMITH_MODEL)."),
    api_base: str | None = typer.Option(None, "--api-base", help="OpenAI-compatible server URL."),
    budget_usd: float | None = typer.Option(None, "--budget-usd", help="Stop once this many dollars are spent."),
    budget_tokens: int | None = typer.Option(None, "--budget-tokens", min=0,
                                             help="Stop once this many prompt + completion tokens are spent."),
    target_floor: float | None = typer.Option(None, "--target-floor", help="A task stops once its best reaches this "
                                              "fraction of the bytes floor on the bandwidth-bound shapes, e.g. 0.8."),
    patience: int | None = typer.Option(None, "--patience", min=1,
                                        help="A task stops after N generations without a significant gain."),
    db: str | None = typer.Option(None, "--db", help="SQLAlchemy URL of the store (or WARPSMITH_DB)."),
    resume: str | None = typer.Option(None, "--resume", help="Continue an interrupted evolve run by its id."),
    lang: str | None = typer.Option(None, "--lang", help="triton | cuda | hip (default triton)."),
    shapes: str | None = typer.Option(None, "--shapes", help="Shape suite: smoke | check | bench (GPU bench, CPU smoke)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object on stdout "
                                 "(progress stays on stderr)."),
) -> None:
    """Evolve several kernels at once: islands, a MAP-Elites archive, evaluations in parallel, all stored."""
    from warpsmith.agents.call_log import CallLog
    from warpsmith.search.engine import run_evolution
    from warpsmith.search.pools import PoolUnavailable, make_pool
    from warpsmith.search.settings import EvolveSettings
    from warpsmith.search.writer import RunNotResumable

    if device not in ("auto", "cpu", "cuda"):
        raise usage_error(f"--device must be auto, cpu or cuda, not {device!r}")
    if shapes is not None and shapes not in ("smoke", "check", "bench"):
        raise usage_error(f"--shapes must be smoke, check or bench, not {shapes!r}")
    if lang is not None and lang not in ("triton", "cuda", "hip"):
        raise usage_error(f"--lang must be triton, cuda or hip, not {lang!r}")
    if target_floor is not None and not 0 < target_floor <= 1:
        raise usage_error(f"--target-floor {target_floor}: give a fraction of the floor in (0, 1], e.g. 0.8")
    store = opened_store(db)
    stored: dict[str, Any] = {}
    if resume is not None:
        resume, stored = _stored_settings(store, resume)
        if kernels is None and suite is None and task_file is None:
            if stored.get("task_file"):
                task_file = Path(stored["task_file"])
            else:
                kernels = ",".join(stored.get("tasks", []))
    tasks = _tasks(kernels, suite, task_file)
    if stored and [t.name for t in tasks] != stored.get("tasks"):
        raise usage_error(f"run {resume} evolves {', '.join(stored.get('tasks', []))}; leave out --kernels/--suite")
    language = lang or stored.get("language", "triton")
    missing = [t.name for t in tasks if t.seed_path(language) is None]
    if missing:
        raise usage_error(f"no {language} seed kernel to start from for: {', '.join(missing)}")

    import torch

    from warpsmith.evaluator.hardware import detect_hardware

    device = stored.get("device") or device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise usage_error("--device cuda: torch sees no GPU on this machine (use --device cpu)")
    hardware = detect_hardware(device, 0)
    defaults = CPU_DEFAULTS if hardware.backend == "cpu" else GPU_DEFAULTS
    user = _user_settings(stored, {"llm.model": model, "llm.api_base": api_base, "budget.usd": budget_usd,
                                   "budget.tokens": budget_tokens})
    model = None if offline or stored.get("strategy") == "offline" else (
        model or stored.get("model") or user.llm.model or None)
    base = {**{k: v for k, v in stored.items() if k != "_spent"}, "tasks": [t.name for t in tasks]}
    given = {"generations": generations, "population": population, "islands": islands, "migrate_every": migrate_every,
             "workers": workers, "ray": ray, "target_floor": target_floor, "patience": patience}
    base.update({k: v for k, v in given.items() if v is not None})
    base.update(language=language, device=device, model=model, strategy="llm" if model else "offline",
                task_file=str(task_file.resolve()) if task_file else None, api_base=user.llm.api_base,
                budget_usd=user.budget.usd, budget_tokens=user.budget.tokens, eval_timeout_s=user.evaluator.timeout_s,
                role_models={r: m for r in ("planner", "coder", "judge")
                             if model and (m := user.llm.role(r)["model"]) and m != model})
    base.setdefault("generations", defaults["generations"])
    base["suite"] = shapes or stored.get("suite") or defaults["suite"]
    # the whole effective settings, kept with the run (an offline run's say so: no model)
    effective = _with_values(user, {"llm.model": model}) if model else \
        user.model_copy(update={"llm": user.llm.model_copy(update={"model": None})})
    base["settings"] = effective.stored()
    settings = EvolveSettings.model_validate(base)
    if stored and settings.islands != stored.get("islands", settings.islands):
        raise usage_error(f"run {resume} has {stored['islands']} island(s) per task; --islands cannot change on resume")
    if model and not offline:  # every role's model, key and server checked before anything is stored
        from warpsmith.cli.llm_setup import distinct_models, preflight

        for role_model, role_base in distinct_models(settings.settings):
            preflight(role_model, role_base, settings.budget_usd, settings.budget_tokens, user.llm.api_key_env,
                      warn=lambda line: err.print(line, style="yellow", markup=False, highlight=False))
    elif hardware.backend == "cpu":
        err.print("no GPU: candidates run under the Triton interpreter on the CPU; features that need device time "
                  "(% of floor, regime, registers) are unknown, so the archive sorts by correctness, language and "
                  "kind only", style="yellow", highlight=False)
    try:
        pool = make_pool(settings.workers, settings.ray, device=device)
    except PoolUnavailable as error:
        raise usage_error(str(error)) from None
    call_log = CallLog()
    strategy_for = _strategy_for(tasks, settings, call_log, stored.get("_spent", {}))
    err.print(f"store: {store.url}", highlight=False)
    if settings.target_floor is not None or settings.patience is not None:
        from warpsmith.agents.stop_rules import StopRules

        err.print(f"stop rules per task: {StopRules(settings.target_floor, settings.patience, 'generation').describe()}",
                  highlight=False)
    try:
        with pool, EvolveView() as view:
            summary = run_evolution(tasks, settings, store, hardware, pool, strategy_for, run_id=resume,
                                    call_log=call_log, on_progress=view)
    except RunNotResumable as error:
        raise usage_error(str(error)) from None
    if as_json:
        code = 0 if summary.status in ("completed", "budget_exhausted") else 130 if summary.status == "interrupted" else 1
        print(json.dumps({**summary.model_dump(mode="json"), "exit_code": code, "store": store.url}, indent=2))
        if code:
            raise typer.Exit(code)
        return
    rows = table(f"evolve {summary.run_id}: {summary.status}", ["task", "gen", "best", "time", "% floor", "cells",
                                                              "evaluated", "rejected"],
                 right=("gen", "time", "% floor", "cells", "evaluated", "rejected"))
    for row in summary.tasks:
        rows.add_row(*_task_cells(row, summary.generations_done))
    print_table(out, rows)
    if summary.stop_rules:
        out.print(f"stop rules per task: {summary.stop_rules}", highlight=False, soft_wrap=True)
    for row in summary.tasks:
        if row.stopped:
            out.print(f"{row.task}: {row.stopped}", highlight=False, soft_wrap=True)
    out.print(f"evaluated {summary.evaluated} in this process; details: warpsmith runs show {summary.run_id}"
              + (f" --db {db}" if db else ""), highlight=False, soft_wrap=True)
    if summary.status == "interrupted":
        err.print(f"interrupted: continue with `warpsmith evolve --resume {summary.run_id}`", style="yellow")
        raise typer.Exit(130)
    if summary.status not in ("completed", "budget_exhausted"):
        err.print(f"[red]run {summary.status}:[/red] {escape(summary.message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    sys.stdout.flush()


def replay_evolve(store: Any, original: Any, device: str, reevaluate: bool = False, as_json: bool = False) -> None:
    """`warpsmith replay RUN` for an evolve run (called by warpsmith.cli.replay_cmd): the recorded answers
    served to the same engine, a new run; one line and exit 2 for an offline evolve run or --reevaluate."""
    from warpsmith.cli.replay_cmd import _hardware, finish, interruptible
    from warpsmith.search.pools import make_pool
    from warpsmith.search.replay import RunNotReplayable, replay_evolution

    if reevaluate:
        raise usage_error(f"run {original.id} is an evolve run: --reevaluate is not supported for it yet "
                          "(replay it without --reevaluate, or evolve again)")
    config = original.config
    tasks = _tasks(None if config.get("task_file") else ",".join(config.get("tasks", [])), None,
                   Path(config["task_file"]) if config.get("task_file") else None)
    device, hardware = _hardware(device)
    err.print(f"store: {store.url}; hardware: {hardware.device_name}", highlight=False)
    try:
        with interruptible(), make_pool(1, device=device) as pool, EvolveView() as view:
            outcome = replay_evolution(store, original, tasks, hardware, pool, device=device, on_progress=view)
    except RunNotReplayable as error:
        raise usage_error(str(error)) from None
    finish(outcome, as_json, store.url)


def register(app: typer.Typer) -> None:
    app.command("evolve", epilog=EXIT_CODES)(evolve)
