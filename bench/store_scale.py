"""How the store and the dashboard hold up at evolution scale: build a big store, time every page.

Builds a synthetic store (bench/store_scale_build.py) through the store's own write API: RUNS runs of one task,
half of them LLM runs (each candidate with LLM_CALLS calls whose messages hold a realistic
prompt and the kernel's source) and half offline; CANDIDATES_PER_RUN candidates per run in
rounds, each with an evaluation of 40 shape timings and correctness checks, parents chained
deep (half the candidates descend from the one just before). Then serves it with the real
`warpsmith dashboard` in a subprocess, times every page and API endpoint (median of REPEAT
requests, and the first), `warpsmith runs list`, a concurrent load (CLIENTS threads for
SECONDS); prints a table against issue 16's targets (every endpoint <= 300 ms median, `runs
list` <= 1 s, a run page <= 2 MB, server memory <= 500 MB, no error under load). Usage:

    python bench/store_scale.py --build /tmp/scale.db --runs 20 --candidates-per-run 500 --llm-calls 3
    python bench/store_scale.py --db /tmp/scale.db          # time an existing store
    python bench/store_scale.py --build postgresql+psycopg://u@127.0.0.1:5432/scale ...  # the same on PostgreSQL
    [--clients 20] [--seconds 30] [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from store_scale_build import TASK, build, store_url  # noqa: E402 - bench/ is on sys.path as a script

TARGET_MS = 300.0
TARGET_RUNS_LIST_S = 1.0
TARGET_RUN_PAGE_BYTES = 2_000_000
TARGET_RSS_MB = 500.0


def _get(url: str) -> tuple[int, int, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        body, status = error.read(), error.code
    return status, len(body), time.perf_counter() - started


def _seconds(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # the peak resident size
            return int(line.split()[1]) / 1024
    return float("nan")


def _targets(db: str) -> list[tuple[str, str]]:
    from warpsmith.dashboard.readonly import open_readonly
    from warpsmith.store.listing import list_runs
    from warpsmith.store.schema import CandidateRow, RunCandidateRow

    with open_readonly(store_url(db)) as store, store.session() as s:
        from sqlalchemy import func, select

        runs = list_runs(s, limit=1000)
        big = max(runs, key=lambda r: (r.candidates, r.run.strategy == "llm")).run.id
        llm = next((r.run.id for r in runs if r.run.strategy == "llm"), big)
        child = s.scalar(select(RunCandidateRow.source_hash).where(RunCandidateRow.run_id == big).limit(1))
        busiest_parent = s.scalar(
            select(CandidateRow.parent_hash)
            .where(CandidateRow.parent_hash.is_not(None))
            .group_by(CandidateRow.parent_hash)
            .order_by(func.count().desc())
            .limit(1)
        )
    return [
        ("page /", "/"),
        ("fragment runs (polled)", "/fragments/runs"),
        ("page run", f"/runs/{big}"),
        ("page run, LLM", f"/runs/{llm}"),
        ("page run, last candidates", f"/runs/{big}?offset=10000"),
        ("fragment run summary (polled)", f"/fragments/runs/{big}/summary"),
        ("fragment LLM call", f"/fragments/runs/{llm}/llm_calls/0"),
        ("page candidate", f"/candidates/{child}"),
        ("page candidate, many children", f"/candidates/{busiest_parent or child}"),
        ("page task", f"/tasks/{TASK}"),
        ("api runs", "/api/runs"),
        ("api run", f"/api/runs/{big}"),
        ("api run latest", "/api/runs/latest"),
        ("api run candidates", f"/api/runs/{big}/candidates"),
        ("api run llm_calls", f"/api/runs/{llm}/llm_calls"),
        ("api llm_call", f"/api/runs/{llm}/llm_calls/1"),
        ("api candidate", f"/api/candidates/{child}"),
        ("api task", f"/api/tasks/{TASK}"),
    ]


def _load(base: str, paths: list[str], clients: int, seconds: float) -> dict[str, Any]:
    """`clients` threads requesting the paths round-robin for `seconds`; counts and errors."""
    done: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds
    lock = threading.Lock()

    def client(offset: int) -> None:
        i = offset
        while time.monotonic() < deadline:
            path = paths[i % len(paths)]
            i += 1
            try:
                status, _, elapsed = _get(base + path)
            except OSError as error:
                with lock:
                    errors.append(f"{path}: {error}")
                continue
            with lock:
                (done.append(elapsed) if status == 200 else errors.append(f"{path}: HTTP {status}"))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "requests": len(done),
        "per_s": round(len(done) / seconds, 1),
        "median_ms": round(statistics.median(done) * 1000, 1) if done else None,
        "p95_ms": round(sorted(done)[int(len(done) * 0.95)] * 1000, 1) if done else None,
        "errors": len(errors),
        "first_errors": errors[:3],
    }


def measure(db: str, repeat: int, clients: int, seconds: float) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from _dashboard_helpers import free_port, wait_for_http

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "warpsmith.cli",
        "dashboard",
        "--db",
        store_url(db),
        "--port",
        str(port),
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rows = []
    try:
        wait_for_http(base + "/api/tasks", timeout_s=60, process=server)
        targets = _targets(db)
        for name, path in targets:
            samples = [_get(base + path) for _ in range(repeat)]
            rows.append(
                {
                    "name": name,
                    "path": path[:60],
                    "status": samples[-1][0],
                    "bytes": samples[-1][1],
                    "median_ms": round(statistics.median(s[2] for s in samples) * 1000, 1),
                    "first_ms": round(samples[0][2] * 1000, 1),  # before any memo of the server
                }
            )
        load = _load(base, [path for _, path in targets], clients, seconds)
        rss = _rss_mb(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
            stopped = "clean" if server.returncode in (0, -15) else f"exit {server.returncode}"
        except subprocess.TimeoutExpired:
            server.kill()
            stopped = "did not stop within 15 s of SIGTERM"
    from warpsmith.dashboard.readonly import open_readonly
    from warpsmith.store.listing import list_runs

    with open_readonly(store_url(db)) as store, store.session() as s:
        query_s = _seconds(lambda: list_runs(s, limit=50))
    cli = [sys.executable, "-m", "warpsmith.cli"]
    startup_s = _seconds(lambda: subprocess.run([*cli, "--help"], capture_output=True))
    listed: list[Any] = []
    db_url = store_url(db)
    runs_list_s = _seconds(
        lambda: listed.append(subprocess.run([*cli, "runs", "list", "--db", db_url], capture_output=True))
    )
    return {
        "endpoints": rows,
        "load": {"clients": clients, "seconds": seconds, **load},
        "server_peak_rss_mb": round(rss, 1),
        "sigterm": stopped,
        "runs_list_s": round(runs_list_s, 2),
        "runs_list_query_s": round(query_s, 3),
        "cli_startup_s": round(startup_s, 2),
        "runs_list_ok": listed[0].returncode == 0,
    }


def report(result: dict[str, Any]) -> None:
    print(f"{'endpoint':34} {'median ms':>10} {'first ms':>9} {'KiB':>9} {'HTTP':>5}  ok")
    for row in result["endpoints"]:
        ok = row["status"] == 200 and row["median_ms"] <= TARGET_MS
        if row["name"].startswith("page run"):
            ok = ok and row["bytes"] <= TARGET_RUN_PAGE_BYTES
        print(
            f"{row['name']:34} {row['median_ms']:>10.1f} {row['first_ms']:>9.1f} {row['bytes'] / 1024:>9.1f} {row['status']:>5}  {'yes' if ok else 'NO'}"
        )
    load = result["load"]
    print(
        f"load: {load['clients']} clients x {load['seconds']} s: {load['requests']} requests "
        f"({load['per_s']}/s, median {load['median_ms']} ms, p95 {load['p95_ms']} ms), {load['errors']} errors"
        + (f" e.g. {load['first_errors']}" if load["errors"] else "")
    )
    print(
        f"server peak RSS: {result['server_peak_rss_mb']} MB (target <= {TARGET_RSS_MB:.0f}); SIGTERM: {result['sigterm']}"
    )
    print(
        f"`warpsmith runs list`: {result['runs_list_s']} s (`warpsmith --help` alone: {result['cli_startup_s']} s; "
        f"the query: {result['runs_list_query_s']} s; target <= {TARGET_RUNS_LIST_S} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--build", help="Build a new synthetic store here (a SQLite path or an empty database's URL).")
    where.add_argument("--db", help="Time an existing store (a SQLite path or a database URL).")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--candidates-per-run", type=int, default=500)
    parser.add_argument(
        "--llm-calls", type=int, default=3, help="LLM calls per candidate of an LLM run (<= 3)."
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--json", action="store_true", help="Print one JSON document instead of the table.")
    args = parser.parse_args()
    built = None
    db = args.build or args.db
    if args.build:
        built = build(args.build, args.runs, args.candidates_per_run, args.llm_calls)
        print(f"built {built}", file=sys.stderr)
    result = measure(db, args.repeat, args.clients, args.seconds)
    result["built"] = built
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        report(result)


if __name__ == "__main__":
    main()
