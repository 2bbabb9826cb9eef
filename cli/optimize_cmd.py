"""`warpsmith optimize`: make one task's kernel faster, keeping everything in the store.

Owns: the command's options, choosing the strategy (offline parameter search when no
model is configured, the LLM agents with --model or the settings' llm.model (WARPSMITH_MODEL,
warpsmith.toml), keyed by llm.api_key_env (WARPSMITH_API_KEY when it is set), else the provider's
own variable), the defaults for a CPU-only machine, the evaluation pool (the engine's in-process
CallPool; `--workers W` > 1: a LocalPool as `evolve` picks), the progress display wiring, writing
the best kernel's source and the exit code. Does not own: the loop (warpsmith.search.optimize: the one-task, one-island case of
the evolve engine) or any measurement.

Defaults: on a GPU 5 rounds x 4 candidates on the `bench` suite; on a CPU (Triton
interpreter) 3 rounds x 3 candidates on the `smoke` suite, so that `make run` finishes in
a few minutes on 2 cores. Timings on a CPU are interpreter wall-clock and labelled so: the
run names no wall-clock winner there (warpsmith.agents.ranking). The summary gives the best
with its interval and verdict, or says that no candidate beat the seed.
The best kernel's source goes to --out (never over an existing file without --force), else
beside the store's SQLite file in kernels/<run id>/ (the user data dir for a PostgreSQL store:
optimize_result.py); the summary says where. `--json` prints one JSON object on stdout
(optimize_result.result_document) and keeps every progress line on stderr. With --model, the model, its key and --api-base are checked
(warpsmith.cli.llm_setup) before the run is created or anything is printed.
Exit codes: 0 completed (or budget spent), 1 the run failed, 2 a usage error, 130 interrupted.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from warpsmith.cli import kernelbench_options as kb
from warpsmith.cli.errors import opened_store, resolved_device, usage_error
from warpsmith.cli.optimize_result import EXTENSIONS, result_document, write_kernel
from warpsmith.cli.output import print_table, stderr_console, stdout_console

err = stderr_console()
out = stdout_console()

EXIT_CODES = "Exit codes: 0 completed (or budget spent), 1 the run failed, 2 a usage error, 130 interrupted."
GPU_DEFAULTS = {"rounds": 5, "width": 4, "suite": "bench"}
CPU_DEFAULTS = {"rounds": 3, "width": 3, "suite": "smoke"}


def _task(kernel: str | None, task_file: Path | None) -> Any:
    from warpsmith.tasklib import TaskFileError, UnknownTaskError, get_task, load_task_file

    try:
        if task_file is not None:
            return load_task_file(task_file)
        if kernel is None:
            raise usage_error("name a task with --kernel (see `warpsmith tasks`) or give --task-file")
        return get_task(kernel)
    except (UnknownTaskError, TaskFileError) as error:
        raise usage_error(str(error)) from None


def _strategy(task: Any, settings: Any, offline: bool, stored: dict, call_log: Any,
              hardware: Any = None) -> tuple[Any, Any]:
    """The strategy, and for an LLM run its watched chat model (None offline)."""
    if offline or not settings.model:
        from warpsmith.agents.coordinator import seed_candidate
        from warpsmith.agents.offline import OfflineStrategy, OfflineStrategyConfig
        from warpsmith.agents.offline_sweep import DEFAULT_MAX_CONFIGS

        if not offline:
            err.print("no model configured: running the offline strategy (parameter search, no LLM)")
        seed = seed_candidate(task, settings.language)  # the start when the store's best declares no tunables
        config = OfflineStrategyConfig(from_seed=settings.from_seed, sweep=settings.sweep > 0,
                                       max_configs=settings.sweep or DEFAULT_MAX_CONFIGS)
        return OfflineStrategy(config, seed=seed, task=task, hardware=hardware, suite=settings.suite), None
    try:
        from warpsmith.agents.llm import Budget
        from warpsmith.agents.llm_strategy import LLMStrategy
    except ModuleNotFoundError as error:
        if not (error.name or "").startswith("warpsmith.agents"):
            raise
        raise usage_error("LLM mode is not available in this build yet; use --offline") from None
    budget = Budget(  # a resumed run has spent some already
        max_usd=settings.budget_usd,
        max_tokens=settings.budget_tokens,
        spent_usd=stored.get("cost_usd", 0.0),
        spent_tokens=stored.get("tokens", 0),
    )
    from warpsmith.cli.llm_setup import WatchedRoles, role_models
    from warpsmith.cli.optimize_settings import run_llm_settings

    models = role_models(run_llm_settings(settings), budget, call_log)
    strategy = LLMStrategy(models["planner"], coder_model=models["coder"], judge_model=models["judge"])
    where = f" at {settings.api_base}" if settings.api_base else ""
    names = {role: chat.model_name for role, chat in models.items()}
    on = f"on {settings.model}{where}" if set(names.values()) == {settings.model} else \
        ", ".join(f"{role} on {name}" for role, name in names.items())
    err.print(f"LLM strategy: planner, coder and judge {on}")
    return strategy, WatchedRoles(list(models.values()))


def _check_writable(out_file: Path, force: bool = False) -> None:
    """Refuse an --out path that cannot be written, or that exists (without --force), before the run
    spends any time."""
    if out_file.exists() and not out_file.is_dir() and not force:
        raise usage_error(f"--out {out_file} exists; pass --force to overwrite it")
    try:
        out_file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise usage_error(f"--out {out_file}: cannot create its folder ({error.strerror})") from None
    if out_file.is_dir() or not os.access(out_file.parent, os.W_OK):
        raise usage_error(f"--out {out_file}: not a writable file path")


@kb.options
def optimize(
    kernel: str | None = typer.Option(None, "--kernel", "-k", help="Task name, e.g. moe_dispatch."),
    lang: str | None = typer.Option(None, "--lang", help="triton | cuda | hip (default triton)."),
    rounds: int | None = typer.Option(None, "--rounds", min=0, help="Search rounds (GPU 5, CPU 3)."),
    width: int | None = typer.Option(None, "--width", min=1, help="Candidates per round (GPU 4, CPU 3)."),
    model: str | None = typer.Option(
        None, "--model", help="litellm model, e.g. openai/gpt-4.1 (or WARPSMITH_MODEL)."
    ),
    api_base: str | None = typer.Option(None, "--api-base", help="OpenAI-compatible server URL."),
    offline: bool = typer.Option(False, "--offline", help="Parameter search without any LLM."),
    budget_usd: float | None = typer.Option(
        None, "--budget-usd", help="Stop once this many dollars are spent."
    ),
    budget_tokens: int | None = typer.Option(
        None, "--budget-tokens", help="Stop once this many tokens are spent."
    ),
    db: str | None = typer.Option(None, "--db", help="SQLAlchemy URL of the store (or WARPSMITH_DB)."),
    resume: str | None = typer.Option(None, "--resume", help="Continue an interrupted run by its id."),
    out_file: Path | None = typer.Option(None, "--out", help="Write the best kernel's source here."),
    suite: str | None = typer.Option(None, "--suite", help="smoke | check | bench (GPU bench, CPU smoke)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    gpu: int | None = typer.Option(None, "--gpu", min=0, help="Index of the GPU that evaluates candidates."),
    workers: int = typer.Option(1, "--workers", min=1, help="A round's candidates evaluated in parallel on this "
                                "machine (as evolve: a LocalPool worker per GPU, or CPU workers)."),
    task_file: Path | None = typer.Option(None, "--task-file", help="A Python file defining a Task."),
    max_tokens: list[str] | None = typer.Option(
        None, "--max-tokens", help="Answer limit: N for every role, or ROLE=N (planner, coder, repair, judge)."
    ),
    from_seed: bool = typer.Option(
        False, "--from-seed", help="Offline: search the shipped seed's tunables, whatever the store's best is."
    ),
    sweep: bool | None = typer.Option(
        None, "--sweep/--no-sweep", help="Offline: round 1 times every declared config; round 2 adds the config "
        "kept per shape bucket as a dispatch table (default on a GPU when the seed declares tunables)."
    ),
    sweep_max: int = typer.Option(64, "--sweep-max", min=1, help="Offline --sweep: at most this many configs."),
    llm_timeout: float | None = typer.Option(
        None, "--llm-timeout", min=1, help="Seconds one LLM request may take (default 300)."
    ),
    force: bool = typer.Option(False, "--force", help="Let --out overwrite an existing file."),
    as_json: bool = typer.Option(
        False, "--json", help="Print the result as one JSON object on stdout (progress stays on stderr)."
    ),
    brought: kb.BroughtTask = kb.BroughtTask(),  # --kernelbench ... --workloads
    seed: Path | None = typer.Option(None, "--seed", help="The kernel to start from (needed with --kernelbench: "
                                     "KernelBench ships none); kernel(*inputs) or a ModelNew source."),
    planner_model: str | None = typer.Option(None, "--planner-model", help="litellm model for the planner."),
    coder_model: str | None = typer.Option(None, "--coder-model", help="litellm model for the coder (and repairs)."),
    judge_model: str | None = typer.Option(None, "--judge-model", help="litellm model for the judge."),
    temperature: list[str] | None = typer.Option(
        None, "--temperature", help="Sampling temperature: T for every role, or ROLE=T (planner, coder, judge)."
    ),
    target_floor: float | None = typer.Option(
        None, "--target-floor", help="Stop once the best reaches this fraction of the bytes floor (large shapes)."
    ),
    patience: int | None = typer.Option(
        None, "--patience", min=1, help="Stop after this many rounds without a significant gain."
    ),
    profile_top: int | None = typer.Option(
        None, "--profile-top", min=0, help="On a GPU, profile each round's best N correct candidates (default 2)."
    ),
) -> None:
    """Optimize one kernel: rounds of plan -> code -> evaluate -> judge, all stored."""
    from warpsmith.agents.call_log import CallLog
    from warpsmith.agents.coordinator import RunNotResumable
    from warpsmith.agents.offline_sweep_run import store_sweep, sweep_document, sweep_setting
    from warpsmith.cli.config_cmd import cli_settings
    from warpsmith.cli.optimize_display import ProgressView
    from warpsmith.cli.optimize_settings import (
        flag_overrides,
        role_max_tokens,
        role_temperatures,
        with_run_values,
    )
    from warpsmith.records.runs import RunSettings
    from warpsmith.search.optimize import run_optimization

    if device not in ("auto", "cpu", "cuda"):
        raise usage_error(f"--device must be auto, cpu or cuda, not {device!r}")
    if suite is not None and suite not in ("smoke", "check", "bench"):
        raise usage_error(f"--suite must be smoke, check or bench, not {suite!r}")
    languages = [part.strip() for part in lang.split(",")] if lang else []
    if any(part not in EXTENSIONS for part in languages):
        raise usage_error(f"--lang must be triton, cuda or hip (or a list: triton,cuda), not {lang!r}")
    if target_floor is not None and not 0 < target_floor <= 1:
        raise usage_error(f"--target-floor {target_floor}: give a fraction of the floor in (0, 1], e.g. 0.8")
    lang = languages[0] if languages else None
    store = opened_store(db)

    stored: dict[str, Any] = {}
    if resume is not None:
        from warpsmith.store.reads import get_run
        from warpsmith.store.runs import RunIdError, resolve_run_id

        with store.session() as session:
            try:  # a whole id, a unique prefix or `latest`
                resume = resolve_run_id(session, resume)
            except RunIdError as error:
                raise usage_error(f"{error} ({store.url})") from None
            row = get_run(session, resume)
            if row is None:
                raise usage_error(f"no run {resume!r} in the store {store.url} (see `warpsmith runs list`)")
            stored = {
                **row.config,
                "task": row.task,
                "model": row.model,
                "strategy": row.strategy,
                "cost_usd": row.cost_usd,
                "tokens": row.prompt_tokens + row.completion_tokens,
            }
        if kernel is not None and kernel != stored["task"]:
            raise usage_error(f"run {resume} optimizes {stored['task']}, not {kernel}")
        kernel = kernel or stored["task"]
    if task_file is None and stored.get("task_file"):
        task_file = Path(stored["task_file"])
    if brought.wanted():
        task = brought.load()
        if seed is None or not seed.is_file():
            raise usage_error("--kernelbench and --trace-definition need --seed FILE: a first kernel to start from "
                              "(neither ships one)")
        task = task.model_copy(update={"seed_file": seed.expanduser().resolve()})
    else:
        task = _task(kernel, task_file)
    language = lang or stored.get("language", "triton")
    if task.seed_path(language) is None:
        known = ", ".join(task.seeds()) or "none"
        raise usage_error(f"task {task.name} ships no {language} seed kernel to start from (seeds: {known})")
    if out_file is not None:
        _check_writable(out_file, force)
    from warpsmith.evaluator.hardware import detect_hardware

    user = cli_settings(flag_overrides(model, api_base, budget_usd, budget_tokens, gpu, llm_timeout, db))
    device = resolved_device(stored.get("device", device))
    gpu_index = gpu if gpu is not None else stored.get("gpu_index", user.evaluator.gpu_index)
    if device == "cuda" and gpu_index is not None:
        import torch

        if gpu_index >= torch.cuda.device_count():
            raise usage_error(f"--gpu {gpu_index}, but torch sees {torch.cuda.device_count()} CUDA device(s)")
    hardware = detect_hardware(device, gpu_index or 0)
    on_cpu = hardware.backend == "cpu"
    defaults = CPU_DEFAULTS if on_cpu else GPU_DEFAULTS
    model = model or planner_model or coder_model or judge_model or stored.get("model") or user.llm.model
    if offline or stored.get("strategy") == "offline":
        model = None
    settings = RunSettings(
        language=language,
        rounds=rounds if rounds is not None else stored.get("rounds", defaults["rounds"]),
        width=width or stored.get("width", defaults["width"]),
        suite=suite or stored.get("suite", defaults["suite"]),
        device=device,
        task_file=str(task_file.resolve()) if task_file else None,
        model=model,
        api_base=api_base or stored.get("api_base") or user.llm.api_base,
        max_tokens=role_max_tokens(max_tokens) or stored.get("max_tokens", {}),
        from_seed=from_seed or stored.get("from_seed", False),
        sweep=sweep_setting(sweep, sweep_max, stored, offline or not model, task, language, hardware),
        gpu_index=gpu_index,
        eval_timeout_s=user.evaluator.timeout_s,
        budget_usd=budget_usd if budget_usd is not None else stored.get("budget_usd", user.budget.usd),
        budget_tokens=budget_tokens if budget_tokens is not None else stored.get("budget_tokens", user.budget.tokens),
        role_models={r: m for r, m in (("planner", planner_model), ("coder", coder_model), ("judge", judge_model)) if m}
        or stored.get("role_models", {}),
        temperatures=role_temperatures(temperature) or stored.get("temperatures", {}),
        languages=languages or stored.get("languages", []),
        target_floor=target_floor if target_floor is not None else stored.get("target_floor"),
        patience=patience if patience is not None else stored.get("patience"),
        profile_top=profile_top if profile_top is not None else stored.get("profile_top", 2),
    )
    settings.settings = with_run_values(user, settings).stored()  # the whole settings, kept with the run
    if model and not offline:  # model, key and server checked before anything is said or stored
        from warpsmith.cli.llm_setup import distinct_models, preflight

        for role_model, role_base in distinct_models(settings.settings):
            preflight(role_model, role_base, settings.budget_usd, settings.budget_tokens, user.llm.api_key_env,
                      warn=lambda line: err.print(line, style="yellow", markup=False, highlight=False))
    if on_cpu and settings.language == "triton":
        err.print(
            f"no GPU: candidates run under the Triton interpreter on the CPU; timings are interpreter "
            f"wall-clock, not GPU timings, and not a performance signal: the run checks correctness and "
            f"names no winner unless significance says one differs ({settings.rounds} rounds x {settings.width} candidates, "
            f"suite {settings.suite}; change with --rounds/--width/--suite)",
            style="yellow",
            highlight=False,
        )
    elif on_cpu:
        err.print(f"no GPU: {settings.language} candidates are compiled for real but not run (status 'compiled'), "
                  "so nothing is timed and the search cannot rank them", style="yellow", highlight=False)
    pool = None  # one evaluation at a time in this process (search.callpool), as optimize always measured
    if workers > 1:
        if brought.wanted():
            raise usage_error("--workers: a --kernelbench or --trace-definition task is evaluated in this process; "
                              "leave --workers out")
        from warpsmith.search.pools import PoolUnavailable, make_pool

        try:
            pool = make_pool(workers, device=settings.device)
        except PoolUnavailable as error:
            raise usage_error(str(error)) from None
    call_log = CallLog()
    strategy, chat = _strategy(task, settings, offline, stored, call_log, hardware)
    err.print(f"store: {store.url}", highlight=False)
    try:
        planned = 1 + settings.rounds * settings.width  # the seed, then each round's candidates
        shape_bytes = {shape.label: task.cost(shape).bytes for shape in task.shapes(settings.suite)}
        with ProgressView(err, settings.rounds, planned=planned, shape_bytes=shape_bytes) as view:
            if chat is not None:
                chat.watch = view.waiting
            summary = run_optimization(
                task, strategy, store, settings, hardware, run_id=resume, call_log=call_log, on_progress=view,
                pool=pool,
            )
    except RunNotResumable as error:
        raise usage_error(str(error)) from None
    store_sweep(store, summary.run_id, strategy)  # its line and per-bucket table, kept with the run
    source_path = write_kernel(summary, out_file, settings.language, store)
    code = _exit_code(summary.status)
    if as_json:
        document = result_document(summary, kernel=source_path, store_url=store.url, exit_code=code)
        if (swept := sweep_document(strategy)) is not None:
            document["sweep"] = swept
        print(json.dumps(document, indent=2))
    else:
        _print_summary(summary, settings.language, source_path, db)
        for note in getattr(strategy, "notes", []):  # the offline sweep: knobs dropped, the config per bucket
            out.print(note, highlight=False, soft_wrap=True)
    if code == 130:
        err.print(
            f"interrupted: continue with `warpsmith optimize --resume {summary.run_id}`", style="yellow"
        )
    elif code == 1:
        err.print(
            f"[red]run {summary.status}:[/red] {escape(summary.message)}", highlight=False, soft_wrap=True
        )
    sys.stdout.flush()
    if code:
        raise typer.Exit(code)


def _exit_code(status: str) -> int:
    if status == "interrupted":
        return 130
    return 0 if status in ("completed", "budget_exhausted") else 1


def _print_summary(summary: Any, language: str, source_path: Path | None, db: str | None) -> None:
    from warpsmith.cli.optimize_display import summary_table, timings_table

    print_table(out, summary_table(summary, language))
    if (table := timings_table(summary)) is not None:
        print_table(out, table)
    if source_path is not None:
        out.print(f"best kernel source: {source_path}", highlight=False, soft_wrap=True)
    out.print(
        f"details: warpsmith runs show {summary.run_id}" + (f" --db {db}" if db else ""),
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("optimize", epilog=EXIT_CODES)(optimize)
