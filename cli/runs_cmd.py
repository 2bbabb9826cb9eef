"""`warpsmith runs list` and `warpsmith runs show ID`: what the store knows about runs.

Owns: turning store rows into one plain document per run (`run_document`), shown as rich
tables or, with --json, printed as one JSON document on stdout. Does not own: queries
(warpsmith.store.reads) or writing anything (list/show/export only read, and never create or
migrate a store: a missing path, a foreign database, an older or newer schema is one line; on a
writable store they do mark runs whose writer died as 'interrupted', as every reader of run
status should). `runs delete` writes: its store must exist, and an older one is migrated.

A run's document: task, status (+ message), strategy, model, cost, tokens, rounds, its
hardware, its best candidate, its candidates (short hash, parent, origin, round, relation,
status, mode, per-shape medians, speedup) and its LLM calls (seq, role, model, tokens, cost,
latency, error). `runs show` prints LLM calls as a table; a transcript view (whole
messages) belongs beside `_print_llm_calls`.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from warpsmith.cli.baselines_view import side_by_side, vendor_table
from warpsmith.cli.errors import usage_error
from warpsmith.cli.output import cell, print_table, short, stderr_console, stdout_console, table
from warpsmith.records.stored import StoredLLMCall, StoredRun
from warpsmith.records.views import CandidateInRun

out = stdout_console()
RUN_ID_HELP = "The run: its id, a unique prefix of it, or `latest` (see `warpsmith runs list`)."
BASELINE_KEYS = ("shape", "median_us", "reference_median_us", "compile_median_us", "vendor_median_us", "comparisons")
EXIT_CODES = "Exit codes: 0 success, 2 a usage error (unknown run, a store that cannot be opened)."
runs_app = typer.Typer(help="List and inspect optimization runs.", no_args_is_help=True)


def _time(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _open(db: str | None) -> Any:
    """The store for writing (`runs delete`): it must exist already; an older one is migrated."""
    from warpsmith.dashboard.readonly import check_existing
    from warpsmith.store.db import StoreError, open_store, upgrade_note

    try:
        check_existing(db, allow_older=True)  # never create a store just to say 'no run'
        store = open_store(db)
    except StoreError as error:
        raise usage_error(str(error)) from None
    note = upgrade_note(store)
    if note:  # on stderr: --json keeps stdout one document
        stderr_console().print(note, style="yellow", markup=False, highlight=False)
    return store


def _open_to_read(db: str | None) -> tuple[Any, bool]:
    """The store for a read command, never created nor migrated; and whether it may be written.

    Readable and writable: opened as usual (at head already, so nothing changes but the marking
    of runs whose writer died). Read-only: opened read-only, and stale runs stay as recorded.
    """
    from warpsmith.dashboard.readonly import open_readonly
    from warpsmith.store.db import StoreError, open_store

    try:
        reader = open_readonly(db)  # one line for: missing, not ours, newer, older, unreadable
    except StoreError as error:
        raise usage_error(str(error)) from None
    try:
        store = open_store(db)
    except StoreError:
        return reader, False
    reader.close()
    return store, True


def _mark_stale(session: Any, writable: bool) -> None:
    from warpsmith.store.runs import mark_stale_runs

    if writable:
        mark_stale_runs(session)


def _run_fields(run: StoredRun) -> dict[str, Any]:
    """The stored run, as JSON (the writer's host and pid stay out: they say where, not what)."""
    return run.model_dump(mode="json", exclude={"host", "pid"})


def _candidate_fields(view: CandidateInRun) -> dict[str, Any]:
    """A candidate of the run with the evaluation that stands for it there (records.views.representative:
    the one the dashboard shows too)."""
    evaluation, result = view.evaluation, view.evaluation.result if view.evaluation else None
    return {
        **view.candidate.model_dump(mode="json", include={"source_hash", "parent_hash", "origin", "plan_item"}),
        "round": view.link.round_index,
        "relation": view.link.relation,
        "status": evaluation.status if evaluation else "not evaluated",
        "mode": evaluation.mode if evaluation else None,
        "suite": evaluation.suite if evaluation else None,
        "message": evaluation.message if evaluation else "",
        "speedup": evaluation.speedup if evaluation else None,
        "median_us": {t.shape: t.median_us for t in result.timings} if result else {},
        # which measurement this run saw: evaluations are history, a later re-evaluation is another row
        "evaluation_id": evaluation.id if evaluation else None,
        "evaluated_at": _time(evaluation.created_at) if evaluation else None,
        "evaluated_by_run": evaluation.run_id if evaluation else None,
        "verdicts": [v.verdict.feedback for v in view.verdicts if v.verdict.feedback],
        "resources": [r.model_dump(mode="json") for r in result.resources] if result else [],  # native: the compiler's
        # per shape: the kernel beside eager, torch.compile and each vendor kernel (the trusted process's times)
        "baselines": [t.model_dump(mode="json", include=set(BASELINE_KEYS)) for t in result.timings] if result else [],
        "vendor_baselines": [v.model_dump(mode="json") for v in result.vendor_baselines] if result else [],
    }


def _call_fields(call: StoredLLMCall) -> dict[str, Any]:
    """A call's header (its messages and answer: `runs show --transcript`)."""
    return {"round": call.round_index, **call.model_dump(mode="json", exclude={"messages", "response", "messages_included"})}


def run_document(session: Any, run_id: str) -> dict[str, Any] | None:
    """Everything `runs show` reports about one run, as plain JSON-ready data."""
    from warpsmith.store.lookups import hardware_details
    from warpsmith.store.reads import run_contents

    contents = run_contents(session, run_id)
    if contents is None:
        return None
    candidates = [_candidate_fields(view) for view in contents.candidates]
    best = next((c for c in candidates if c["source_hash"] == contents.run.best_candidate_hash), None)
    return {
        "run": _run_fields(contents.run),
        "hardware": hardware_details(session, contents.run.hardware_fingerprint),
        "best": best,
        "candidates": candidates,
        "llm_calls": [_call_fields(call) for call in contents.llm_calls],
    }


@runs_app.command("list", epilog=EXIT_CODES)
def list_runs(
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    db: str | None = typer.Option(None, "--db", help="SQLAlchemy URL of the store (or WARPSMITH_DB)."),
    limit: int = typer.Option(50, "--limit", help="Newest runs first, at most this many."),
) -> None:
    """The runs in the store, newest first."""
    from warpsmith.store.listing import list_runs as query_runs

    store, writable = _open_to_read(db)
    with store.session() as session:
        _mark_stale(session, writable)
        rows = [_run_fields(overview) for overview in query_runs(session, limit=limit)]
    if as_json:
        print(json.dumps({"runs": rows}, indent=2))
        return
    listing = table(f"runs in {store.url}", ["id", "task", "status", "strategy", "model", "rounds", "correct",
                                              "best", "cost", "started"], whole=("id", "task", "status"))
    for r in rows:
        listing.add_row(
            cell(r["id"]), cell(r["task"]), cell(r["status"]), cell(r["strategy"]), cell(r["model"] or "-"),
            f"{r['rounds_done']}/{r['rounds_total'] if r['rounds_total'] is not None else '?'}",
            f"{r['correct']}/{r['candidates']}",
            f"{r['best_speedup']:.3g}x" if r["best_speedup"] is not None else "-",
            f"${r['cost_usd']:.4f}", (r["created_at"] or "")[:16],
        )  # fmt: skip
    print_table(out, listing)


def _best_text(best: dict[str, Any] | None) -> str:
    if best is None:
        return "none"
    measured = f"{best['speedup']:.3g}x" if best["speedup"] is not None else ""
    if not measured and best["median_us"]:
        measured = f"{sum(best['median_us'].values()):,.0f} us total"
    return f"{short(best['source_hash'], out)} {measured} ({best['mode']}; {best['plan_item'] or best['origin']})"


def _print_run(doc: dict[str, Any]) -> None:
    run = doc["run"]
    head = table(f"run {run['id']}", ["", ""], show_header=False)
    hardware = doc["hardware"] or {}
    best = doc["best"]
    for key, value in (
        ("task", f"{run['task']} ({run['language']})"),
        ("status", run["status"] + (f": {run['status_message']}" if run["status_message"] else "")),
        ("strategy", f"{run['strategy']}" + (f", model {run['model']}" if run["model"] else "")),
        ("rounds", f"{run['rounds_done']}/{run['rounds_total']}"),
        ("cost", f"${run['cost_usd']:.4f}, {run['prompt_tokens']}+{run['completion_tokens']} tokens"),
        ("hardware", f"{hardware.get('device_name', '?')} ({run['hardware_fingerprint']})"),
        ("best", _best_text(best)),
        ("started / finished", f"{run['created_at']} / {run['finished_at'] or '-'}"),
    ):
        head.add_row(key, cell(value))
    print_table(out, head)
    # Ideas get lines of their own under the table: as a column they would be 4 characters wide at 80.
    candidates = table("candidates", ["rnd", "hash", "parent", "origin", "status", "mode", "median us", "speedup"],
                       whole=("hash", "parent"))
    for c in doc["candidates"]:
        medians = ", ".join(f"{v:,.0f}" for v in c["median_us"].values())
        candidates.add_row(
            str(c["round"]) + ("*" if c["relation"] == "inherited" else ""), short(c["source_hash"], out),
            short(c["parent_hash"], out), cell(c["origin"]), cell(c["status"]), cell(c["mode"] or "-"),
            medians or "-", f"{c['speedup']:.3g}x" if c["speedup"] is not None else "-",
        )  # fmt: skip
    print_table(out, candidates)
    _print_baselines(best)
    _print_resources(doc["candidates"])
    ideas = [c for c in doc["candidates"] if c["plan_item"]]
    if ideas:
        out.print("ideas", style="italic")
    for c in ideas:
        out.print(f"  {short(c['source_hash'], out)}  {c['plan_item']}", markup=False, highlight=False,
                  soft_wrap=True)
    out.print("[dim]* inherited: a seed or an earlier run's kernel the run started from[/dim]")
    _print_llm_calls(doc["llm_calls"])


def _print_baselines(best: dict[str, Any] | None) -> None:
    """The best kernel beside eager, torch.compile and the vendor kernels, per shape (device runs)."""
    if best is None:
        return
    timed = [t for t in best["baselines"] if t.get("reference_median_us") is not None]
    if timed:
        print_table(out, side_by_side(timed, f"best kernel {short(best['source_hash'], out)} beside its baselines"))
    if (vendors := vendor_table(best["vendor_baselines"])) is not None:
        print_table(out, vendors)


def _print_resources(candidates: list[dict[str, Any]]) -> None:
    """The compiler's register / shared memory / spill report of each native candidate."""
    from warpsmith.cli.eval_cmd import demangled

    reports = [(c["source_hash"], r) for c in candidates for r in c.get("resources", [])]
    if not reports:
        return
    names = demangled([r["kernel"] for _, r in reports])
    listing = table("registers and spills (compiler report)", ["hash", "kernel", "registers", "shared B",
                                                               "spill stores B", "spill loads B"], whole=("hash",))
    for source_hash, r in reports:
        listing.add_row(short(source_hash, out), cell(names.get(r["kernel"], r["kernel"])),
                        *(cell("-" if r.get(k) is None else r[k])
                          for k in ("registers", "shared_bytes", "spill_stores_bytes", "spill_loads_bytes")))
    print_table(out, listing)


def _print_llm_calls(calls: list[dict[str, Any]]) -> None:
    if not calls:
        out.print("no LLM calls")
        return
    listing = table("LLM calls", ["seq", "round", "role", "model", "tokens in/out", "cost", "latency s", "error"])
    for c in calls:
        listing.add_row(
            str(c["seq"]), str(c["round"]), cell(c["role"]), cell(c["model"]),
            f"{c['prompt_tokens']}/{c['completion_tokens']}", f"${c['cost_usd']:.4f}",
            f"{c['latency_s']:.2f}", cell(c["error"] or ""),
        )  # fmt: skip
    print_table(out, listing)


@runs_app.command("show", epilog=EXIT_CODES)
def show_run(
    run_id: str = typer.Argument(..., help=RUN_ID_HELP),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    db: str | None = typer.Option(None, "--db", help="SQLAlchemy URL of the store (or WARPSMITH_DB)."),
    transcript: bool = typer.Option(
        False, "--transcript", help="Print the conversation step by step: every message and response."
    ),
) -> None:
    """One run: its settings, hardware, best kernel, candidates and LLM calls."""
    store, writable = _open_to_read(db)
    with store.session() as session:
        _mark_stale(session, writable)
        run_id = _resolve(session, run_id, store.url)
        doc = run_document(session, run_id)
    if doc is None:
        raise usage_error(f"no run {run_id!r} in the store {store.url} (see `warpsmith runs list`)")
    if as_json:
        print(json.dumps(doc, indent=2))
        return
    _print_run(doc)
    if transcript:  # --transcript lives in warpsmith.cli.transcript (the dashboard/replay room)
        from warpsmith.cli.transcript import print_transcript

        with store.session() as session:
            print_transcript(session, run_id, out)


def _resolve(session: Any, text: str, url: str) -> str:
    from warpsmith.store.runs import RunIdError, resolve_run_id

    try:
        return resolve_run_id(session, text)
    except RunIdError as error:
        raise usage_error(f"{error} ({url})") from None


@runs_app.command("delete", epilog=EXIT_CODES)
def delete_run(
    run_id: str = typer.Argument(..., help=RUN_ID_HELP),
    yes: bool = typer.Option(False, "--yes", help="Really delete (without it, only say what would go)."),
    db: str | None = typer.Option(None, "--db", help="SQLAlchemy URL of the store (or WARPSMITH_DB)."),
) -> None:
    """Delete a run with its links, LLM calls and verdicts; kernels and evaluations other runs use stay."""
    from warpsmith.store.runs import delete_run as delete

    store = _open(db)
    with store.session() as session:
        run_id = _resolve(session, run_id, store.url)
        if not yes:
            raise usage_error(f"this deletes run {run_id} from {store.url}: run again with --yes to do it")
        try:
            counts = delete(session, run_id)
        except ValueError as error:
            raise usage_error(str(error)) from None
    gone = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
    print(f"deleted run {run_id}" + (f" ({gone})" if gone else ""))


@runs_app.command("export", epilog=EXIT_CODES)
def export_run(
    run_id: str = typer.Argument(..., help=RUN_ID_HELP),
    out_file: Path = typer.Option(..., "--out", help="The JSON file to write (refused if it exists)."),
    db: str | None = typer.Option(None, "--db", help="SQLAlchemy URL of the store (or WARPSMITH_DB)."),
) -> None:
    """Write a whole run (candidates with sources, evaluations, verdicts, LLM calls) as one JSON file."""
    from warpsmith.store.runs import export_run as export

    if out_file.exists():
        raise usage_error(f"{out_file} exists: choose another --out (nothing is overwritten)")
    store, _writable = _open_to_read(db)
    with store.session() as session:
        run_id = _resolve(session, run_id, store.url)
        document = export(session, run_id)
    try:
        out_file.write_text(json.dumps(document, indent=1) + "\n")
    except OSError as error:
        raise usage_error(f"cannot write {out_file}: {error.strerror}") from None
    print(
        f"exported run {run_id} to {out_file} ({len(document['candidates'])} candidates, "
        f"{len(document['llm_calls'])} LLM calls)"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
