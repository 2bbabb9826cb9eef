"""evolve with the LLM strategy: planner, coder and judge through the real litellm client against the
scripted OpenAI-compatible server; calls, the candidate's kind (from the plan) and the verdict are stored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _optimize_helpers import GOOD_EDIT, VERDICT, assert_consistent, private_env, query, warpsmith
from _scripted_llm_server import ScriptedLLMServer
from test_optimize_llm import plan, seed_hash

from warpsmith.agents.call_log import CallLog
from warpsmith.agents.llm import Budget, LiteLLMConfig, LiteLLMModel
from warpsmith.agents.llm_strategy import LLMStrategy
from warpsmith.evaluator.hardware import detect_hardware
from warpsmith.pool.inline import InlinePool
from warpsmith.search.engine import run_evolution
from warpsmith.search.kinds import label_of_idea
from warpsmith.search.settings import EvolveSettings
from warpsmith.search.strategies import shared_strategy
from warpsmith.store.db import open_store
from warpsmith.tasklib import get_task

pytestmark = pytest.mark.slow
KEY_ENV = "WARPSMITH_TEST_EVOLVE_KEY"


def test_an_llm_generation_is_planned_coded_judged_and_stored(tmp_path: Path) -> None:
    os.environ[KEY_ENV] = "sk-test-not-a-secret"
    db = tmp_path / "store.db"
    store = open_store(f"sqlite:///{db}")
    call_log = CallLog()
    settings = EvolveSettings(tasks=["rmsnorm"], generations=1, population=1, islands=1, device="cpu",
                              suite="smoke", strategy="llm", model="openai/scripted")
    with ScriptedLLMServer([plan(seed_hash()), GOOD_EDIT, VERDICT]) as srv:
        config = LiteLLMConfig(model="openai/scripted", api_base=srv.base_url, api_key_env=KEY_ENV, timeout_s=5.0,
                               max_retries=1, backoff_s=0.001, backoff_max_s=0.01, budget=Budget())
        strategy = LLMStrategy(LiteLLMModel(config, on_call=call_log))
        with InlinePool(device="cpu") as pool:
            summary = run_evolution([get_task("rmsnorm")], settings, store, detect_hardware("cpu", 0), pool,
                                    shared_strategy(strategy), call_log=call_log)
    store.close()
    assert summary.status == "completed", summary.message
    assert srv.unscripted == 0 and srv.remaining == 0
    run = summary.run_id
    calls = query(db, "SELECT round_index, role, candidate_hash FROM llm_calls WHERE run_id = ? ORDER BY seq", run)
    assert [(r, role) for r, role, _ in calls] == [(1, "planner"), (1, "coder"), (1, "judge")]
    ((child, kind, cell, status),) = query(
        db, "SELECT source_hash, kind, cell, status FROM population WHERE run_id = ? AND role = 'offspring'", run)
    assert calls[1][2] == child  # the coder's call is linked to the candidate it produced
    assert kind == label_of_idea("use 2 warps per row") and cell == f"?|?|?|triton|{kind}"
    assert status == "correct"
    assert query(db, "SELECT feedback FROM verdicts WHERE run_id = ? AND source_hash = ?", run, child) == [
        ("fewer warps did not hurt; try larger blocks",)]
    assert query(db, "SELECT strategy, model, rounds_done FROM runs WHERE id = ?", run) == [
        ("evolve", "openai/scripted", 1)]
    assert_consistent(db)

    # replay: the same engine with the recorded answers, no request (the server is gone), a new run
    replayed = warpsmith(["replay", run, "--db", f"sqlite:///{db}", "--device", "cpu"], private_env(tmp_path))
    assert replayed.returncode == 0, replayed.stdout[-1500:] + replayed.stderr[-1500:]
    assert "completed" in replayed.stdout and "the same as the original's 1" in replayed.stdout
    ((new_run, parent),) = query(db, "SELECT id, parent_run_id FROM runs WHERE id != ?", run)
    assert parent == run
    assert query(db, "SELECT source_hash FROM population WHERE run_id = ? AND role = 'offspring'", new_run) == [
        (child,)]
    assert_consistent(db)
