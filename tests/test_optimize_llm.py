"""The whole loop with the LLM strategy, through the real litellm client, against the scripted
OpenAI-compatible server: a good answer becomes a stored, evaluated candidate; garbage,
truncated answers, HTTP 429 and 500 and timeouts end the run cleanly with a clear status.

Real parts everywhere: the evaluator (Triton interpreter), a SQLite store shared by the
tests of this module (so the seed is evaluated once, then served from the evaluation cache).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from _optimize_helpers import (
    GOOD_EDIT,
    SEED_CONFIG_LINE,
    VERDICT,
    assert_consistent,
    private_env,
    query,
    warpsmith,
)
from _scripted_llm_server import Delay, Garbage, Reply, ScriptedLLMServer, Truncated

from warpsmith.agents.call_log import CallLog
from warpsmith.agents.llm import Budget, LiteLLMConfig, LiteLLMModel
from warpsmith.agents.llm_strategy import LLMStrategy
from warpsmith.evaluator.hardware import detect_hardware
from warpsmith.records.runs import RunSettings, RunSummary
from warpsmith.search.optimize import run_optimization
from warpsmith.store.db import open_store
from warpsmith.tasklib import get_task

pytestmark = pytest.mark.slow
KEY_ENV = "WARPSMITH_TEST_OPTIMIZE_KEY"



def plan(parent_hash: str) -> str:
    item = {"idea": "use 2 warps per row", "parent_hash": parent_hash[:12], "predicted_effect": "same speed"}
    return "```json\n" + json.dumps({"items": [item], "notes": ""}) + "\n```"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("optimize_llm") / "store.db"


def run_with_script(
    db: Path, script: list, *, budget: Budget | None = None
) -> tuple[RunSummary, ScriptedLLMServer]:
    os.environ[KEY_ENV] = "sk-test-not-a-secret"
    call_log = CallLog()
    store = open_store(f"sqlite:///{db}")
    with ScriptedLLMServer(script) as srv:
        config = LiteLLMConfig(
            model="openai/scripted",
            api_base=srv.base_url,
            api_key_env=KEY_ENV,
            backoff_s=0.001,
            backoff_max_s=0.01,
            timeout_s=2.0,
            max_retries=1,
            budget=budget or Budget(),
        )
        strategy = LLMStrategy(LiteLLMModel(config, on_call=call_log))
        settings = RunSettings(rounds=1, width=1, suite="smoke", device="cpu", model="openai/scripted")
        summary = run_optimization(
            get_task("rmsnorm"), strategy, store, settings, detect_hardware("cpu"), call_log=call_log
        )
    store.close()
    return summary, srv


def seed_hash() -> str:
    from warpsmith.records.evaluation import source_hash

    path = get_task("rmsnorm").seed_path("triton")
    assert path is not None
    return source_hash(path.read_text())


def test_a_good_answer_becomes_a_stored_evaluated_candidate(db: Path) -> None:
    summary, srv = run_with_script(db, [plan(seed_hash()), GOOD_EDIT, VERDICT])
    assert summary.status == "completed", summary.message
    assert srv.unscripted == 0 and srv.remaining == 0
    (child_hash, parent, origin, idea) = query(
        db,
        "SELECT c.source_hash, c.parent_hash, c.origin, c.plan_item FROM candidates c "
        "JOIN run_candidates rc ON rc.source_hash = c.source_hash WHERE rc.run_id=? AND rc.relation='produced'",
        summary.run_id,
    )[0]
    assert (parent, origin, idea) == (seed_hash(), "coder", "use 2 warps per row")
    assert query(db, "SELECT status, mode FROM evaluations WHERE source_hash=?", child_hash) == [
        ("correct", "interpreter")
    ]
    calls = query(
        db,
        "SELECT seq, round_index, role, prompt_tokens, error FROM llm_calls WHERE run_id=? ORDER BY seq",
        summary.run_id,
    )
    assert [(seq, rnd, role) for seq, rnd, role, _, _ in calls] == [
        (0, 1, "planner"),
        (1, 1, "coder"),
        (2, 1, "judge"),
    ]
    assert all(error is None for *_, error in calls)
    run = query(
        db, "SELECT prompt_tokens, completion_tokens, strategy, model FROM runs WHERE id=?", summary.run_id
    )
    assert run == [(sum(c[3] for c in calls), 7 * 3, "llm", "openai/scripted")]
    verdict = query(
        db, "SELECT feedback FROM verdicts WHERE run_id=? AND source_hash=?", summary.run_id, child_hash
    )
    assert verdict == [("fewer warps did not hurt; try larger blocks",)]
    assert query(db, "SELECT text FROM lessons") == [
        ("rmsnorm on the interpreter: num_warps does not change the result",)
    ]
    assert_consistent(db)


@pytest.mark.parametrize(
    ("script", "status", "words"),
    [
        ([429, 429], "llm_unavailable", "HTTP 429"),
        ([500, 500], "llm_unavailable", "HTTP 500"),
        ([Garbage(), Garbage()], "llm_unavailable", "Expecting value"),
        ([Truncated(), Truncated()], "llm_unavailable", "Connection error"),
        ([Delay(4.0, "late"), Delay(4.0, "late")], "llm_unavailable", "timed out"),
    ],
    ids=[
        "http-429",
        "http-500",
        "non-completion-body",
        "truncated-body",
        "timeout",
    ],
)
def test_unusable_or_failing_models_end_the_run_cleanly(
    db: Path, script: list, status: str, words: str
) -> None:
    summary, srv = run_with_script(db, script)
    assert summary.status == status
    assert words in summary.message
    assert srv.unscripted == 0
    (stored_status, message, finished) = query(
        db, "SELECT status, status_message, finished_at FROM runs WHERE id=?", summary.run_id
    )[0]
    assert (stored_status, message) == (status, summary.message) and finished is not None
    stored_calls = query(
        db, "SELECT COUNT(*), SUM(error IS NOT NULL) FROM llm_calls WHERE run_id=?", summary.run_id
    )
    assert stored_calls == [(len(script), len(script))]  # every attempt is stored, each with its error
    assert_consistent(db)


def test_a_spent_budget_ends_the_run_as_budget_exhausted(db: Path) -> None:
    script = [Reply(plan(seed_hash()), prompt_tokens=40, completion_tokens=10)]
    summary, srv = run_with_script(db, script, budget=Budget(max_tokens=30))
    assert summary.status == "budget_exhausted" and "30 tokens" in summary.message
    assert query(db, "SELECT status FROM runs WHERE id=?", summary.run_id) == [("budget_exhausted",)]


def test_the_cli_runs_the_llm_strategy_and_reports_a_dead_model_in_one_red_line(
    db: Path, tmp_path: Path
) -> None:
    env = private_env(tmp_path) | {
        "WARPSMITH_DB": f"sqlite:///{db}",
        "OPENAI_API_KEY": "sk-test-not-a-secret",
        "WARPSMITH_API_KEY": "sk-warpsmith-not-a-secret",
    }
    args = ["optimize", "--kernel", "rmsnorm", "--rounds", "1", "--width", "1", "--suite", "smoke"]
    edit = GOOD_EDIT.replace('"num_warps": 2', '"num_warps": 8')
    with ScriptedLLMServer([plan(seed_hash()), edit, VERDICT]) as srv:
        good = warpsmith([*args, "--model", "openai/scripted", "--api-base", srv.base_url], env)
        assert good.returncode == 0, good.stderr
        run_id = good.stdout.split("warpsmith runs show ")[1].split()[0]
        # --resume reaches the same server without --api-base (the run stored it)
        srv.push(plan(seed_hash()), ANY_PARENT_EDIT.format(note="resumed"), VERDICT)
        resumed = warpsmith(["optimize", "--resume", run_id, "--rounds", "2"], env)
    assert resumed.returncode == 0, resumed.stderr
    assert srv.remaining == 0 and srv.unscripted == 0
    assert {h["authorization"] for h in srv.headers} == {"Bearer sk-warpsmith-not-a-secret"}  # WARPSMITH_API_KEY
    assert "Round 2 of 2;" in srv.requests[3]["messages"][1]["content"]
    assert "LLM strategy: planner, coder and judge on openai/scripted" in good.stderr
    doc = json.loads(warpsmith(["runs", "show", run_id, "--json"], env).stdout)
    assert [c["role"] for c in doc["llm_calls"]] == ["planner", "coder", "judge"] * 2
    assert doc["run"]["strategy"] == "llm" and doc["run"]["model"] == "openai/scripted"
    assert any(c["origin"] == "coder" and c["status"] == "correct" for c in doc["candidates"])

    with ScriptedLLMServer([401]) as srv:
        dead = warpsmith([*args, "--model", "openai/scripted", "--api-base", srv.base_url], env)
    assert dead.returncode == 1
    assert "run llm_unavailable:" in dead.stderr and "authentication failed" in dead.stderr
    assert "Traceback" not in dead.stderr


BROKEN_EDIT = """Skip the normalization (a wrong idea the repair must fix).

<<<<<<< SEARCH
        tl.store(out_row + cols, (x * rstd * w).to(out_ptr.dtype.element_ty), mask=mask)
=======
        tl.store(out_row + cols, (x * w).to(out_ptr.dtype.element_ty), mask=mask)
>>>>>>> REPLACE
"""
REPAIR_EDIT = f"""Scale by rstd again, with one warp per row.

<<<<<<< SEARCH
        tl.store(out_row + cols, (x * w).to(out_ptr.dtype.element_ty), mask=mask)
=======
        tl.store(out_row + cols, (x * rstd * w).to(out_ptr.dtype.element_ty), mask=mask)
>>>>>>> REPLACE

<<<<<<< SEARCH
{SEED_CONFIG_LINE}
=======
CONFIG = {{"BLOCK_H": 1024, "num_warps": 1}}
>>>>>>> REPLACE
"""


def test_each_candidate_names_the_call_whose_answer_it_is(db: Path) -> None:
    script = [plan(seed_hash()), "No code in this answer.", BROKEN_EDIT, REPAIR_EDIT, VERDICT]
    summary, srv = run_with_script(db, script)
    assert summary.status == "completed", summary.message
    assert srv.remaining == 0
    calls = query(
        db,
        "SELECT role, error IS NOT NULL, candidate_hash FROM llm_calls WHERE run_id=? ORDER BY seq",
        summary.run_id,
    )
    produced = query(
        db,
        "SELECT c.source_hash, c.parent_hash FROM run_candidates rc JOIN candidates c "
        "ON c.source_hash = rc.source_hash WHERE rc.run_id=? AND rc.relation='produced' ORDER BY rc.created_at",
        summary.run_id,
    )
    (broken, _), (fixed, fixed_parent) = produced
    assert fixed_parent == broken
    assert query(db, "SELECT status FROM evaluations WHERE source_hash=?", broken) == [("incorrect",)]
    assert calls == [
        ("planner", 0, None),
        ("coder", 1, None),  # the unusable first answer produced nothing
        ("coder", 0, broken),  # the retry's answer became the candidate
        ("repair", 0, fixed),
        ("judge", 0, None),
    ]


def test_a_suspicious_verdict_is_settled_by_a_confirming_evaluation_not_by_dropping_the_kernel(db: Path) -> None:
    """Suspicion without amnesia: the judge's doubt makes the loop evaluate the kernel again with
    fresh inputs (the real evaluator); it holds, so the kernel stays in the run's beam."""
    from warpsmith.agents import mapping

    doubt = json.dumps({**json.loads(VERDICT), "suspicious": True, "suspicion_reason": "too good to be true?",
                        "confirmation": "held"})  # a model cannot confirm anything: the loop overrides it
    edit = GOOD_EDIT.replace('"num_warps": 2', '"num_warps": 16')
    summary, srv = run_with_script(db, [plan(seed_hash()), edit, doubt])
    assert summary.status == "completed", summary.message
    assert srv.remaining == 0
    ((child,),) = query(
        db, "SELECT source_hash FROM run_candidates WHERE run_id=? AND relation='produced'", summary.run_id
    )
    ((suspicious, verdict),) = query(
        db, "SELECT suspicious, verdict FROM verdicts WHERE run_id=? AND source_hash=?", summary.run_id, child
    )
    stored = json.loads(verdict)
    assert suspicious == 1 and stored["confirmation"] == "held"
    assert "evaluator: confirmed with fresh inputs" in stored["feedback"]
    store = open_store(f"sqlite:///{db}")
    key = mapping.EvalKey.of(get_task("rmsnorm"), detect_hardware("cpu"), "smoke")
    with store.session() as session:
        kept = mapping.best_correct(session, key, "rmsnorm", "triton", 100, summary.run_id)  # not excluded
    store.close()
    assert child in {s.candidate.source_hash for s in kept}


def _produced(db: Path, run_id: str) -> list[tuple]:
    return query(
        db,
        "SELECT c.source_hash, c.parent_hash, c.plan_item FROM candidates c JOIN run_candidates rc "
        "ON rc.source_hash = c.source_hash WHERE rc.run_id=? AND rc.relation='produced'",
        run_id,
    )


# A change any beam member takes (the line is the same in every CONFIG variant): the default plan
# names no parent, so the coder edits whichever kernel is best now.
ANY_PARENT_EDIT = """Read each row once.

<<<<<<< SEARCH
    x = x.contiguous()
=======
    x = x.contiguous()  # {note}
>>>>>>> REPLACE
"""


def test_a_planner_answer_unusable_twice_gives_the_default_plan_and_the_round_still_codes(db: Path) -> None:
    from warpsmith.agents.planner import DEFAULT_IDEAS

    edit = ANY_PARENT_EDIT.format(note="default plan")
    script = ["I would make it faster.", Reply('```json\n{"items": [{"idea": "fewer', finish_reason="length"),
              edit, VERDICT]
    summary, srv = run_with_script(db, script)
    assert summary.status == "completed", summary.message
    assert srv.remaining == 0 and srv.unscripted == 0
    ((child, parent, idea),) = _produced(db, summary.run_id)
    assert idea == DEFAULT_IDEAS[0].idea and parent is not None
    assert query(db, "SELECT status FROM evaluations WHERE source_hash=?", child) == [("correct",)]
    assert summary.role_failures == {"planner": 1}
    assert summary.message.startswith("role failures: planner 1: round 1: default plan used: planner: unusable")
    assert "Round 1 of 1;" in srv.requests[0]["messages"][1]["content"]  # the first round is round 1
    errors = query(db, "SELECT role, error FROM llm_calls WHERE run_id=? ORDER BY seq", summary.run_id)
    assert [role for role, _ in errors] == ["planner", "planner", "coder", "judge"]
    assert "no JSON object" in errors[0][1] and "(cut off at max_tokens)" in errors[1][1]
    assert all("\n" not in e for _, e in errors if e)  # each failure one stored line


def test_an_unusable_judge_answer_leaves_the_evaluation_standing_without_a_verdict(db: Path) -> None:
    edit = ANY_PARENT_EDIT.format(note="judge garbage")
    summary, srv = run_with_script(db, [plan(seed_hash()), edit, "Looks fine to me.", "Really, it is fine."])
    assert summary.status == "completed", summary.message
    assert srv.remaining == 0
    ((child, _, _),) = _produced(db, summary.run_id)
    assert query(db, "SELECT status FROM evaluations WHERE source_hash=?", child) == [("correct",)]
    assert query(db, "SELECT COUNT(*) FROM verdicts WHERE run_id=?", summary.run_id) == [(0,)]
    assert summary.role_failures == {"judge": 1}
    assert summary.message == f"role failures: judge 1: round 1: no verdict on {child[:12]}: judge: unusable answer: " \
        "no JSON object in the answer; expected one {...}, ideally in a ```json block (answer unusable 2 times)"
    judged = query(db, "SELECT error FROM llm_calls WHERE run_id=? AND role='judge'", summary.run_id)
    assert len(judged) == 2 and all("unusable answer: no JSON object" in e for (e,) in judged)


def _no_config_kernel() -> str:
    """The seed rewritten by a model: same kernel, its CONFIG inlined (no tunables left)."""
    path = get_task("rmsnorm").seed_path("triton")
    assert path is not None
    source = path.read_text()
    head, rest = source.split("CONFIG = ", 1)
    rest = rest.split("}\n", 2)[2]  # drop CONFIG and SEARCH_SPACE
    return (head + rest).replace('CONFIG["BLOCK_H"]', "1024").replace('CONFIG["num_warps"]', "4")


def test_offline_optimize_after_an_llm_run_starts_from_the_seed(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    whole = "The same kernel with its parameters inlined.\n\n```python\n" + _no_config_kernel() + "```\n"
    llm, _ = run_with_script(db, [plan(seed_hash()), whole, VERDICT])
    assert llm.status == "completed", llm.message
    ((written, _, _),) = _produced(db, llm.run_id)
    assert query(db, "SELECT status FROM evaluations WHERE source_hash=?", written) == [("correct",)]
    env = private_env(tmp_path) | {"WARPSMITH_DB": f"sqlite:///{db}"}
    args = ["optimize", "--kernel", "rmsnorm", "--rounds", "1", "--width", "1", "--suite", "smoke", "--offline"]
    done = warpsmith([*args, "--from-seed"], env)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split("warpsmith runs show ")[1].split()[0]
    ((child, parent, idea),) = _produced(db, run_id)
    assert parent == seed_hash() and idea.startswith("config ")
