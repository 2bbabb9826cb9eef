"""ReplayModel: a recorded run's answers served again, with no request, and divergence detected."""

from __future__ import annotations

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
from _scripted_llm_server import ScriptedLLMServer

from warpsmith.agents.llm_strategy import LLMStrategy
from warpsmith.agents.protocols import ReplayDiverged
from warpsmith.agents.replay_model import ReplayModel
from warpsmith.records.agents import LLMCall, Verdict
from warpsmith.records.evaluation import Candidate


@pytest.fixture(scope="module")
def recorded_round() -> tuple[list[LLMCall], list[Candidate], Verdict | None]:
    """One round with a garbage plan fed back, a transient 500, two candidates and a verdict."""
    ctx = make_ctx(width=2)
    parent = ctx.beam[0].candidate
    recorded: list[LLMCall] = []
    script = ["not a plan", plan_json(parent.source_hash), 500, EDIT_ANSWER, EDIT_ANSWER_2, VERDICT_JSON]
    with ScriptedLLMServer(script) as srv:
        strategy = LLMStrategy(scripted_model(srv, recorded), config=UNBATCHED)
        candidates = strategy.propose(ctx)
        verdict = strategy.review(ctx, candidates[0], ctx.beam[0].result.model_copy(
            update={"source_hash": candidates[0].source_hash}))
        assert len(srv.requests) == 6
    return recorded, candidates, verdict


def test_replay_reproduces_the_round_without_any_request(recorded_round):
    recorded, candidates, verdict = recorded_round
    assert [c.error is not None for c in recorded] == [True, False, True, False, False, False]
    ctx = make_ctx(width=2)
    replayed: list[LLMCall] = []
    with ScriptedLLMServer(["a live model would answer this"]) as watchdog:
        model = ReplayModel(recorded, on_call=replayed.append)
        strategy = LLMStrategy(model, config=UNBATCHED)
        again = strategy.propose(ctx)
        verdict_again = strategy.review(ctx, again[0], ctx.beam[0].result.model_copy(
            update={"source_hash": again[0].source_hash}))
        assert watchdog.requests == []
    assert [c.source_hash for c in again] == [c.source_hash for c in candidates]
    assert verdict_again == verdict
    # The failed transport attempt is not served; the unusable plan is, and is rejected again.
    assert [c.role for c in replayed] == ["planner", "planner", "coder", "coder", "judge"]
    assert replayed[0].error is not None and all(c.error is None for c in replayed[1:])
    assert all(c.replayed and c.cost_usd == 0.0 for c in replayed)
    assert model.remaining == 0 and model.model_name == "replay:openai/scripted"


def test_replay_diverges_on_a_role_mismatch_naming_the_step(recorded_round):
    recorded, _, _ = recorded_round
    model = ReplayModel(recorded)
    model.complete("planner", [{"role": "user", "content": "plan"}])
    with pytest.raises(ReplayDiverged, match=r"step 2: the run asks for a judge answer, the recorded answer is the planner's"):
        model.complete("judge", [{"role": "user", "content": "judge"}])


def test_replay_diverges_when_asked_for_more_than_was_recorded(recorded_round):
    recorded, _, _ = recorded_round
    model = ReplayModel(recorded)
    for call in [c for c in recorded if c.response is not None]:
        model.complete(call.role, call.messages)
    with pytest.raises(ReplayDiverged, match=r"step 6: .* has only 5 answers"):
        model.complete("planner", [{"role": "user", "content": "one more"}])


def test_replay_diverges_when_a_recorded_edit_no_longer_fits_the_parent(recorded_round):
    recorded, _, _ = recorded_round
    ctx = make_ctx(width=2)
    other = ctx.beam[0].candidate.source.replace("num_warps=4", "num_warps=NUM_WARPS")
    beam = [ctx.beam[0].model_copy(update={"candidate": ctx.beam[0].candidate.model_copy(update={"source": other})})]
    replayed: list[LLMCall] = []
    strategy = LLMStrategy(ReplayModel(recorded, on_call=replayed.append))  # batching as recorded
    with pytest.raises(ReplayDiverged, match=r"step 3: the recorded coder answer was usable, now it is unusable"):
        strategy.propose(ctx.model_copy(update={"beam": beam}))
    assert len(replayed) == 2  # the two planner answers were served before the divergence
