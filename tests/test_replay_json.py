"""`warpsmith replay --json`: one JSON object on stdout (as `optimize --json`), progress on stderr.

Real parts: a recorded LLM run against the scripted server (stopped before the replay), an offline run,
the `warpsmith replay` command in a subprocess, the Triton interpreter on the CPU.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from _dashboard_helpers import REPO, real_offline_run, recorded_llm_run, rmsnorm_task_file

pytestmark = pytest.mark.slow


def warpsmith(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "warpsmith.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "COLUMNS": "80"})


def test_replay_json_is_one_object_on_stdout_with_progress_on_stderr(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    original = recorded_llm_run(f"sqlite:///{db}", rmsnorm_task_file(tmp_path / "task"))
    done = warpsmith("replay", original, "--db", f"sqlite:///{db}", "--device", "cpu", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(done.stdout)  # the whole of stdout is the document
    assert document["kind"] == "replay" and document["original_run_id"] == original
    assert document["status"] == "completed" and document["exit_code"] == 0
    assert document["served"] == 3 and document["same_candidates"] is True
    assert sorted(document["replay_candidates"]) == sorted(document["original_candidates"])
    with sqlite3.connect(db) as connection:
        stored = connection.execute("SELECT parent_run_id, status FROM runs WHERE id = ?", (document["run_id"],)).fetchall()
    assert stored == [(original, "completed")]
    assert "hardware" in done.stderr and "details:" not in done.stdout


def test_replay_json_of_an_offline_run_reports_the_re_evaluation(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    original = real_offline_run(f"sqlite:///{db}")
    done = warpsmith("replay", "latest", "--db", f"sqlite:///{db}", "--device", "cpu", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(done.stdout)
    assert document["kind"] == "reevaluate" and document["original_run_id"] == original
    assert document["served"] is None and document["same_candidates"] is None
    assert "re-evaluating" in done.stderr


def test_replay_json_usage_errors_stay_one_line_on_stderr(tmp_path: Path) -> None:
    from warpsmith.store.db import open_store

    open_store(f"sqlite:///{tmp_path / 'store.db'}").close()
    done = warpsmith("replay", "r-nope", "--db", f"sqlite:///{tmp_path / 'store.db'}", "--json")
    assert done.returncode == 2 and done.stdout == ""
    assert "no run 'r-nope'" in done.stderr and "Traceback" not in done.stderr


def test_replay_json_of_an_evolve_run(tmp_path: Path) -> None:
    """An LLM evolve run recorded against the scripted server, replayed with --json: one object on stdout."""
    from _optimize_helpers import GOOD_EDIT, VERDICT, private_env
    from _scripted_llm_server import ScriptedLLMServer
    from test_optimize_llm import plan, seed_hash

    from warpsmith.agents.call_log import CallLog
    from warpsmith.agents.llm import Budget, LiteLLMConfig, LiteLLMModel
    from warpsmith.agents.llm_strategy import LLMStrategy
    from warpsmith.evaluator.hardware import detect_hardware
    from warpsmith.pool.inline import InlinePool
    from warpsmith.search.engine import run_evolution
    from warpsmith.search.settings import EvolveSettings
    from warpsmith.search.strategies import shared_strategy
    from warpsmith.store.db import open_store
    from warpsmith.tasklib import get_task

    os.environ["WARPSMITH_TEST_EVOLVE_KEY"] = "sk-test-not-a-secret"
    db = tmp_path / "store.db"
    store = open_store(f"sqlite:///{db}")
    call_log = CallLog()
    settings = EvolveSettings(tasks=["rmsnorm"], generations=1, population=1, islands=1, device="cpu",
                              suite="smoke", strategy="llm", model="openai/scripted")
    with ScriptedLLMServer([plan(seed_hash()), GOOD_EDIT, VERDICT]) as server:
        config = LiteLLMConfig(model="openai/scripted", api_base=server.base_url, api_key_env="WARPSMITH_TEST_EVOLVE_KEY",
                               timeout_s=5.0, max_retries=1, backoff_s=0.001, backoff_max_s=0.01, budget=Budget())
        with InlinePool(device="cpu") as pool:
            summary = run_evolution([get_task("rmsnorm")], settings, store, detect_hardware("cpu", 0), pool,
                                    shared_strategy(LLMStrategy(LiteLLMModel(config, on_call=call_log))),
                                    call_log=call_log)
    store.close()
    assert summary.status == "completed", summary.message
    done = subprocess.run([sys.executable, "-m", "warpsmith.cli", "replay", summary.run_id, "--db", f"sqlite:///{db}",
                           "--device", "cpu", "--json"], cwd=REPO, capture_output=True, text=True, timeout=600,
                          env=private_env(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(done.stdout)
    assert document["kind"] == "replay" and document["original_run_id"] == summary.run_id
    assert document["status"] == "completed" and document["same_candidates"] is True and document["served"] == 3


def test_ctrl_c_during_a_replay_ends_in_one_line_and_exit_130(capsys: pytest.CaptureFixture[str]) -> None:
    """What `replay` and the evolve replay share (cli/replay_cmd.interruptible): no traceback, code 130."""
    import typer

    from warpsmith.cli.replay_cmd import interruptible

    with pytest.raises(typer.Exit) as ended, interruptible():
        raise KeyboardInterrupt
    assert ended.value.exit_code == 130
    assert capsys.readouterr().err.strip() == "interrupted"
    with interruptible():  # anything else passes through untouched
        pass
