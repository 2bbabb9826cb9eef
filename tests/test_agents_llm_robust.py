"""Bad model answers: the round goes on where it can, and each failure is one clear line (issue 9:
robust edits, graceful degradation). Parsing runs on the in-process fake model; what reaches the
request (answer limits, the key) through the real litellm client and the scripted server."""

from __future__ import annotations

from typing import Any

import pytest
from _agents_llm_helpers import EDIT_ANSWER, PARENT_SOURCE, make_ctx, plan_json, scripted_model
from _fake_model import FakeModel
from _scripted_llm_server import Reply, ScriptedLLMServer

from warpsmith.agents.llm_strategy import LLMStrategy
from warpsmith.records.agents import LLMCall


def _propose(script: list, parent: str | None = None, wire: bool = False, **config) -> tuple[list, LLMStrategy, Any, list[LLMCall]]:  # type: ignore[no-untyped-def]
    """One round of width 1 on `script` (after a plan): on the in-process fake model, or with
    `wire` through the real litellm client and the scripted server (what reaches the request)."""
    ctx = make_ctx(width=1)
    if parent is not None:
        summary = ctx.beam[0]
        candidate = summary.candidate.model_copy(update={"source": parent})
        ctx.beam = [summary.model_copy(update={"candidate": candidate})]
    answers = [plan_json(ctx.beam[0].candidate.source_hash, n=1), *script]
    if not wire:
        fake = FakeModel(*answers)
        strategy = LLMStrategy(fake)
        candidates = strategy.propose(ctx)
        assert fake.answers == []
        return candidates, strategy, fake, fake.calls
    calls: list[LLMCall] = []
    with ScriptedLLMServer(answers) as srv:
        strategy = LLMStrategy(scripted_model(srv, calls, **config))
        candidates = strategy.propose(ctx)
    assert srv.remaining == 0 and srv.unscripted == 0
    return candidates, strategy, srv, calls


def _last_user_message(request: dict) -> str:
    return request["messages"][-1]["content"]


DOCSTRING = '    """Usage, as the README shows it:\n\n```python\nout = kernel(x, weight, 1e-6)\n```\n"""\n'
WITH_FENCE_INSIDE = PARENT_SOURCE.replace(
    "def kernel(x, weight, eps):\n", "def kernel(x, weight, eps):\n" + DOCSTRING
).replace("num_warps=4", "num_warps=8")


def test_a_whole_file_answer_with_a_fence_inside_a_string_survives_whole():
    answer = "A rewrite with a usage note.\n\n```python\n" + WITH_FENCE_INSIDE + "```\n\nThat is all.\n"
    (candidate,), strategy, _, calls = _propose([answer])
    assert candidate.source == WITH_FENCE_INSIDE  # not cut at the docstring's ``` line
    assert candidate.source.rstrip().endswith("return out")
    assert calls[1].error is None and strategy.skipped == []


@pytest.mark.parametrize("fenced", [True, False], ids=["only-a-code-block", "bare-source"])
def test_an_answer_that_is_only_code_is_a_candidate(fenced):
    source = PARENT_SOURCE.replace("num_warps=4", "num_warps=16")
    (candidate,), _, _, calls = _propose(["```python\n" + source + "```" if fenced else source])
    assert candidate.source == source and calls[1].error is None


TWICE = PARENT_SOURCE.replace("    var = tl.sum(x * x, axis=0) / H\n", "    x = x * 1.0\n    var = tl.sum(x * x, axis=0) / H\n")
TWICE = TWICE.replace("    tl.store(", "    x = x * 1.0\n    tl.store(")
AMBIGUOUS = """Scale in fp32 once.

<<<<<<< SEARCH
    x = x * 1.0
=======
    x = x * 2.0
>>>>>>> REPLACE
"""


def test_an_ambiguous_search_is_refused_naming_every_match():
    (candidate,), _, srv, calls = _propose([AMBIGUOUS, EDIT_ANSWER], parent=TWICE)
    why = "edit block 1: its SEARCH lines match the parent 2 times (at lines 12 and 15)"
    assert why in (calls[1].error or "")  # stored with the call
    assert why in _last_user_message(srv.requests[2])  # and told to the coder
    assert candidate.source.count("x = x * 1.0") == 2 and "num_warps=8" in candidate.source


THREE_BLOCKS = """Three changes.

<<<<<<< SEARCH
    _rmsnorm[(x.shape[0],)](x, weight, out, x.shape[-1], eps, BLOCK=BLOCK, num_warps=4)
=======
    _rmsnorm[(x.shape[0],)](x, weight, out, x.shape[-1], eps, BLOCK=BLOCK, num_warps=8)
>>>>>>> REPLACE

<<<<<<< SEARCH
    var = tl.sum(x * x, axis=0) / H + 0.0
    w = tl.load(w_ptr + cols, mask=mask)
=======
    var = tl.sum(x * x, axis=0) / H
>>>>>>> REPLACE

<<<<<<< SEARCH
    row = tl.program_id(0)
=======
    row = tl.program_id(0).to(tl.int64)
>>>>>>> REPLACE
"""


def test_one_bad_block_among_three_is_reported_and_the_two_good_ones_are_applied():
    (candidate,), strategy, _, calls = _propose([THREE_BLOCKS])
    assert calls[1].error is None  # a usable answer: one call, no retry
    assert "num_warps=8" in candidate.source and "row = tl.program_id(0).to(tl.int64)" in candidate.source
    (line,) = strategy.skipped
    assert line.startswith(f"round 1: coder {candidate.source_hash[:12]}: edit block 2: ")
    assert "closest parent lines 12-13" in line and "var = tl.sum(x * x, axis=0) / H" in line
    assert "(of 3 blocks; the others were applied)" in line
    assert strategy.failure_summary() == f"role failures: coder 1: {line}"


def test_an_answer_cut_at_max_tokens_is_followed_by_a_request_for_edits():
    cut = Reply("Here is the file.\n\n```python\nimport torch\nimport triton\n\ndef kernel(x, weight", finish_reason="length")
    (candidate,), _, srv, calls = _propose([cut, EDIT_ANSWER], wire=True, role_max_tokens={"coder": 30000})
    assert [r["max_tokens"] for r in srv.requests] == [8192, 30000, 30000]  # per role: planner, coder
    assert "(cut off at max_tokens)" in (calls[1].error or "")
    follow_up = _last_user_message(srv.requests[2])
    assert "cut off at the output limit" in follow_up and "do not send the whole file again" in follow_up
    assert "SEARCH/REPLACE edit blocks on the parent source only" in follow_up
    assert "num_warps=8" in candidate.source


def test_the_coder_gets_a_long_answer_limit_by_default():
    _, _, srv, _ = _propose([EDIT_ANSWER], wire=True)
    planner, coder = (r["max_tokens"] for r in srv.requests)
    assert planner == 8192 and 16384 <= coder <= 32768


def test_the_cli_wires_per_role_limits_and_warpsmith_api_key_into_the_strategy(monkeypatch):
    from warpsmith.cli.optimize_cmd import _strategy
    from warpsmith.cli.optimize_settings import role_max_tokens
    from warpsmith.records.runs import RunSettings
    from warpsmith.tasklib import get_task

    monkeypatch.setenv("WARPSMITH_API_KEY", "sk-from-warpsmith-env")
    limits = role_max_tokens(["coder=20000", "4000"])
    assert limits == {"coder": 20000, "*": 4000}
    ctx = make_ctx(width=1)
    calls: list[LLMCall] = []
    with ScriptedLLMServer([plan_json(ctx.beam[0].candidate.source_hash, n=1), EDIT_ANSWER]) as srv:
        settings = RunSettings(model="openai/scripted", api_base=srv.base_url, max_tokens=limits)
        strategy, _chat = _strategy(get_task("rmsnorm"), settings, False, {}, calls.append)
        (candidate,) = strategy.propose(ctx)
    assert "num_warps=8" in candidate.source
    assert [r["max_tokens"] for r in srv.requests] == [4000, 20000]
    assert {h["authorization"] for h in srv.headers} == {"Bearer sk-from-warpsmith-env"}
    import typer

    with pytest.raises(typer.Exit):  # a usage error, one line on stderr
        role_max_tokens(["painter=9000"])
