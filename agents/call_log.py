"""The sink a chat model hands its `LLMCall`s to, bound to the run by the loop.

Owns: `CallLog`. Does not own: storing a call (the loop's writer) or the record (warpsmith.records.agents).
"""

from __future__ import annotations

from collections.abc import Callable

from warpsmith.records.agents import LLMCall


class CallLog:
    """A chat model's `on_call`: forwards every LLMCall to the run it is bound to.

    Built before the run exists (the CLI gives it to the model); the loop binds it. The
    sink returns the stored call's id, which `stored_id` gives back for that very call
    object (so the loop can tie a candidate to the call whose answer it is).
    """

    def __init__(self) -> None:
        self._sink: Callable[[LLMCall], int | None] | None = None
        self.unbound: list[LLMCall] = []
        self._stored: dict[int, tuple[LLMCall, int]] = {}

    def bind(self, sink: Callable[[LLMCall], int | None]) -> None:
        self._sink = sink

    def __call__(self, call: LLMCall) -> None:
        if self._sink is None:
            self.unbound.append(call)
            return
        call_id = self._sink(call)
        if call_id is not None:  # keyed by identity; the call is kept so its id() is not reused
            self._stored[id(call)] = (call, call_id)

    def stored_id(self, call: LLMCall) -> int | None:
        """The store's id of a call this log forwarded, None when it never reached the store."""
        entry = self._stored.get(id(call))
        return entry[1] if entry is not None and entry[0] is call else None
