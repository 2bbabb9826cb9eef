"""What a planner sends once per run and what it sends every round (bench/prompt_tokens.py measures it).

The real Planner and templates, no model: the first request of a planner carries the task's description,
the whole candidate format and rules and the best candidate's source; later requests of the same planner
carry a summary of the format, point at the round the source was sent in, and still carry what the model
must read every round (reference, shapes, hardware, history, verdicts). A new best's source is sent when
it first is the best; `repeat_static` sends everything every round.
"""

from __future__ import annotations

from _agents_llm_helpers import make_ctx, parent_candidate

from warpsmith.agents.planner import Planner, PlannerConfig, attempt_rows
from warpsmith.agents.prompting import schema_brief
from warpsmith.records.agents import Attempt, CandidateSummary, Plan, ShapeBrief


def _round(ctx, index: int, **update):  # type: ignore[no-untyped-def]
    shapes = [ShapeBrief(label="T=1 H=64", dims={"T": 1, "H": 64, "G": 2}, bytes=260, regime="launch-bound")]
    return ctx.model_copy(update={"round_index": index, "reference_source": "def reference(self, x):\n    return x\n",
                                  "shapes": shapes, **update})


def _texts(planner: Planner, ctx) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    system, user = (m["content"] for m in planner.messages(ctx))
    planner._sent(ctx)  # what plan() records after building its request
    return system, user


def test_the_first_request_is_complete_and_later_ones_do_not_repeat_what_did_not_change():
    ctx = make_ctx()
    planner = Planner(None)  # type: ignore[arg-type]
    system1, user1 = _texts(planner, _round(ctx, 1))
    system2, user2 = _texts(planner, _round(ctx, 2))
    source_line = "def kernel(x, weight, eps):"
    assert "@triton.jit" in system1 and "empty, empty_like, view" in system1 and "RMSNorm over" in user1
    assert source_line in user1 and "as sent in round" not in user1
    assert "@triton.jit" not in system2 and "rules sent with round\n1" in system2 and "RMSNorm over" not in user2
    assert source_line not in user2 and "(source as sent in round 1: unchanged)" in user2
    for every_round in ("def reference(self, x):", "| T=1 H=64 | G=2 | 260 |", "| NVIDIA H100 80GB HBM3 (sm_90)",
                        "Signature: `kernel(x", "Round 2 of 3", "the seed reaches only 43% of bandwidth"):
        assert every_round in user2, every_round
    assert schema_brief(Plan) in system2 and "JSON schema" not in system2


def test_a_new_best_is_sent_with_its_source_and_repeat_static_sends_everything():
    ctx = make_ctx()
    planner = Planner(None)  # type: ignore[arg-type]
    _texts(planner, _round(ctx, 1))
    parent = parent_candidate()
    better = parent.model_copy(update={"source": parent.source + "\n# faster\n", "parent_hash": parent.source_hash,
                                       "origin": "coder"})
    beam = [CandidateSummary(candidate=better, result=ctx.beam[0].result), *ctx.beam]
    _, user = _texts(planner, _round(ctx, 2, beam=beam))
    assert "# faster" in user and "as sent in round" not in user
    _, user3 = _texts(planner, _round(ctx, 3, beam=beam))
    assert "# faster" not in user3 and "(source as sent in round 2: unchanged)" in user3
    always = Planner(None, PlannerConfig(repeat_static=True))  # type: ignore[arg-type]
    _texts(always, _round(ctx, 1))
    system, user = _texts(always, _round(ctx, 2))
    assert "@triton.jit" in system and "RMSNorm over" in user and "def kernel(x, weight, eps):" in user


def test_the_attempt_history_keeps_every_verdict_by_id_and_marks_repeated_cells():
    ctx = make_ctx()
    attempts = [Attempt(source_hash=str(i) * 40, round_index=r, parent_hash="a" * 40, idea=f"idea {i}",
                        status="correct", change={"bandwidth-bound": "1.00x (same)"}, bottleneck="DRAM",
                        verdict="no change", matches_prediction=False) for i, r in ((1, 1), (2, 1), (3, 2))]
    rows = attempt_rows(_round(ctx, 3, attempts=attempts), shown=24)
    assert [r["id"] for r in rows] == [str(i) * 12 for i in (1, 2, 3)]
    assert rows[0]["judge"] == "bottleneck: DRAM; not as predicted; no change" and rows[1]["judge"] == '"'
    assert rows[1]["change"] == '"' and rows[1]["parent"] == '"' and rows[1]["idea"] == "idea 2"
    assert rows[2]["judge"] == "in the verdicts below"  # the previous round: its verdicts are listed by id
