"""Replay: a run recorded against the scripted LLM server, re-executed with the server gone.

Real parts: the loop, the LLM strategy over the ReplayModel, the evaluator (Triton
interpreter), a SQLite store, the `warpsmith replay` command in a subprocess. What a user
relies on: no request is made, the same candidates come out, the new run is stored and
linked to the original; a replay that no longer fits stops cleanly and names the step;
--reevaluate appends fresh evaluations under a new run and leaves the original as it was.
"""

from __future__ import annotations

import html
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from _dashboard_helpers import REPO, recorded_llm_run, rmsnorm_task_file, shared_offline_run
from _scripted_llm_server import ScriptedLLMServer

from warpsmith.records.evaluation import Hardware
from warpsmith.records.vocab import RUN_STATUSES
from warpsmith.search.replay import replay_run
from warpsmith.store.db import open_store
from warpsmith.tasklib import load_task_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """(store file, task file, run id) of a finished LLM run whose server is stopped."""
    folder = tmp_path_factory.mktemp("replay")
    task_file = rmsnorm_task_file(folder / "task")
    db = folder / "store.db"
    return db, task_file, recorded_llm_run(f"sqlite:///{db}", task_file)


def query(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql, args).fetchall()


def produced(db: Path, run_id: str) -> list[str]:
    return [
        h
        for (h,) in query(
            db,
            "SELECT source_hash FROM run_candidates WHERE run_id=? AND relation='produced' "
            "ORDER BY round_index, position",
            run_id,
        )
    ]


def warpsmith(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # rich wraps at the terminal's width
    return subprocess.run(
        [sys.executable, "-m", "warpsmith.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_cli_replay_makes_no_request_and_reproduces_the_candidates(recorded: tuple[Path, Path, str]) -> None:
    db, _, original = recorded
    assert len(produced(db, original)) == 1
    result = warpsmith("replay", original, "--db", f"sqlite:///{db}", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    (new_id, strategy, parent, status, cost) = query(
        db, "SELECT id, strategy, parent_run_id, status, cost_usd FROM runs WHERE parent_run_id=?", original
    )[0]
    assert (strategy, parent, status, cost) == ("replay", original, "completed", 0.0)
    assert new_id in result.stdout and "the same" in result.stdout
    linked = {h for (h,) in query(db, "SELECT source_hash FROM run_candidates WHERE run_id=?", new_id)}
    assert set(produced(db, original)) <= linked
    # same machine, same evaluator: the child's result comes from the cache, so the judge is not asked again
    roles = [r for (r,) in query(db, "SELECT role FROM llm_calls WHERE run_id=? ORDER BY seq", new_id)]
    assert roles == ["planner", "coder"]
    assert query(db, "SELECT SUM(cost_usd) FROM llm_calls WHERE run_id=?", new_id) == [(0.0,)]
    assert "verdict(s) passed over" in result.stdout


def test_replay_on_other_hardware_serves_every_answer_including_the_judge(
    recorded: tuple[Path, Path, str],
) -> None:
    db, task_file, original = recorded
    # Another evaluation key: nothing is cached for it, so every candidate is evaluated afresh and judged.
    elsewhere = Hardware(device_name="cpu (replay on another machine)", backend="cpu")
    with ScriptedLLMServer([]) as watchdog, open_store(f"sqlite:///{db}") as store:
        outcome = replay_run(store, original, load_task_file(task_file), elsewhere, device="cpu")
        assert watchdog.requests == []
    assert outcome.status == "completed", outcome.message
    assert outcome.served == 3 and outcome.unused_reviews == 0
    assert outcome.same_candidates and outcome.replay_hashes == produced(db, original)
    assert produced(db, outcome.run_id) == produced(db, original)
    assert query(db, "SELECT parent_run_id, strategy FROM runs WHERE id=?", outcome.run_id) == [
        (original, "replay")
    ]
    assert [
        r for (r,) in query(db, "SELECT role FROM llm_calls WHERE run_id=? ORDER BY seq", outcome.run_id)
    ] == [
        "planner",
        "coder",
        "judge",
    ]
    assert query(db, "SELECT COUNT(*) FROM verdicts WHERE run_id=?", outcome.run_id) == [(1,)]
    # provenance: the replayed coder call is the one the candidate came from, as in the original
    (child,) = produced(db, original)
    for run in (original, outcome.run_id):
        made = query(db, "SELECT role, candidate_hash FROM llm_calls WHERE run_id=? ORDER BY seq", run)
        assert [h for role, h in made if role == "coder"] == [child], run
        assert [h for role, h in made if role != "coder"] == [None, None], run
    fingerprints = query(
        db, "SELECT DISTINCT hardware_fingerprint FROM evaluations WHERE run_id=?", outcome.run_id
    )
    assert fingerprints == [(elsewhere.fingerprint,)]


CHANGED_TASK = """from warpsmith.tasklib.rmsnorm import RmsNorm


class GemmaRmsNorm(RmsNorm):
    \"\"\"rmsnorm as a later version of the task defines it: the weight is applied as (1 + weight).\"\"\"

    def reference(self, x, weight, eps):
        return super().reference(x, (weight.float() + 1).to(weight.dtype), eps)


TASK = GemmaRmsNorm()
"""


def test_a_replay_that_no_longer_fits_stops_cleanly_and_names_the_step(
    recorded: tuple[Path, Path, str],
) -> None:
    db, task_file, original = recorded
    # The task changed since the recording: the recorded child is now incorrect, so the loop asks
    # for a repair the original never made. Another evaluation key, so nothing comes from the cache.
    changed = task_file.with_name("rmsnorm_gemma_task.py")
    changed.write_text(CHANGED_TASK)
    elsewhere = Hardware(device_name="cpu (after the task changed)", backend="cpu")
    with ScriptedLLMServer([]) as watchdog, open_store(f"sqlite:///{db}") as store:
        outcome = replay_run(store, original, load_task_file(changed), elsewhere, device="cpu")
        assert watchdog.requests == []
    assert outcome.status == "diverged"
    assert re.fullmatch(
        r"round 1: replay diverged at step 3: the run asks for a repair answer, .*judge.*", outcome.message
    )
    (status, message, finished) = query(
        db, "SELECT status, status_message, finished_at FROM runs WHERE id=?", outcome.run_id
    )[0]
    assert status == "diverged" and "diverged" in RUN_STATUSES
    assert message == outcome.message and finished is not None
    assert query(db, "SELECT parent_run_id FROM runs WHERE id=?", outcome.run_id) == [(original,)]


def test_cli_reports_a_divergence_with_exit_code_1(recorded: tuple[Path, Path, str], tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    with sqlite3.connect(recorded[0]) as source, sqlite3.connect(db) as target:
        source.backup(target)  # the module's recording stays as it was
    original = recorded[2]
    with sqlite3.connect(
        db
    ) as connection:  # a recording that holds one more planner answer than the run asks for
        connection.execute("DELETE FROM llm_calls WHERE run_id=? AND role='judge'", (original,))
        connection.execute(
            "INSERT INTO llm_calls (run_id, seq, role, model, messages, response, prompt_tokens, "
            "completion_tokens, cost_usd, latency_s, created_at) "
            "SELECT run_id, seq + 10, 'planner', model, messages, response, 0, 0, 0, 0, created_at "
            "FROM llm_calls WHERE run_id=? AND role='planner'",
            (original,),
        )
    result = warpsmith("replay", original, "--db", f"sqlite:///{db}", "--device", "cpu")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "diverged" in result.stdout and "step 3" in result.stdout and "planner" in result.stdout


def test_reevaluate_appends_fresh_evaluations_in_a_new_run_and_leaves_the_old_run_as_it_was(
    recorded: tuple[Path, Path, str],
) -> None:
    db, _, original = recorded
    seen = (
        "SELECT e.source_hash, e.id, e.status, e.speedup, e.created_at, e.run_id FROM evaluations e "
        "JOIN run_evaluations re ON re.evaluation_id = e.id WHERE re.run_id=? ORDER BY e.id"
    )
    before = query(db, seen, original)
    shown_before = json.loads(warpsmith("runs", "show", original, "--db", f"sqlite:///{db}", "--json").stdout)
    result = warpsmith("replay", original, "--db", f"sqlite:///{db}", "--reevaluate", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    new_id, config = query(
        db,
        "SELECT id, json_extract(config, '$.reevaluate') FROM runs WHERE parent_run_id=? ORDER BY created_at DESC",
        original,
    )[0]
    assert config == 1
    linked = query(db, "SELECT source_hash FROM run_candidates WHERE run_id=? ORDER BY round_index", new_id)
    assert len(linked) == 2  # the seed and the coder's candidate
    assert query(db, "SELECT COUNT(*) FROM llm_calls WHERE run_id=?", new_id) == [(0,)]
    fresh = query(db, seen, new_id)
    assert sorted(h for h, *_ in fresh) == sorted(h for (h,) in linked)
    assert min(row[1] for row in fresh) > max(row[1] for row in before), "new rows, not served from the cache"
    assert {row[5] for row in fresh} == {new_id}  # the rows name the run that re-measured them
    # History: the original run's evaluations, numbers and lineage are exactly what they were.
    assert query(db, seen, original) == before
    shown_after = json.loads(warpsmith("runs", "show", original, "--db", f"sqlite:///{db}", "--json").stdout)
    assert shown_after["candidates"] == shown_before["candidates"]
    assert shown_after["run"]["best_candidate_hash"] == shown_before["run"]["best_candidate_hash"]
    assert {c["evaluation_id"] for c in shown_after["candidates"]} <= {row[1] for row in before}


def test_replaying_an_offline_run_says_it_re_evaluates(tmp_path_factory: pytest.TempPathFactory) -> None:
    db, offline_run = shared_offline_run(tmp_path_factory)
    copy = tmp_path_factory.mktemp("offline-replay") / "store.db"
    with sqlite3.connect(db) as source, sqlite3.connect(copy) as target:
        source.backup(target)  # the shared store stays untouched
    result = warpsmith("replay", offline_run, "--db", f"sqlite:///{copy}", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert "offline run" in result.stderr and "re-evaluating" in result.stderr
    assert query(
        copy,
        "SELECT strategy, json_extract(config, '$.reevaluate') FROM runs WHERE parent_run_id=?",
        offline_run,
    ) == [("replay", 1)]


def test_replay_of_an_unknown_run_is_a_usage_error(tmp_path: Path) -> None:
    open_store(f"sqlite:///{tmp_path / 'store.db'}").close()  # an empty store (a missing one: test_store_open)
    result = warpsmith("replay", "r-nope", "--db", f"sqlite:///{tmp_path / 'store.db'}")
    assert result.returncode == 2
    assert "no run 'r-nope'" in result.stderr and "Traceback" not in result.stderr


def test_runs_show_transcript_prints_the_conversation_step_by_step(recorded: tuple[Path, Path, str]) -> None:
    db, _, original = recorded
    result = warpsmith("runs", "show", original, "--db", f"sqlite:///{db}", "--transcript")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    positions = [out.index(f"#{seq} {role}") for seq, role in enumerate(["planner", "coder", "judge"])]
    assert positions == sorted(positions), "calls are printed in the order they were made"
    assert "Fewer warps per row" in out and "<<<<<<< SEARCH" in out  # the coder's answer, whole
    assert "# Task: rmsnorm" in out  # the request's messages, whole
    child = produced(db, original)[0]
    assert f"candidates produced this round:\n  {child[:12]} (coder)" in out


def test_dashboard_shows_the_conversation_and_links_the_replay(recorded: tuple[Path, Path, str]) -> None:
    from fastapi.testclient import TestClient

    from warpsmith.dashboard.app import create_app
    from warpsmith.dashboard.readonly import open_readonly

    db, _, original = recorded
    client = TestClient(create_app(open_readonly(f"sqlite:///{db}")), base_url="http://127.0.0.1")
    detail = client.get(f"/api/runs/{original}").json()
    assert [c["role"] for c in detail["llm_calls"]] == ["planner", "coder", "judge"]
    assert detail["replays"], "the replays made above are linked to the original"
    run_page = html.unescape(client.get(f"/runs/{original}").text)
    assert f'href="/runs/{detail["replays"][0]}"' in run_page
    opened = client.get(f"/fragments/runs/{original}/llm_calls/1").text  # a call's text comes when opened
    assert "Fewer warps per row" in html.unescape(opened)
    replay_page = client.get(f"/runs/{detail['replays'][0]}").text
    assert f'href="/runs/{original}"' in replay_page and "replay of" in replay_page

    child = produced(db, original)[0]
    candidate = client.get(f"/api/candidates/{child}").json()
    # exactly the call whose answer the candidate is (the loop links it), not the whole round's
    assert candidate["conversation_scope"] == "candidate"
    assert [c["role"] for c in candidate["llm_calls"] if c["run_id"] == original] == ["coder"]
    page = html.unescape(client.get(f"/candidates/{child}").text)
    assert "fewer warps did not hurt" in page  # the judge's verdict
    assert "<<<<<<< SEARCH" in page  # the coder's answer that produced it
