"""The MCP server behind `warpsmith mcp`: warpsmith's tasks, evaluator, runs and best kernels as
tools an IDE agent calls over stdio.

Owns: the tools, their arguments and the plain-data answers (the same documents `tasks show`,
`eval --json` and `runs show --json` print). Does not own: any behaviour behind them (tasklib,
the evaluator, the store, `warpsmith optimize` run as a child process). Needs the optional `mcp`
SDK (`pip install warpsmith[mcp]`, mcp 2.x: `MCPServer`); mcp_cmd.py says so when it is missing.

Lives in cli/, not in a folder named `mcp/`: a top-level `mcp` would shadow the SDK itself.
A failure a user can fix is one line (a ToolError), which the SDK returns as the tool's error result.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from warpsmith.cli.runs_cmd import _run_fields, run_document
from warpsmith.cli.tasks_cmd import task_document

START_WAIT_S = 60.0  # how long start_optimize waits for the child to create its run row
LOG_DIR_NAME = "mcp-runs"


def _task(name: str) -> Any:
    from warpsmith.tasklib import UnknownTaskError, get_task

    try:
        return get_task(name)
    except UnknownTaskError as error:
        raise ToolError(str(error)) from None


def build_server(db: str | None = None) -> MCPServer:
    """The server with every tool; `db` is the store's URL (else WARPSMITH_DB, else the default)."""
    server = MCPServer(
        name="warpsmith",
        instructions=(
            "warpsmith: a trusted, sandboxed evaluator for GPU kernels (Triton, CUDA, HIP) and a search "
            "that makes them faster. list_tasks/show_task tell what a kernel must compute; evaluate_kernel "
            "judges a source; start_optimize runs a search in the background; list_runs/show_run/best_kernel "
            "read what is stored."
        ),
    )

    def open_store() -> Any:
        from warpsmith.store.db import StoreError
        from warpsmith.store.db import open_store as open_

        try:
            return open_(db)
        except StoreError as error:
            raise ToolError(str(error)) from None

    @server.tool()
    def list_tasks() -> dict[str, Any]:
        """The built-in tasks: name, one-line summary, languages with a seed, shape counts per suite."""
        from warpsmith.tasklib import list_tasks as all_tasks

        return {"tasks": [task_document(task, detail=False) for task in all_tasks()]}

    @server.tool()
    def show_task(name: str) -> dict[str, Any]:
        """One task's contract: description, kernel signature, inputs, outputs, allowed torch ops, and
        every shape of the smoke, check and bench suites with its bytes and flops floor."""
        return task_document(_task(name), detail=True)

    @server.tool()
    def evaluate_kernel(task: str, source: str, language: str = "triton", suite: str = "check",
                        device: str = "auto") -> dict[str, Any]:
        """Evaluate a kernel source with warpsmith's real evaluator (sandboxed child, checked by the
        trusted parent): status, per-shape correctness, timings (device mode) or interpreter wall
        clock, violations. suite: smoke | check | bench; device: auto | cpu | cuda."""
        from warpsmith.evaluator.evaluate import evaluate
        from warpsmith.records.evaluation import Candidate

        if suite not in ("smoke", "check", "bench"):
            raise ToolError(f"unknown suite {suite!r}; use smoke, check or bench")
        if device not in ("auto", "cpu", "cuda"):
            raise ToolError(f"unknown device {device!r}; use auto, cpu or cuda")
        spec = _task(task)
        if language not in spec.languages:
            raise ToolError(f"task {task} has no {language} form; languages: {', '.join(spec.languages)}")
        candidate = Candidate(task=spec.name, language=language, source=source, origin="user")
        return evaluate(candidate, spec, suite=suite, device=device).model_dump(mode="json")

    @server.tool()
    def start_optimize(task: str, rounds: int = 3, width: int = 3, offline: bool = True,
                       model: str | None = None, suite: str | None = None) -> dict[str, Any]:
        """Start `warpsmith optimize` for a task as a background process; returns its run id at once
        (follow it with show_run). offline=True searches the seed's parameters without any LLM;
        otherwise `model` (a litellm name) with its API key in the server's environment."""
        spec = _task(task)
        args = ["optimize", "--kernel", spec.name, "--rounds", str(rounds), "--width", str(width)]
        args += ["--offline"] if offline or not model else ["--model", model]
        args += ["--suite", suite] if suite else []
        args += ["--db", db] if db else []
        from warpsmith.store.db import default_data_dir

        logs = default_data_dir() / LOG_DIR_NAME
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{spec.name}-{int(time.time() * 1000)}.log"
        with log_path.open("w") as log:
            child = subprocess.Popen([sys.executable, "-m", "warpsmith.cli", *args], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        run_id = _wait_for_run(open_store, child, log_path)
        return {"run_id": run_id, "pid": child.pid, "log": str(log_path), "command": ["warpsmith", *args]}

    @server.tool()
    def list_runs(task: str | None = None, limit: int = 20) -> dict[str, Any]:
        """Stored runs, newest first (optionally of one task): id, task, status, strategy, model,
        rounds, best candidate and speedup, cost, created and finished times."""
        from warpsmith.store.listing import list_runs as query_runs
        from warpsmith.store.runs import mark_stale_runs

        store = open_store()
        try:
            with store.session() as session:
                mark_stale_runs(session)
                return {"runs": [_run_fields(overview) for overview in query_runs(session, limit=limit, task=task)]}
        finally:
            store.close()

    @server.tool()
    def show_run(run: str) -> dict[str, Any]:
        """One run (its id, a unique prefix or `latest`): settings, hardware, best candidate, every
        candidate with its status and per-shape timings, LLM calls (without their messages)."""
        from warpsmith.store.runs import RunIdError, resolve_run_id

        store = open_store()
        try:
            with store.session() as session:
                try:
                    document = run_document(session, resolve_run_id(session, run))
                except RunIdError as error:
                    raise ToolError(str(error)) from None
                assert document is not None  # resolve_run_id found it
                return document
        finally:
            store.close()

    @server.tool()
    def best_kernel(task: str) -> dict[str, Any]:
        """The best stored kernel of a task: the fastest correct one measured on a GPU (per hardware),
        else the best of the newest run that found a correct one (interpreter runs rank nothing by
        speed). Returns its source, hash, language, speedup and where it was measured."""
        from warpsmith.cli.mcp_best import best_of_task

        store = open_store()
        try:
            with store.session() as session:
                found = best_of_task(session, _task(task).name)
        finally:
            store.close()
        if found is None:
            raise ToolError(f"no correct kernel of task {task} is stored yet; start_optimize finds one")
        return found

    return server


def _wait_for_run(open_store: Any, child: subprocess.Popen[bytes], log_path: Path) -> str:
    """The id of the run the child created (runs record their writer's pid), or one line on failure."""
    from warpsmith.store.lookups import run_of_writer

    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        store = open_store()
        try:
            with store.session() as session:
                found = run_of_writer(session, child.pid)
        finally:
            store.close()
        if found:
            return found
        if child.poll() is not None:
            tail = " ".join(log_path.read_text().split()[-40:])
            raise ToolError(f"warpsmith optimize exited ({child.returncode}) before creating a run: {tail}")
        time.sleep(0.5)
    raise ToolError(f"warpsmith optimize (pid {child.pid}) created no run within {START_WAIT_S:.0f} s; see {log_path}")


def serve(db: str | None = None) -> None:
    """Serve over stdio until the client closes the pipe."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    build_server(db).run("stdio")
