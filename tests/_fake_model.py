"""An in-process chat model for the planner, coder and judge unit tests: scripted answers, no HTTP.

`FakeModel` implements the agents' `ChatModel` protocol (warpsmith.agents.protocols) the way
`LiteLLMModel` does for what the agents can see: it hands back an `LLMCall` with the scripted
text, runs the caller's `check` on it and writes a `FormatError` into the call's `error` (with
"(cut off at max_tokens)" for a `Cut` answer), and raises an exception given in the script.
What it does not do: HTTP, retries, budgets, costs (tests of those use the real litellm client
against tests/_scripted_llm_server.py, the end-to-end path). Every request is kept in `requests`
as {"role", "messages", "response_model"}, so a test reads the prompt the agent sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from warpsmith.agents.protocols import FormatError
from warpsmith.records.agents import LLMCall


@dataclass(frozen=True)
class Cut:
    """An answer that stopped at max_tokens (finish_reason "length")."""

    text: str


class FakeModel:
    """A `ChatModel` whose answers are a script: str, `Cut`, or an exception to raise."""

    def __init__(self, *answers: str | Cut | BaseException, model_name: str = "fake/scripted") -> None:
        self.model_name = model_name
        self.answers: list[str | Cut | BaseException] = list(answers)
        self.requests: list[dict[str, Any]] = []
        self.calls: list[LLMCall] = []

    def script(self, *answers: str | Cut | BaseException) -> FakeModel:
        self.answers.extend(answers)
        return self

    def complete(
        self,
        role: Any,
        messages: list[dict[str, Any]],
        *,
        response_model: type[BaseModel] | None = None,
        check: Callable[[str], object] | None = None,
    ) -> LLMCall:
        self.requests.append({"role": role, "messages": [dict(m) for m in messages], "response_model": response_model})
        if not self.answers:
            raise AssertionError(f"FakeModel: no scripted answer left for request {len(self.requests)} ({role})")
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        text = answer.text if isinstance(answer, Cut) else answer
        call = LLMCall(role=role, model=self.model_name, messages=messages, response=text,
                       truncated=isinstance(answer, Cut))
        if check is not None:
            try:
                check(text)
            except FormatError as exc:
                call.error = f"unusable answer{' (cut off at max_tokens)' if isinstance(answer, Cut) else ''}: {exc}"
        self.calls.append(call)
        return call
