"""optimize is the one-task, one-island case of the evolve engine: what moved from the old loop into the
generation step, checked through `run_optimization`.

Real parts: the engine, the LLM strategy over the litellm client and tests/_scripted_llm_server.py, a
SQLite store. The device is a measuring function (as in test_ranking: no GPU here) that returns
H100-like results and records each call, so the profiling of a round's best can be counted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from _optimize_helpers import GOOD_EDIT, private_env, query, warpsmith
from _scripted_llm_server import ScriptedLLMServer
from test_ranking import H100, measured

from warpsmith.agents.call_log import CallLog
from warpsmith.agents.llm import LiteLLMConfig, LiteLLMModel
from warpsmith.agents.llm_strategy import LLMStrategy
from warpsmith.agents.offline import OfflineStrategy
from warpsmith.records.evaluation import source_hash
from warpsmith.records.runs import RunSettings
from warpsmith.search.optimize import run_optimization
from warpsmith.store.db import open_store
from warpsmith.tasklib import get_task

pytestmark = pytest.mark.slow
KEY_ENV = "WARPSMITH_TEST_OPTIMIZE_ENGINE_KEY"
SECOND_EDIT = GOOD_EDIT.replace('"num_warps": 2}', '"num_warps": 8}')


def _seed_hash() -> str:
    path = get_task("rmsnorm").seed_path("triton")
    assert path is not None
    return source_hash(path.read_text())


def _plan() -> str:
    items = [{"idea": f"use {w} warps per row", "parent_hash": _seed_hash()[:12], "predicted_effect": "faster"}
             for w in (2, 8)]
    return "```json\n" + json.dumps({"items": items, "notes": ""}) + "\n```"


def _verdicts(request: dict) -> str:
    text = "\n".join(m["content"] for m in request["messages"] if isinstance(m.get("content"), str))
    ids = [line.split("## Candidate ", 1)[1].split()[0].strip("`:") for line in text.splitlines()
           if line.startswith("## Candidate ")]
    verdict = {"bottleneck": "memory", "matches_prediction": True, "suspicious": False, "feedback": "ok",
               "lessons": []}
    return "```json\n" + json.dumps({"verdicts": [{**verdict, "candidate": i} for i in ids]}) + "\n```"


class Device:
    """What a GPU would measure: the seed at 96 us, 2 warps at 60 us, anything else at 80 us; the profiler's
    metrics when asked. Records (hash, stage, profile) per call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bool]] = []
        self.fast = ""

    def __call__(self, candidate, task, *, suite, device, timeout_s, stage="full", confirm=False,  # noqa: ANN001, ANN204
                 profile=False):
        self.calls.append((candidate.source_hash, stage, profile))
        median = 96.0 if candidate.source_hash == _seed_hash() else 60.0 if '"num_warps": 2}' in candidate.source \
            else 80.0
        if median == 60.0:
            self.fast = candidate.source_hash
        result = measured(candidate, median, draw=len(self.calls), reference_us=96.0, stage=stage)
        return result.model_copy(update={"profile": {"sm__throughput.avg.pct_of_peak_sustained_elapsed": 41.0}
                                         if profile else {}})


def test_an_llm_round_profiles_its_best_new_kernel_once_and_the_offline_search_never(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    os.environ[KEY_ENV] = "sk-test-not-a-secret"
    store, call_log, device = open_store(f"sqlite:///{db}"), CallLog(), Device()
    batched = f"=== IDEA 1 ===\n{GOOD_EDIT}\n=== IDEA 2 ===\n{SECOND_EDIT}"
    settings = RunSettings(rounds=1, width=2, suite="bench", device="cuda", model="openai/scripted", profile_top=1)
    with ScriptedLLMServer([_plan(), batched], responder=_verdicts) as srv:
        config = LiteLLMConfig(model="openai/scripted", api_base=srv.base_url, api_key_env=KEY_ENV, backoff_s=0.001,
                               backoff_max_s=0.01, timeout_s=5.0, max_retries=1)
        summary = run_optimization(get_task("rmsnorm"), LLMStrategy(LiteLLMModel(config, on_call=call_log)), store,
                                   settings, H100, evaluate=device, call_log=call_log)
    assert summary.status == "completed", summary.message
    assert [(h, s) for h, s, p in device.calls if p] == [(device.fast, "full")]  # the round's best, once
    assert summary.best is not None and summary.best.candidate.source_hash == device.fast
    assert summary.best.result is not None and summary.best.result.profile  # the profiled measurement stands
    profiled = query(db, "SELECT COUNT(*) FROM evaluations WHERE source_hash=? AND run_id=?", device.fast,
                     summary.run_id)
    assert profiled[0][0] == 3  # screen, full suite, profiled: each stored
    judge = [r for r in srv.requests if "# Round review: " in json.dumps(r)]
    assert len(judge) == 1  # one judge request for the round

    offline = Device()
    again = run_optimization(get_task("rmsnorm"), OfflineStrategy(), store,
                             settings.model_copy(update={"model": None}), H100, evaluate=offline)
    store.close()
    assert again.status == "completed", again.message
    assert not [c for c in offline.calls if c[2]]  # the tuner reads times only: nothing profiled


def test_optimize_with_two_workers_evaluates_a_round_through_the_local_pool(tmp_path: Path) -> None:
    """`--workers 2`: the round's candidates go to a LocalPool (CPU workers here), as evolve picks; the run and
    its JSON document are those of any optimize run."""
    env = private_env(tmp_path)
    done = warpsmith(["optimize", "--kernel", "rmsnorm", "--offline", "--device", "cpu", "--suite", "smoke",
                      "--rounds", "1", "--width", "2", "--workers", "2", "--json"], env, timeout=600)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["status"] == "completed" and doc["rounds_done"] == 1 and doc["strategy"] == "offline"
    db = tmp_path / "store.db"
    produced = query(db, "SELECT source_hash FROM run_candidates WHERE run_id=? AND relation='produced'", doc["run_id"])
    assert len(produced) == 2
    for (produced_hash,) in produced:
        assert query(db, "SELECT status FROM evaluations WHERE source_hash=?", produced_hash) == [("correct",)]
    problems = Path(__file__).parent / "kernelbench_problems"  # a KernelBench task is evaluated in this process
    refused = warpsmith(["optimize", "--kernelbench", str(next((problems / "level1").glob("*.py"))),
                         "--seed", str(problems / "solutions" / "swish_kernel.py"), "--workers", "2"], env)
    assert refused.returncode == 2 and "--workers" in refused.stderr and "Traceback" not in refused.stderr
