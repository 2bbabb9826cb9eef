"""`warpsmith optimize` with a model per role, temperatures and stop rules, end to end through the
CLI, the real litellm client and the scripted server (the evaluator runs the Triton interpreter)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _optimize_helpers import GOOD_EDIT, VERDICT, private_env, warpsmith
from _scripted_llm_server import ScriptedLLMServer

from warpsmith.records.evaluation import source_hash
from warpsmith.tasklib import get_task


def _plan(parent: str) -> str:
    item = {"idea": "use 2 warps per row", "parent_hash": parent[:12], "predicted_effect": "same speed"}
    return "```json\n" + json.dumps({"items": [item], "notes": ""}) + "\n```"


@pytest.mark.slow
def test_roles_get_their_model_and_temperature_and_patience_stops_the_run(tmp_path: Path):
    seed = get_task("rmsnorm").seed_path("triton")
    assert seed is not None
    env = private_env(tmp_path) | {"WARPSMITH_API_KEY": "sk-warpsmith-not-a-secret"}
    args = ["optimize", "--kernel", "rmsnorm", "--rounds", "3", "--width", "1", "--suite", "smoke",
            "--model", "openai/scripted", "--planner-model", "openai/scripted-planner",
            "--judge-model", "openai/scripted-judge", "--temperature", "0.5", "--temperature", "planner=1.0",
            "--patience", "1", "--lang", "triton,cuda"]
    with ScriptedLLMServer([_plan(source_hash(seed.read_text())), GOOD_EDIT, VERDICT]) as srv:
        done = warpsmith([*args, "--api-base", srv.base_url], env)
    assert done.returncode == 0, done.stderr
    assert srv.unscripted == 0 and srv.remaining == 0  # round 2 never asked: the stop rule fired
    assert [(r["model"], r["temperature"]) for r in srv.requests] == [
        ("scripted-planner", 1.0), ("scripted", 0.5), ("scripted-judge", 0.5)]
    assert "planner on openai/scripted-planner, coder on openai/scripted, judge on openai/scripted-judge" in done.stderr
    out = " ".join(done.stdout.split())
    assert "1/3" in out and "stop after 1 round(s) without a significant gain" in out
    assert "stopped after round 1: 1 round(s) without a significant gain (patience 1)" in out


def test_a_target_floor_outside_zero_one_is_one_clear_line(tmp_path: Path):
    done = warpsmith(["optimize", "--kernel", "rmsnorm", "--offline", "--target-floor", "80"], private_env(tmp_path))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "--target-floor 80.0: give a fraction of the floor in (0, 1], e.g. 0.8" in done.stderr
