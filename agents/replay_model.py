"""A chat model that serves the answers recorded in a stored run, making no request.

Owns: `ReplayModel`, a `ChatModel` built from a run's stored `LLMCall`s in the order they
were made. It serves their answers in order, checks each request's role against the
recorded one, and raises `ReplayDiverged` naming the step when the run asks for
something the recording does not hold, or when a recorded answer that was usable no
longer is (or the reverse), e.g. SEARCH/REPLACE edits that no longer fit another parent. Calls that failed in transport (no answer) are
not served: the recorded client retried them. Each served call is still handed to
`on_call`, marked `replayed` and costing nothing. Does not own: loading calls from the
store (the replay command) or judging whether a replay reproduced a run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Unpack

from warpsmith.agents.protocols import ChatOptions, FormatError, ReplayDiverged
from warpsmith.records.agents import LLMCall, Role


class ReplayModel:
    """Serves recorded answers in order; never touches the network."""

    def __init__(self, calls: list[LLMCall], on_call: Callable[[LLMCall], None] | None = None) -> None:
        self.recorded = [c for c in calls if c.response is not None]
        self.on_call = on_call or (lambda call: None)
        models = sorted({c.model for c in self.recorded})
        self.model_name = "replay:" + (",".join(models) or "empty")
        self.served = 0

    @property
    def remaining(self) -> int:
        return len(self.recorded) - self.served

    def complete(self, role: Role, messages: list[dict[str, Any]], **options: Unpack[ChatOptions]) -> LLMCall:
        """The next recorded answer (`response_model` is moot: the answer is recorded text)."""
        check = options.get("check")
        step = self.served + 1
        if self.served >= len(self.recorded):
            raise ReplayDiverged(
                f"replay diverged at step {step}: the run asks for a {role} answer, "
                f"but the recorded run has only {len(self.recorded)} answers"
            )
        recorded = self.recorded[self.served]
        if recorded.role != role:
            raise ReplayDiverged(
                f"replay diverged at step {step}: the run asks for a {role} answer, "
                f"the recorded answer is the {recorded.role}'s"
            )
        self.served += 1
        call = LLMCall(
            role=role,
            model=recorded.model,
            messages=messages,
            response=recorded.response,
            prompt_tokens=recorded.prompt_tokens,
            completion_tokens=recorded.completion_tokens,
            cost_usd=0.0,
            replayed=True,
            truncated=recorded.truncated or "(cut off at max_tokens)" in (recorded.error or ""),
        )
        if check is not None and call.response is not None:
            try:
                check(call.response)
            except FormatError as exc:
                call.error = f"unusable answer: {exc}"
        if check is not None and (call.error is None) != (recorded.error is None):
            # The same text now parses differently (e.g. its edits no longer fit another parent):
            # the run would go on differently from the recording.
            then, now = ("usable", "unusable") if call.error else ("unusable", "usable")
            raise ReplayDiverged(
                f"replay diverged at step {step}: the recorded {role} answer was {then}, now it is {now} "
                f"({call.error or recorded.error})"
            )
        self.on_call(call)
        return call
