"""`warpsmith runs list` and `warpsmith runs show`: what a user reads about stored runs,
as tables and as JSON, from a store filled by a real `warpsmith optimize` run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _optimize_helpers import private_env, query, warpsmith

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str, Path, object]:
    tmp_path = tmp_path_factory.mktemp("runs_cli")
    env = private_env(tmp_path)
    out = tmp_path / "best.py"
    result = warpsmith(
        [
            "optimize",
            "--kernel",
            "rmsnorm",
            "--rounds",
            "1",
            "--width",
            "2",
            "--suite",
            "smoke",
            "--out",
            str(out),
        ],
        env,
    )
    assert result.returncode == 0, result.stderr
    (run_id,) = query(tmp_path / "store.db", "SELECT id FROM runs")[0]
    return env, run_id, tmp_path, result


def test_optimize_says_what_it_runs_and_where_the_best_kernel_went(finished_run: tuple) -> None:
    env, run_id, tmp_path, result = finished_run
    assert "no model configured: running the offline strategy" in result.stderr
    assert "not GPU timings" in result.stderr
    assert f"warpsmith runs show {run_id}" in result.stdout and str(tmp_path / "best.py") in result.stdout
    assert "interpreter" in result.stdout
    best = (tmp_path / "best.py").read_text()
    (best_hash,) = query(tmp_path / "store.db", "SELECT best_candidate_hash FROM runs")[0]
    (stored,) = query(tmp_path / "store.db", "SELECT source FROM candidates WHERE source_hash=?", best_hash)[
        0
    ]
    assert best == stored and "CONFIG" in best


def test_runs_list_shows_the_run_in_a_table_and_as_json(finished_run: tuple) -> None:
    env, run_id, _, _ = finished_run
    table = warpsmith(["runs", "list"], env)
    assert table.returncode == 0, table.stderr
    assert run_id in table.stdout and "completed" in table.stdout and "offline" in table.stdout
    as_json = warpsmith(["runs", "list", "--json"], env)
    runs = json.loads(as_json.stdout)["runs"]
    assert [(r["id"], r["task"], r["status"], r["strategy"]) for r in runs] == [
        (run_id, "rmsnorm", "completed", "offline")
    ]
    assert runs[0]["candidates"] == 2 and runs[0]["rounds_done"] == 1


def test_runs_show_reports_candidates_hardware_and_best(finished_run: tuple) -> None:
    env, run_id, _, _ = finished_run
    doc = json.loads(warpsmith(["runs", "show", run_id, "--json"], env).stdout)
    assert doc["run"]["id"] == run_id and doc["run"]["status"] == "completed"
    assert doc["hardware"]["backend"] == "cpu"
    origins = sorted(c["origin"] for c in doc["candidates"])
    assert origins == ["offline", "offline", "seed"]
    seed = next(c for c in doc["candidates"] if c["origin"] == "seed")
    children = [c for c in doc["candidates"] if c["origin"] == "offline"]
    assert all(c["parent_hash"] == seed["source_hash"] and c["round"] == 1 for c in children)
    assert all(
        c["mode"] == "interpreter" and c["median_us"] for c in doc["candidates"] if c["status"] == "correct"
    )
    assert (
        doc["best"]["source_hash"] == doc["run"]["best_candidate_hash"] and doc["best"]["status"] == "correct"
    )
    assert doc["llm_calls"] == []
    text = warpsmith(["runs", "show", run_id], env)
    assert text.returncode == 0 and run_id in text.stdout and seed["source_hash"][:8] in text.stdout
    assert "no LLM calls" in text.stdout


def test_unknown_run_and_bad_store_are_one_red_line(finished_run: tuple) -> None:
    env, _, _, _ = finished_run
    missing = warpsmith(["runs", "show", "r-missing"], env)
    assert missing.returncode == 2 and "no run 'r-missing'" in missing.stderr
    bad = warpsmith(["runs", "list", "--db", "nonsense://"], env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.count("\n") <= 2


LONG = "x" * 120
UNREACHABLE_POSTGRES = f"postgresql+psycopg://u:p@127.0.0.1:1/{LONG}"


def _directory_as_sqlite(tmp_path: Path) -> str:
    folder = tmp_path / f"a-directory-not-a-database-{LONG}"
    folder.mkdir()
    return f"sqlite:///{folder}"


def _malformed_task_file(tmp_path: Path) -> str:
    path = tmp_path / f"task_{'y' * 100}.py"
    path.write_text("def broken(:\n    pass\n")
    return str(path)


def _store(tmp_path: Path) -> list[str]:
    return ["--db", f"sqlite:///{tmp_path / 'store.db'}"]


BAD_INPUTS = {
    "unknown task": lambda t: ["optimize", "--kernel", f"no_such_task_{LONG}", "--offline", *_store(t)],
    "malformed task file": lambda t: [
        "optimize",
        "--kernel",
        "rmsnorm",
        "--task-file",
        _malformed_task_file(t),
        *_store(t),
    ],
    "runs show, unknown run": lambda t: ["runs", "show", f"r-missing-{LONG}", *_store(t)],
    "replay, unknown run": lambda t: ["replay", f"r-missing-{LONG}", *_store(t)],
    "resume, unknown run": lambda t: ["optimize", "--resume", f"r-missing-{LONG}", "--offline", *_store(t)],
    "no seed in that language": lambda t: ["optimize", "--kernel", "moe_combine", "--lang", "cuda", *_store(t)],
    "unwritable --out": lambda t: ["optimize", "--kernel", "rmsnorm", "--out", "/proc/no/best.py", *_store(t)],
}
for _what, _url in (
    ("unreachable postgres", lambda t: UNREACHABLE_POSTGRES),
    ("directory as sqlite", _directory_as_sqlite),
):
    BAD_INPUTS |= {
        f"optimize, {_what}": lambda t, u=_url: [
            "optimize",
            "--kernel",
            "rmsnorm",
            "--offline",
            "--db",
            u(t),
        ],
        f"runs list, {_what}": lambda t, u=_url: ["runs", "list", "--db", u(t)],
        f"replay, {_what}": lambda t, u=_url: ["replay", "r-x", "--db", u(t)],
        f"dashboard, {_what}": lambda t, u=_url: ["dashboard", "--db", u(t)],
    }


@pytest.mark.parametrize("what", list(BAD_INPUTS))
def test_every_user_error_is_exactly_one_line_on_a_pipe(what: str, tmp_path: Path) -> None:
    env = private_env(tmp_path)
    del env["COLUMNS"]  # stderr is a pipe: rich wraps at 80 columns unless told not to
    result = warpsmith(BAD_INPUTS[what](tmp_path), env, timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, (what, result.returncode, result.stderr)
    assert len(lines) == 1, (what, result.stderr)
    assert lines[0].startswith("error:") and "Traceback" not in result.stderr, (what, result.stderr)
