"""The judge's round review: one request for all of a round's candidates, and replay of both formats.

Runs on the in-process `fake_model` (tests/_fake_model.py) and the real Judge, LLMStrategy and
ReplayModel; the prompt is rendered from the shipped templates."""

from __future__ import annotations

import json

from _agents_llm_helpers import EDIT_ANSWER, EDIT_ANSWER_2, VERDICT_JSON, make_ctx, plan_json
from _fake_model import FakeModel

from warpsmith.agents.judge import ROUND_REVIEW_MARK, is_round_review
from warpsmith.agents.llm_strategy import LLMStrategy
from warpsmith.agents.replay_model import ReplayModel
from warpsmith.records.agents import LLMCall
from warpsmith.records.evaluation import Candidate, EvalResult


def _text(request: dict) -> str:
    return "\n".join(m["content"] for m in request["messages"])


def _measured(candidate: Candidate, parent_result: EvalResult, median_us: float) -> EvalResult:
    timing = parent_result.timings[0].model_copy(update={"median_us": median_us})
    return parent_result.model_copy(update={"source_hash": candidate.source_hash, "timings": [timing]})


def _round(model: FakeModel) -> tuple[LLMStrategy, object, list[tuple[Candidate, EvalResult]]]:
    ctx = make_ctx(width=2)
    parent = ctx.beam[0]
    batched = f"=== IDEA 1 ===\n{EDIT_ANSWER}\n=== IDEA 2 ===\n{EDIT_ANSWER_2}"
    model.script(plan_json(parent.candidate.source_hash, n=2), batched)
    strategy = LLMStrategy(model)
    first, second = strategy.propose(ctx)
    assert parent.result is not None
    return strategy, ctx, [(first, _measured(first, parent.result, 30.0)), (second, _measured(second, parent.result, 45.0))]


def _round_answer(*hashes: str) -> str:
    one = json.loads(VERDICT_JSON)
    verdicts = [{**one, "candidate": h[:12], "feedback": f"about {h[:12]}"} for h in hashes]
    return "```json\n" + json.dumps({"verdicts": verdicts}) + "\n```"


def test_one_judge_request_reviews_the_whole_round(fake_model: FakeModel):
    strategy, ctx, reviewed = _round(fake_model)
    (a, _), (b, _) = reviewed
    fake_model.script(_round_answer(a.source_hash, b.source_hash))
    verdicts = strategy.review_round(ctx, reviewed)  # type: ignore[arg-type]
    assert strategy.reviews_per_round
    assert set(verdicts) == {a.source_hash, b.source_hash}
    assert verdicts[a.source_hash].feedback == f"about {a.source_hash[:12]}"
    judge_requests = [r for r in fake_model.requests if r["role"] == "judge"]
    assert len(judge_requests) == 1 and is_round_review(judge_requests[0]["messages"])
    text = _text(judge_requests[0])
    assert text.count("## Candidate ") == 2 and "one section per candidate" in text
    # each candidate with its table row and its diff; the task and the lessons once
    assert text.count("| T=4096 H=7168 | ? |") == 2 and text.count("--- parent") == 2
    assert text.count("## Lessons already stored") == 1 and "Predicted: 1.3x on H=7168" in text


def test_a_candidate_the_answer_leaves_out_gets_no_llm_verdict_and_an_unusable_answer_is_counted(fake_model: FakeModel):
    strategy, ctx, reviewed = _round(fake_model)
    (a, _), (b, _) = reviewed
    fake_model.script(_round_answer(a.source_hash))
    assert set(strategy.review_round(ctx, reviewed)) == {a.source_hash}  # type: ignore[arg-type]
    fake_model.script("no json here", '{"verdicts": [{"candidate": "0123456789ab"}]}')
    assert strategy.review_round(ctx, reviewed) == {}  # type: ignore[arg-type]
    assert strategy.role_failures == {"judge": 1} and f"no verdict on {a.source_hash[:12]}, {b.source_hash[:12]}: " in strategy.failures[-1]


def _recorded(round_review: bool) -> list[LLMCall]:
    content = f"{ROUND_REVIEW_MARK}rmsnorm" if round_review else "# Task: rmsnorm"
    return [LLMCall(role="judge", model="m", messages=[{"role": "user", "content": content}], response="{}")]


def test_replay_follows_the_review_format_the_run_was_recorded_with():
    assert LLMStrategy(ReplayModel(_recorded(True))).reviews_per_round
    assert not LLMStrategy(ReplayModel(_recorded(False))).reviews_per_round


def test_a_single_verdict_not_in_a_list_is_read_as_the_round_of_one(fake_model: FakeModel):
    strategy, ctx, reviewed = _round(fake_model)
    (a, result), _ = reviewed
    fake_model.script(VERDICT_JSON)
    verdicts = strategy.review_round(ctx, [(a, result)])  # type: ignore[arg-type]
    assert list(verdicts) == [a.source_hash] and verdicts[a.source_hash].bottleneck.startswith("DRAM")
