"""The real litellm client against the scripted OpenAI-compatible server: retries, failures, budget."""

from __future__ import annotations

import json

import pytest
from _agents_llm_helpers import DUMMY_KEY, KEY_ENV, scripted_model
from _scripted_llm_server import Delay, Garbage, Reply, ScriptedLLMServer, Truncated

from warpsmith.agents.llm import Budget, LiteLLMConfig, LiteLLMModel
from warpsmith.agents.protocols import BudgetExceeded, FormatError, LLMUnavailable
from warpsmith.records.agents import LLMCall, Plan

HELLO = [{"role": "user", "content": "say hello"}]


def test_answer_tokens_and_cost_are_recorded_and_the_key_is_sent_but_never_stored():
    calls: list[LLMCall] = []
    with ScriptedLLMServer([Reply("hello there", prompt_tokens=21, completion_tokens=3)]) as srv:
        call = scripted_model(srv, calls).complete("planner", HELLO)
    assert call.response == "hello there"
    assert (call.prompt_tokens, call.completion_tokens) == (21, 3)
    assert call.cost_usd == 0.0  # a model litellm has no price for costs nothing, without crashing
    assert call.error is None and call.role == "planner" and call.model == "openai/scripted"
    assert calls == [call]
    assert srv.requests[0]["messages"] == HELLO
    assert srv.headers[0]["authorization"] == f"Bearer {DUMMY_KEY}"
    assert DUMMY_KEY not in call.model_dump_json()


def test_rate_limit_then_success_is_retried_and_both_attempts_are_recorded():
    calls: list[LLMCall] = []
    with ScriptedLLMServer([429, "finally"]) as srv:
        call = scripted_model(srv, calls).complete("coder", HELLO)
    assert call.response == "finally"
    assert len(srv.requests) == 2
    assert [c.attempt for c in calls] == [1, 2]
    assert "HTTP 429" in (calls[0].error or "") and calls[1].error is None


def test_persistent_server_error_gives_one_clear_line_and_every_attempt_is_recorded():
    calls: list[LLMCall] = []
    with ScriptedLLMServer([500] * 4) as srv:
        model = scripted_model(srv, calls, max_retries=3)
        with pytest.raises(LLMUnavailable) as info:
            model.complete("planner", HELLO)
        assert len(srv.requests) == 4 and srv.unscripted == 0
    message = str(info.value)
    assert message == f"model openai/scripted at {srv.base_url}: HTTP 500: scripted error after 3 retries"
    assert [c.attempt for c in calls] == [1, 2, 3, 4]
    assert all(c.response is None and "HTTP 500" in (c.error or "") for c in calls)


def test_timeout_is_retried_then_unavailable():
    calls: list[LLMCall] = []
    with ScriptedLLMServer([Delay(1.5), Delay(1.5)]) as srv:
        model = scripted_model(srv, calls, timeout_s=0.3, max_retries=1)
        with pytest.raises(LLMUnavailable, match=r"timed out after 0.3 s after 1 retries"):
            model.complete("judge", HELLO)
    assert len(srv.requests) == 2
    assert [c.error for c in calls] == ["timed out after 0.3 s"] * 2


def test_timeout_then_answer_succeeds():
    calls: list[LLMCall] = []
    with ScriptedLLMServer([Delay(1.5), "in time"]) as srv:
        call = scripted_model(srv, calls, timeout_s=0.3).complete("judge", HELLO)
    assert call.response == "in time" and len(calls) == 2


@pytest.mark.parametrize("broken", [Garbage(), Truncated()], ids=["garbage-body", "truncated-body"])
def test_a_broken_http_body_is_retried(broken):
    calls: list[LLMCall] = []
    with ScriptedLLMServer([broken, "whole answer"]) as srv:
        call = scripted_model(srv, calls).complete("planner", HELLO)
    assert call.response == "whole answer"
    assert calls[0].error and calls[0].response is None


def test_authentication_error_fails_fast_without_retries():
    calls: list[LLMCall] = []
    with ScriptedLLMServer([401, "never served"]) as srv:
        with pytest.raises(LLMUnavailable, match=r"authentication failed \(HTTP 401\)"):
            scripted_model(srv, calls).complete("planner", HELLO)
        assert len(srv.requests) == 1
    assert len(calls) == 1


def test_unknown_provider_fails_fast_with_a_clear_line():
    calls: list[LLMCall] = []
    model = LiteLLMModel(LiteLLMConfig(model="nosuchprovider/model-x", max_retries=3), on_call=calls.append)
    with pytest.raises(LLMUnavailable, match=r"^model nosuchprovider/model-x: unknown provider in the model string"):
        model.complete("planner", HELLO)
    assert len(calls) == 1


def test_missing_api_key_variable_is_named(monkeypatch):
    monkeypatch.delenv("WARPSMITH_NO_SUCH_KEY", raising=False)
    model = LiteLLMModel(LiteLLMConfig(model="openai/scripted", api_key_env="WARPSMITH_NO_SUCH_KEY"))
    with pytest.raises(LLMUnavailable, match="WARPSMITH_NO_SUCH_KEY"):
        model.complete("planner", HELLO)


def test_token_budget_is_shared_and_stops_the_next_call():
    calls: list[LLMCall] = []
    budget = Budget(max_tokens=30)
    with ScriptedLLMServer([Reply("a", prompt_tokens=15, completion_tokens=5), Reply("b", prompt_tokens=15, completion_tokens=5), "never"]) as srv:
        planner = scripted_model(srv, calls, budget=budget)
        coder = scripted_model(srv, calls, budget=budget)
        planner.complete("planner", HELLO)
        coder.complete("coder", HELLO)
        assert budget.spent_tokens == 40
        with pytest.raises(BudgetExceeded, match="40 of 30 tokens"):
            planner.complete("planner", HELLO)
        assert len(srv.requests) == 2  # the refused call never reached the server


def test_dollar_budget_counts_known_model_prices():
    calls: list[LLMCall] = []
    budget = Budget(max_usd=1e-9)
    # gpt-4o-mini is in litellm's local price map, so its cost is > 0.
    with ScriptedLLMServer([Reply("priced", prompt_tokens=1000, completion_tokens=1000), "never"]) as srv:
        model = scripted_model(srv, calls, budget=budget, model="openai/gpt-4o-mini")
        call = model.complete("planner", HELLO)
        assert call.cost_usd > 0 and budget.spent_usd == pytest.approx(call.cost_usd)
        with pytest.raises(BudgetExceeded, match=r"budget spent: \$"):
            model.complete("planner", HELLO)
        assert len(srv.requests) == 1


def test_check_rejection_is_recorded_on_the_call_not_raised():
    calls: list[LLMCall] = []

    def reject(text: str) -> None:
        raise FormatError(f"not what I asked for: {text!r}")

    with ScriptedLLMServer([Reply("{\"items\": [", finish_reason="length")]) as srv:
        call = scripted_model(srv, calls).complete("planner", HELLO, check=reject)
    assert call.error == "unusable answer (cut off at max_tokens): not what I asked for: '{\"items\": ['"
    assert calls == [call]


def test_json_schema_response_format_is_sent_when_asked():
    calls: list[LLMCall] = []
    with ScriptedLLMServer(["{}", "{}"]) as srv:
        scripted_model(srv, calls, structured_output="json_schema").complete("planner", HELLO, response_model=Plan)
        scripted_model(srv, calls, structured_output="auto").complete("planner", HELLO, response_model=Plan)
    sent = srv.requests[0]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "Plan"
    assert "items" in json.dumps(sent["json_schema"]["schema"])
    assert "response_format" not in srv.requests[1]  # an unknown model gets plain text prompts only


def test_import_of_the_agents_does_not_import_litellm():
    import subprocess
    import sys

    code = (
        "import sys; import warpsmith.agents.llm_strategy, warpsmith.agents.llm, warpsmith.agents.replay_model; "
        "print('litellm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PATH": ""})
    assert out.stdout.strip() == "False"


def test_the_key_env_name_not_the_key_is_in_the_config():
    config = LiteLLMConfig(model="openai/x", api_key_env=KEY_ENV)
    assert DUMMY_KEY not in config.model_dump_json()


def test_no_key_at_all_says_where_to_put_one_in_a_whole_sentence(monkeypatch):
    for name in ("OPENAI_API_KEY", "WARPSMITH_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    model = LiteLLMModel(LiteLLMConfig(model="openai/gpt-4o-mini", max_retries=0))
    with pytest.raises(LLMUnavailable) as info:
        model.complete("planner", HELLO)
    assert str(info.value) == (
        "model openai/gpt-4o-mini: no API key: set WARPSMITH_API_KEY, or the provider's own variable "
        "(e.g. OPENAI_API_KEY, ANTHROPIC_API_KEY)"
    )
