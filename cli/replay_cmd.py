"""`warpsmith replay RUN_ID`: re-execute a stored run here, with its LLM answers served from the store.

Owns: the command's options, picking replay or re-evaluation, and reporting how the new
run compares with the original. Does not own: the replay (warpsmith.agents.replay) or the
re-evaluation (warpsmith.agents.reevaluate). No LLM request is ever made. With `--json` the
result is one JSON object on stdout (`result_document`), every progress line stays on stderr.

Exit codes: 0 the replay completed (or the re-evaluation did), 1 it diverged or failed,
2 a usage error (unknown run, bad --db, no such device), 130 interrupted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from warpsmith.cli.errors import resolved_device, usage_error
from warpsmith.cli.output import stderr_console, stdout_console

EXIT_CODES = ("Exit codes: 0 the replay (or re-evaluation) completed, 1 it diverged or failed, 2 a usage error, "
              "130 interrupted.")
err = stderr_console()
out = stdout_console()


def _task(name: str, task_file: str | None) -> Any:
    from warpsmith.tasklib import TaskFileError, UnknownTaskError, get_task, load_task_file

    try:
        return load_task_file(Path(task_file)) if task_file else get_task(name)
    except (UnknownTaskError, TaskFileError) as error:
        raise usage_error(f"cannot load the run's task: {error}") from None


def _hardware(requested: str) -> tuple[str, Any]:
    """The device candidates run on ('auto' resolved) and its Hardware fingerprint."""
    from warpsmith.evaluator.hardware import detect_hardware

    device = resolved_device(requested)
    try:
        return device, detect_hardware(device)
    except (RuntimeError, ValueError) as error:
        raise usage_error(str(error)) from None


def _report(outcome: Any) -> None:
    kind = "re-evaluation" if outcome.kind == "reevaluate" else "replay"
    colour = "green" if outcome.status == "completed" else "red"
    out.print(
        f"{kind} of {outcome.original_run_id}: new run [bold]{outcome.run_id}[/bold], "
        f"[{colour}]{outcome.status}[/{colour}]",
        highlight=False,
    )
    if outcome.message:
        out.print(f"  {outcome.message}", markup=False, highlight=False)
    if outcome.kind == "replay":
        same = "the same" if outcome.same_candidates else "DIFFERENT"
        out.print(
            f"  {outcome.served} recorded answers served, no LLM request; produced {len(outcome.replay_hashes)} "
            f"candidate(s), {same} as the original's {len(outcome.original_hashes)}",
            highlight=False,
        )
    for note in outcome.notes:
        out.print(f"  {note}", style="dim", markup=False, highlight=False)


DOCUMENT_VERSION = 1


def result_document(outcome: Any, *, store_url: str, exit_code: int) -> dict[str, Any]:
    """What `replay --json` prints: the new run, how it ended and how it compares with the original."""
    replayed = outcome.kind == "replay"
    return {
        "version": DOCUMENT_VERSION,
        "kind": outcome.kind,
        "run_id": outcome.run_id,
        "original_run_id": outcome.original_run_id,
        "status": outcome.status,
        "message": outcome.message,
        "exit_code": exit_code,
        "served": outcome.served if replayed else None,
        "unused_reviews": outcome.unused_reviews if replayed else None,
        "same_candidates": outcome.same_candidates if replayed else None,
        "original_candidates": outcome.original_hashes,
        "replay_candidates": outcome.replay_hashes,
        "notes": outcome.notes,
        "store": store_url,
    }


@contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C during a replay ends the command with one line and exit code 130 (the new run's rows
    written so far stay in the store)."""
    try:
        yield
    except KeyboardInterrupt:
        err.print("interrupted", style="yellow")
        raise typer.Exit(130) from None


def finish(outcome: Any, as_json: bool, store_url: str) -> None:
    """Report the outcome (a table for people, one JSON object with --json) and exit 1 unless it completed."""
    code = 0 if outcome.status == "completed" else 1
    if as_json:
        print(json.dumps(result_document(outcome, store_url=store_url, exit_code=code), indent=2))
    else:
        _report(outcome)
        out.print(f"details: warpsmith runs show {outcome.run_id} --transcript", highlight=False)
    if code:
        raise typer.Exit(code)


def replay(
    run_id: str = typer.Argument(..., help="The run to replay (see `warpsmith runs list`)."),
    db: str | None = typer.Option(None, "--db", help="SQLAlchemy URL of the store (or WARPSMITH_DB)."),
    reevaluate: bool = typer.Option(
        False, "--reevaluate", help="Only evaluate the run's candidates again here; no agent runs."
    ),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda: where candidates run."),
    as_json: bool = typer.Option(
        False, "--json", help="Print the result as one JSON object on stdout (progress stays on stderr)."
    ),
) -> None:
    """Re-execute a stored run on this machine and evaluator, answering its LLM calls from the store."""
    from warpsmith.agents.reevaluate import reevaluate_run
    from warpsmith.agents.replay import is_reevaluation_only, load_original
    from warpsmith.dashboard.readonly import check_existing
    from warpsmith.search.replay import replay_run
    from warpsmith.store.db import StoreError, open_store, upgrade_note
    from warpsmith.store.runs import RunIdError, resolve_run_id

    if device not in ("auto", "cpu", "cuda"):
        raise usage_error(f"--device must be auto, cpu or cuda, not {device!r}")
    try:
        check_existing(db, allow_older=True)  # the source run's store: never created here
        store = open_store(db)  # replay writes its own run: an older store is migrated
    except StoreError as error:
        raise usage_error(str(error)) from None
    if note := upgrade_note(store):
        err.print(note, style="yellow", markup=False, highlight=False)
    try:
        with store.session() as session:  # a whole id, a unique prefix or `latest`
            run_id = resolve_run_id(session, run_id)
        original = load_original(store, run_id)
    except RunIdError as error:
        raise usage_error(f"{error} in {store.url}") from None
    if original.strategy == "evolve":  # many tasks, islands: the evolve engine replays it
        from warpsmith.cli.evolve import replay_evolve

        return replay_evolve(store, original, device, reevaluate, as_json)
    task = _task(original.task, original.config.get("task_file"))
    device, hardware = _hardware(device)
    err.print(f"store: {store.url}; hardware: {hardware.device_name}", highlight=False)
    if not reevaluate and is_reevaluation_only(original):
        err.print(
            f"run {run_id} is an offline run: it made no LLM calls to replay, and its search depends on "
            "measured times; re-evaluating its candidates instead",
            style="yellow",
            highlight=False,
        )
        reevaluate = True
    with interruptible():
        if reevaluate:
            outcome = reevaluate_run(
                store,
                run_id,
                task,
                hardware,
                device=device,
                on_step=lambda m: err.print(m, markup=False, highlight=False),
            )
        else:
            from warpsmith.cli.optimize_display import ProgressView

            rounds = original.config.get("rounds", original.rounds_done)
            with ProgressView(err, rounds) as view:
                outcome = replay_run(store, run_id, task, hardware, device=device, on_progress=view)
    finish(outcome, as_json, store.url)


def register(app: typer.Typer) -> None:
    app.command("replay", epilog=EXIT_CODES)(replay)
