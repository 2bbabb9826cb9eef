"""The seams of the optimization loop, as Protocols (mini-swe-agent style).

Owns: the interfaces between the loop (warpsmith.search), the strategies (LLM agents,
offline search, replay) and the chat models. Concrete classes never import each other;
the CLI picks them. Does not own: any implementation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypedDict, Unpack

from pydantic import BaseModel

from warpsmith.records.agents import LLMCall, Role, RoundContext, Verdict
from warpsmith.records.evaluation import Candidate, EvalResult


class ChatOptions(TypedDict, total=False):
    """What a request may ask of `ChatModel.complete` besides its role and messages (keywords; each
    absent or None means no)."""

    response_model: type[BaseModel] | None
    """Ask the provider for JSON of this shape where it supports it (the caller still parses the text)."""
    check: Callable[[str], object] | None
    """Run on the answer before the call is reported: a FormatError it raises is written into the
    returned call's `error` (and so stored), not raised."""


class ChatModel(Protocol):
    """Answers chat requests; every call (failed ones too) is handed to `on_call`. An implementation
    takes the options as `**options: Unpack[ChatOptions]`, so they are declared once, here."""

    model_name: str

    def complete(self, role: Role, messages: list[dict[str, Any]], **options: Unpack[ChatOptions]) -> LLMCall:
        """Returns the call record; raises LLMUnavailable or BudgetExceeded when it must stop."""
        ...


class Strategy(Protocol):
    """Produces candidates for a round and reads their results."""

    name: str

    def propose(self, ctx: RoundContext) -> list[Candidate]:
        """Up to `ctx.width` new candidates (planner + coder, or a parameter search)."""
        ...

    def repair(self, ctx: RoundContext, candidate: Candidate, result: EvalResult) -> Candidate | None:
        """A fixed version of a candidate that failed to compile, or None to give up."""
        ...

    def review(self, ctx: RoundContext, candidate: Candidate, result: EvalResult) -> Verdict | None:
        """The judge's verdict on an evaluated candidate (None when the strategy has no judge)."""
        ...


class AgentError(Exception):
    """Base of the exceptions that steer the loop; the message is shown to the user."""


class LLMUnavailable(AgentError):
    """The model could not be reached or kept failing after retries."""


class BudgetExceeded(AgentError):
    """The run's dollar or token budget is spent."""


class FormatError(AgentError):
    """An answer could not be turned into the structure asked for."""


class ReplayDiverged(AgentError):
    """A replayed run asked for something the recorded run did not (another role, more calls)."""
