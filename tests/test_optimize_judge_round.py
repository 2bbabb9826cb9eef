"""The loop's round review against the scripted server: one judge request after the round's candidates,
verdicts stored per candidate, and a run interrupted mid-round resumed without a candidate reviewed twice.

Real parts: the loop, the LLM strategy over the litellm client and tests/_scripted_llm_server.py, the
evaluator (Triton interpreter), a SQLite store.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from _optimize_helpers import GOOD_EDIT, VERDICT, query
from _scripted_llm_server import ScriptedLLMServer

from warpsmith.agents.call_log import CallLog
from warpsmith.agents.llm import LiteLLMConfig, LiteLLMModel
from warpsmith.agents.llm_strategy import LLMStrategy, LLMStrategyConfig
from warpsmith.evaluator.hardware import detect_hardware
from warpsmith.records.evaluation import Hardware, source_hash
from warpsmith.records.runs import Progress, RunSettings, RunSummary
from warpsmith.search.optimize import run_optimization
from warpsmith.search.replay import replay_run
from warpsmith.store.db import open_store
from warpsmith.tasklib import get_task

pytestmark = pytest.mark.slow
KEY_ENV = "WARPSMITH_TEST_JUDGE_ROUND_KEY"
SECOND_EDIT = GOOD_EDIT.replace('"num_warps": 2}}', '"num_warps": 8}}').replace('"num_warps": 2}', '"num_warps": 8}')


def _seed_hash() -> str:
    path = get_task("rmsnorm").seed_path("triton")
    assert path is not None
    return source_hash(path.read_text())


def _plan() -> str:
    items = [{"idea": f"use {w} warps per row", "parent_hash": _seed_hash()[:12], "predicted_effect": "same"}
             for w in (2, 8)]
    return "```json\n" + json.dumps({"items": items, "notes": ""}) + "\n```"


def _round_verdicts(request: dict) -> str:
    """A verdict for every candidate the request names in its section headings."""
    text = "\n".join(m["content"] for m in request["messages"] if isinstance(m.get("content"), str))
    ids = [line.split("## Candidate ", 1)[1].split()[0].strip("`:") for line in text.splitlines()
           if line.startswith("## Candidate ")]
    return "```json\n" + json.dumps({"verdicts": [{**json.loads(VERDICT), "candidate": i} for i in ids]}) + "\n```"


def _run(db: Path, script: list, resume: str | None = None, stop_after_first: bool = False, per_round: bool = True
         ) -> tuple[RunSummary, ScriptedLLMServer]:
    os.environ[KEY_ENV] = "sk-test-not-a-secret"
    call_log, store = CallLog(), open_store(f"sqlite:///{db}")

    def progress(p: Progress) -> None:
        if stop_after_first and p.round_index == 1 and p.result is not None:
            raise KeyboardInterrupt  # killed between the round's first and second evaluation

    with ScriptedLLMServer(script, responder=_round_verdicts) as srv:
        config = LiteLLMConfig(model="openai/scripted", api_base=srv.base_url, api_key_env=KEY_ENV, backoff_s=0.001,
                               backoff_max_s=0.01, timeout_s=5.0, max_retries=1)
        settings = RunSettings(rounds=1, width=2, suite="smoke", device="cpu", model="openai/scripted")
        strategy = LLMStrategy(LiteLLMModel(config, on_call=call_log),
                               config=LLMStrategyConfig(judge_per_round=per_round))
        summary = run_optimization(get_task("rmsnorm"), strategy, store,
                                   settings, detect_hardware("cpu"), run_id=resume, call_log=call_log,
                                   on_progress=progress)
    store.close()
    return summary, srv


def _judge_requests(srv: ScriptedLLMServer) -> list[dict]:
    return [r for r in srv.requests if "RoundVerdicts" in json.dumps(r) or "# Round review: " in json.dumps(r)]


def test_one_judge_request_per_round_and_a_resume_reviews_only_what_was_not_measured(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    batched = f"=== IDEA 1 ===\n{GOOD_EDIT}\n=== IDEA 2 ===\n{SECOND_EDIT}"
    first, srv = _run(db, [_plan(), batched], stop_after_first=True)
    assert first.status == "interrupted", first.message
    assert _judge_requests(srv) == []  # the round review comes after the round's last candidate
    produced = [h for (h,) in query(db, "SELECT source_hash FROM run_candidates WHERE run_id=? AND "
                                    "relation='produced' ORDER BY position", first.run_id)]
    assert len(produced) == 2

    resumed, srv = _run(db, [], resume=first.run_id)  # only the judge is asked: answered by the responder
    assert resumed.status == "completed", resumed.message
    assert [r for r in srv.requests if r not in _judge_requests(srv)] == []  # no planner, no coder again
    (judge,) = _judge_requests(srv)
    text = json.dumps(judge)
    assert produced[1][:12] in text and produced[0][:12] not in text  # the first was measured before the kill
    verdicts = query(db, "SELECT source_hash, COUNT(*) FROM verdicts WHERE run_id=? GROUP BY source_hash", first.run_id)
    assert verdicts == [(produced[1], 1)]


def test_a_whole_round_gets_one_judge_request_and_a_verdict_per_candidate(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    batched = f"=== IDEA 1 ===\n{GOOD_EDIT}\n=== IDEA 2 ===\n{SECOND_EDIT}"
    summary, srv = _run(db, [_plan(), batched])
    assert summary.status == "completed", summary.message
    assert [r for r in srv.requests if r not in _judge_requests(srv)] != []
    (judge,) = _judge_requests(srv)
    produced = {h for (h,) in query(db, "SELECT source_hash FROM run_candidates WHERE relation='produced'")}
    assert len(produced) == 2 and all(h[:12] in json.dumps(judge) for h in produced)
    stored = query(db, "SELECT source_hash, feedback FROM verdicts WHERE run_id=?", summary.run_id)
    assert {h for h, _ in stored} == produced and len(stored) == 2
    assert {f for _, f in stored} == {json.loads(VERDICT)["feedback"]}
    lessons = query(db, "SELECT COUNT(*) FROM lessons WHERE source_run_id=?", summary.run_id)
    assert lessons[0][0] >= 1  # the verdicts' lessons are stored (near-duplicates merged)


@pytest.mark.parametrize("per_round", [True, False], ids=["recorded per round", "recorded per candidate"])
def test_a_replay_on_other_hardware_serves_the_verdicts_in_the_format_recorded(tmp_path: Path, per_round: bool) -> None:
    db = tmp_path / "store.db"
    batched = f"=== IDEA 1 ===\n{GOOD_EDIT}\n=== IDEA 2 ===\n{SECOND_EDIT}"
    script = [_plan(), batched] if per_round else [_plan(), batched, VERDICT, VERDICT]
    original, srv = _run(db, script, per_round=per_round)
    assert original.status == "completed", original.message
    assert len(srv.requests) == (3 if per_round else 4) and len(_judge_requests(srv)) == (1 if per_round else 0)
    other = Hardware(device_name="another cpu (triton interpreter)", backend="cpu")  # every result is fresh there
    store = open_store(f"sqlite:///{db}")
    outcome = replay_run(store, original.run_id, get_task("rmsnorm"), other, device="cpu")
    store.close()
    assert outcome.status == "completed", outcome.message
    assert outcome.same_candidates and outcome.unused_reviews == 0
    assert outcome.served == (3 if per_round else 4)  # planner, coder, then one or two judge answers
    stored = query(db, "SELECT COUNT(DISTINCT source_hash) FROM verdicts WHERE run_id=?", outcome.run_id)
    assert stored == [(2,)]
