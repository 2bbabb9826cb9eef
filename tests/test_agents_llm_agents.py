"""Planner, coder, judge and the 'llm' strategy.

What they make of answers (parsing, prompting, feedback, fallbacks) runs on the in-process
`fake_model` (tests/_fake_model.py); what needs the wire (HTTP errors, token usage, the key
header, a hosted_vllm server) goes through the real litellm client and the scripted server."""

from __future__ import annotations

import json

import pytest
from _agents_llm_helpers import (
    EDIT_ANSWER,
    EDIT_ANSWER_2,
    UNBATCHED,
    VERDICT_JSON,
    make_ctx,
    plan_json,
    scripted_model,
)
from _fake_model import Cut, FakeModel
from _scripted_llm_server import Reply, ScriptedLLMServer

from warpsmith.agents.coder import Coder
from warpsmith.agents.judge import Judge
from warpsmith.agents.llm import Budget
from warpsmith.agents.llm_strategy import LLMStrategy, LLMStrategyConfig, build_llm_strategy
from warpsmith.agents.planner import DEFAULT_IDEAS, Planner
from warpsmith.agents.protocols import BudgetExceeded, LLMUnavailable
from warpsmith.records.agents import LLMCall, PlanItem
from warpsmith.records.evaluation import EvalResult, Violation


def _request_text(request: dict) -> str:
    return "\n".join(m["content"] for m in request["messages"])


def test_a_round_plans_and_codes_candidates_on_the_named_parents(fake_model: FakeModel):
    ctx = make_ctx(width=2)
    parent = ctx.beam[0].candidate
    batched = f"=== IDEA 1 ===\n{EDIT_ANSWER}\n=== IDEA 2 ===\n{EDIT_ANSWER_2}"
    srv = fake_model.script(plan_json(parent.source_hash, n=3), batched)
    calls = srv.calls
    candidates = LLMStrategy(srv).propose(ctx)
    assert [c.plan_item for c in candidates] == ["use 8 warps per row", "two rows per program"]
    assert all(c.origin == "coder" and c.parent_hash == parent.source_hash for c in candidates)
    assert "num_warps=8" in candidates[0].source and "num_warps=2" in candidates[1].source
    # both ideas start from the same parent: one coder request, the parent's source sent once
    assert [c.role for c in calls] == ["planner", "coder"] and all(c.error is None for c in calls)
    assert _request_text(srv.requests[1]).count("def kernel(x, weight, eps):") == 1
    planner_prompt = _request_text(srv.requests[0])
    # The planner sees the contract, the beam's numbers, lessons and feedback.
    for expected in ("@triton.jit", "empty, empty_like, view", "41.00", "2.15x", "dram_throughput_pct=44.1",
                     "one program per row is fine", "only 43% of bandwidth", "try more warps per row", "at most 2"):
        assert expected in planner_prompt, expected
    coder_prompt = _request_text(srv.requests[1])
    assert "use 8 warps per row" in coder_prompt and "num_warps=4" in coder_prompt and "<<<<<<< SEARCH" in coder_prompt


@pytest.mark.parametrize(
    "bad",
    ["I would vectorize the loads.", Cut('```json\n{"items": [{"idea": "vect')],
    ids=["garbage", "truncated"],
)
def test_an_unusable_plan_is_recorded_and_fed_back_once(bad, fake_model: FakeModel):
    ctx = make_ctx()
    srv = fake_model.script(bad, plan_json(ctx.beam[0].candidate.source_hash))
    calls = srv.calls
    plan = Planner(srv).plan(ctx)
    assert [i.idea for i in plan.items] == ["use 8 warps per row", "two rows per program"]
    assert calls[0].error and "JSON" in calls[0].error and calls[1].error is None
    retry = srv.requests[1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": getattr(bad, "text", bad)}
    assert ("cut off at max_tokens" in (calls[0].error or "")) == isinstance(bad, Cut)
    assert retry[-1]["content"].startswith("Your answer could not be used:") and "JSON" in retry[-1]["content"]


def test_a_plan_unusable_twice_falls_back_to_the_default_plan_and_the_coder_still_works(fake_model: FakeModel):
    ctx = make_ctx(width=1)
    srv = fake_model.script("no json here", '{"items": []}', EDIT_ANSWER)
    calls = srv.calls
    strategy = LLMStrategy(srv)
    (candidate,) = strategy.propose(ctx)
    assert len(srv.requests) == 3
    assert "no JSON object" in (calls[0].error or "") and "no items" in (calls[1].error or "")
    assert candidate.plan_item == DEFAULT_IDEAS[0].idea and "num_warps=8" in candidate.source
    assert candidate.parent_hash == ctx.beam[0].candidate.source_hash
    assert "Tune the parent's declared tunable parameters" in _request_text(srv.requests[2])
    (line,) = strategy.skipped
    assert line.startswith("round 1: default plan used: planner:") and "unusable 2 times" in line
    assert strategy.failure_summary() == f"role failures: planner 1: {line}"


def test_a_search_block_that_misses_is_fed_back_then_the_item_is_skipped(fake_model: FakeModel):
    ctx = make_ctx(width=2)
    miss = "<<<<<<< SEARCH\n    y = tl.exp(x)\n=======\n    y = tl.exp2(x)\n>>>>>>> REPLACE\n"
    srv = fake_model.script(plan_json(ctx.beam[0].candidate.source_hash), miss, EDIT_ANSWER, miss, miss)
    calls = srv.calls
    strategy = LLMStrategy(srv, config=UNBATCHED)  # one request per idea here (batching has its own tests)
    candidates = strategy.propose(ctx)
    assert [c.plan_item for c in candidates] == ["use 8 warps per row"]
    assert "edit block 1" in _request_text(srv.requests[2])  # the miss was explained to the coder
    assert [c.error is not None for c in calls] == [False, True, False, True, True]
    assert "two rows per program" in strategy.skipped[0]


def _compile_error(candidate) -> EvalResult:  # type: ignore[no-untyped-def]
    return EvalResult(
        task=candidate.task, language=candidate.language, source_hash=candidate.source_hash,
        status="compile_error", mode="interpreter", message="compilation failed",
        compile_log="triton.compiler.errors.CompilationError: at 12:8: NameError('tl.rsqrtt is not defined')",
    )


def test_repair_feeds_the_compile_error_back_and_is_bounded(fake_model: FakeModel):
    ctx = make_ctx(width=1)
    first_fix = "<<<<<<< SEARCH\nnum_warps=8)\n=======\nnum_warps=16)\n>>>>>>> REPLACE\n"
    second_fix = "<<<<<<< SEARCH\nnum_warps=16)\n=======\nnum_warps=32)\n>>>>>>> REPLACE\n"
    srv = fake_model.script(plan_json(ctx.beam[0].candidate.source_hash, n=1), EDIT_ANSWER, first_fix, second_fix)
    calls = srv.calls
    strategy = LLMStrategy(srv, config=LLMStrategyConfig(max_repairs=2))
    (broken,) = strategy.propose(ctx)
    fixed = strategy.repair(ctx, broken, _compile_error(broken))
    assert fixed is not None and "num_warps=16" in fixed.source
    assert fixed.parent_hash == broken.source_hash and fixed.plan_item == broken.plan_item
    refixed = strategy.repair(ctx, fixed, _compile_error(fixed))
    assert refixed is not None and "num_warps=32" in refixed.source
    assert strategy.repair(ctx, refixed, _compile_error(refixed)) is None  # third repair: refused
    assert len(srv.requests) == 4
    repair_prompt = _request_text(srv.requests[2])
    assert "NameError('tl.rsqrtt is not defined')" in repair_prompt and "repair 1 of 2" in repair_prompt
    assert [c.role for c in calls] == ["planner", "coder", "repair", "repair"]
    timeout = _compile_error(refixed).model_copy(update={"status": "timeout"})
    assert strategy.repair(ctx, fixed, timeout) is None


def _measured(candidate, speedup: float, violations=()) -> EvalResult:  # type: ignore[no-untyped-def]
    base = make_ctx().beam[0].result
    assert base is not None
    timing = base.timings[0].model_copy(update={"speedup": speedup})
    return base.model_copy(update={"source_hash": candidate.source_hash, "timings": [timing],
                                   "violations": list(violations)})


def test_the_judge_returns_a_verdict_for_the_candidate(fake_model: FakeModel):
    ctx = make_ctx(width=1)
    srv = fake_model.script(plan_json(ctx.beam[0].candidate.source_hash, n=1), EDIT_ANSWER, VERDICT_JSON)
    strategy = LLMStrategy(srv)
    (candidate,) = strategy.propose(ctx)
    verdict = strategy.review(ctx, candidate, _measured(candidate, 2.9))
    assert verdict is not None and verdict.source_hash == candidate.source_hash
    assert verdict.bottleneck.startswith("DRAM") and verdict.matches_prediction is True
    assert verdict.lessons == ["rmsnorm H=7168 on H100: 8 warps per row beats 4"] and not verdict.suspicious
    judge_prompt = _request_text(srv.requests[2])
    assert "Predicted: 1.3x on H=7168" in judge_prompt
    # one table row per shape: candidate | parent | delta | vs eager, and the change as a diff, not two sources
    assert "| T=4096 H=7168 | ? | 41.00 | 41.00 | 1.00x | 2.90x | - |" in judge_prompt
    assert "--- parent" in judge_prompt and "+    _rmsnorm[(x.shape[0],)]" in judge_prompt
    assert judge_prompt.count("def kernel(x, weight, eps):") == 1  # in the diff's context only


def test_a_large_speedup_reaches_the_judge_as_a_question_against_the_bytes_floor(fake_model: FakeModel):
    """Suspicion without amnesia: 14x over eager is asked about, not held against the kernel."""
    ctx = make_ctx(width=1)
    flagged = Violation(rule="speedup-over-10x", message="speedup 14.0x needs review", severity="review")
    claims_confirmed = json.dumps({**json.loads(VERDICT_JSON), "confirmation": "held"})  # not the model's field
    srv = fake_model.script(claims_confirmed, "garbage", "more garbage")
    calls = srv.calls
    strategy = LLMStrategy(srv)
    candidate = ctx.beam[0].candidate.model_copy(update={"source": ctx.beam[0].candidate.source + "\n"})
    verdict = strategy.review(ctx, candidate, _measured(candidate, 14.0, [flagged]))
    assert verdict is not None and not verdict.suspicious and verdict.confirmation is None
    prompt = _request_text(srv.requests[0])
    # 41 us at 43% of peak bandwidth: the floor is 17.63 us
    assert "evaluator asks: is this 14.0x real at T=4096 H=7168? floor is 17.63 us, measured 41.00 us" in prompt
    assert "not against eager PyTorch" in prompt and '"confirmation"' not in prompt
    # An unusable judge answer leaves the question, unanswered, and no suspicion.
    fallback = strategy.review(ctx, candidate, _measured(candidate, 14.0, [flagged]))
    assert fallback is not None and not fallback.suspicious and "is this 14.0x real" in fallback.feedback
    assert [c.error is not None for c in calls] == [False, True, True]


def test_a_time_under_the_bytes_floor_is_suspicious_whatever_the_model_says(fake_model: FakeModel):
    ctx = make_ctx(width=1)
    candidate = ctx.beam[0].candidate
    under = Violation(rule="below-bandwidth-floor", message="T=4096 H=7168: 9 us under the floor of 17.6 us",
                      severity="review")
    verdict = LLMStrategy(fake_model.script(VERDICT_JSON)).review(ctx, candidate, _measured(candidate, 3.0, [under]))
    assert verdict is not None and verdict.suspicious and "below-bandwidth-floor" in verdict.suspicion_reason
    judge = Judge(None)  # type: ignore[arg-type]  (no model: the automatic verdict only)
    over_peak = _measured(candidate, 3.0)
    over_peak.timings[0].pct_peak_bandwidth = 180.0
    automatic = judge.automatic_verdict(candidate, over_peak)
    assert automatic is not None and automatic.suspicious and "180% of peak bandwidth" in automatic.suspicion_reason


def test_an_unreachable_model_stops_the_strategy_with_llm_unavailable():
    calls: list[LLMCall] = []
    with ScriptedLLMServer([500, 503, 500]) as srv:
        strategy = LLMStrategy(scripted_model(srv, calls, max_retries=2))
        with pytest.raises(LLMUnavailable, match="after 2 retries"):
            strategy.propose(make_ctx())
    assert len(calls) == 3


def test_a_spent_budget_stops_the_strategy_mid_round():
    ctx = make_ctx(width=2)
    calls: list[LLMCall] = []
    budget = Budget(max_tokens=20)
    script = [Reply(plan_json(ctx.beam[0].candidate.source_hash), prompt_tokens=15, completion_tokens=10)]
    with ScriptedLLMServer(script) as srv:
        strategy = LLMStrategy(scripted_model(srv, calls, budget=budget))
        with pytest.raises(BudgetExceeded):
            strategy.propose(ctx)
        assert len(srv.requests) == 1


def test_build_llm_strategy_runs_a_round_with_the_cli_settings(monkeypatch):
    class Settings:  # what `warpsmith optimize` hands over: its run settings
        budget_usd = None
        budget_tokens = 10_000

    monkeypatch.setenv("WARPSMITH_API_KEY", "sk-from-warpsmith-env")
    ctx = make_ctx(width=1)
    calls: list[LLMCall] = []
    with ScriptedLLMServer([plan_json(ctx.beam[0].candidate.source_hash, n=1), EDIT_ANSWER]) as srv:
        strategy = build_llm_strategy("openai/scripted", api_base=srv.base_url, budget=Settings(),
                                      on_call=calls.append, backoff_s=0.001)
        assert strategy.name == "llm"
        (candidate,) = strategy.propose(ctx)
    assert "num_warps=8" in candidate.source and len(calls) == 2
    assert srv.headers[0]["authorization"] == "Bearer sk-from-warpsmith-env"
    assert strategy.planner.model.config.budget.spent_tokens == 36  # 2 calls x (11 + 7) scripted tokens


def test_hosted_vllm_models_reach_an_openai_compatible_server():
    calls: list[LLMCall] = []
    with ScriptedLLMServer([VERDICT_JSON]) as srv:
        model = scripted_model(srv, calls, model="hosted_vllm/Qwen/Qwen3-Coder", api_key_env=None)
        call = model.complete("judge", [{"role": "user", "content": "judge"}])
    assert call.response == VERDICT_JSON and srv.requests[0]["model"] == "Qwen/Qwen3-Coder"


@pytest.mark.parametrize("language", ["triton", "cuda", "hip"])
def test_every_prompt_renders_for_every_language(language):
    ctx = make_ctx().model_copy(update={"language": language, "allowed_torch_ops": []})
    summary = ctx.beam[0]
    candidate = summary.candidate.model_copy(update={"language": language})
    failed = _compile_error(candidate)
    ctx = ctx.model_copy(update={"failures": [summary.model_copy(update={"result": failed})]})
    no_model = None
    texts = [
        *Planner(no_model).messages(ctx),  # type: ignore[arg-type]
        *Coder(no_model).write_messages(ctx, PlanItem(idea="vectorize"), summary),  # type: ignore[arg-type]
        *Coder(no_model).write_messages(ctx, PlanItem(idea="from scratch"), None),  # type: ignore[arg-type]
        *Coder(no_model).repair_messages(ctx, candidate, failed, 1, 2),  # type: ignore[arg-type]
        *Judge(no_model).messages(ctx, candidate, summary.result, summary, "1.2x"),  # type: ignore[arg-type]
    ]
    contract = {"triton": "@triton.jit", "cuda": "nvcc, sm_90", "hip": "hipcc, gfx90a"}[language]
    assert contract in texts[0]["content"] and contract in texts[2]["content"]
    assert "allocation (empty" in texts[0]["content"]  # the default rule when the task lists no ops
    assert "tl.rsqrtt is not defined" in texts[1]["content"] + texts[7]["content"]
    assert "There is no parent" in texts[5]["content"]
    assert all("{{" not in t["content"] and "{%" not in t["content"] for t in texts)


def test_a_speedup_over_the_threshold_is_a_question_not_a_suspicion():
    ctx = make_ctx()
    candidate = ctx.beam[0].candidate
    judge = Judge(None)  # type: ignore[arg-type]  (no model: the automatic verdict only)
    assert judge.automatic_verdict(candidate, _measured(candidate, 2.0)) is None
    verdict = judge.automatic_verdict(candidate, _measured(candidate, 25.0))
    assert verdict is not None and not verdict.suspicious and "is this 25.0x real" in verdict.feedback


def test_the_judge_sees_the_comparison_with_the_parent_with_its_interval():
    ctx = make_ctx()
    parent = ctx.beam[0]
    candidate = parent.candidate.model_copy(update={"source": parent.candidate.source + "\n# child\n",
                                                    "parent_hash": parent.candidate.source_hash})

    def sampled(result: EvalResult, median_us: float) -> EvalResult:
        samples = [median_us * (1 + 0.002 * ((i % 7) - 3)) for i in range(50)]
        timing = result.timings[0].model_copy(update={"samples_us": samples, "method": "cuda_events"})
        return result.model_copy(update={"timings": [timing]})

    parent = parent.model_copy(update={"result": sampled(parent.result, 41.0)})
    result = sampled(_measured(candidate, 2.6), 33.0)
    text = _request_text({"messages": Judge(None).messages(ctx, candidate, result, parent, "")})  # type: ignore[arg-type]
    assert "vs parent overall: 1.242x, 95% interval [" in text and "]: faster" in text


def test_a_batched_section_that_does_not_fit_is_asked_for_alone():
    ctx = make_ctx(width=2)
    parent = ctx.beam[0].candidate
    miss = "<<<<<<< SEARCH\n    y = tl.exp(x)\n=======\n    y = tl.exp2(x)\n>>>>>>> REPLACE\n"
    batched = f"=== IDEA 1 ===\n{EDIT_ANSWER}\n=== IDEA 2 ===\n{miss}"
    calls: list[LLMCall] = []
    with ScriptedLLMServer([plan_json(parent.source_hash, n=2), batched, EDIT_ANSWER_2]) as srv:
        strategy = LLMStrategy(scripted_model(srv, calls))
        candidates = strategy.propose(ctx)
    assert [c.plan_item for c in candidates] == ["use 8 warps per row", "two rows per program"]
    assert "num_warps=8" in candidates[0].source and "num_warps=2" in candidates[1].source
    assert [c.role for c in calls] == ["planner", "coder", "coder"]
    assert "=== IDEA" not in _request_text(srv.requests[2]) and "two rows per program" in _request_text(srv.requests[2])
    assert any("idea 2:" in line and "asked alone" in line for line in strategy.skipped)
    assert strategy.producing_call(candidates[0].source_hash) is calls[1]
