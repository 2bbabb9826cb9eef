"""What the optimization loop reports: its settings, progress events and the final summary.

Owns: `RunSettings` (what a run was asked to do; stored as the run's config), `Progress`
(handed to the caller's `on_progress` after every step), `RunSummary` (the loop's return
value) and `CallLog` (the sink a chat model hands its `LLMCall`s to, bound to the run by
the loop). Does not own: the loop (warpsmith.agents.coordinator) or storage (mapping).
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field

from warpsmith.agents.records import CandidateSummary, LLMCall
from warpsmith.evaluator.records import Hardware, Mode


class RunSettings(BaseModel):
    """How one optimization run searches (stored in runs.config, reused on --resume)."""

    language: str = "triton"
    """Kernel language of every candidate: triton | cuda | hip."""
    rounds: int = 3
    """Search rounds after the seeding round."""
    width: int = 3
    """New candidates per round."""
    suite: str = "check"
    """Shape suite the evaluator checks (and times) candidates on: smoke | check | bench."""
    device: str = "auto"
    """auto | cpu | cuda: where candidates run (cpu = Triton interpreter)."""
    beam_size: int = 4
    """How many of the best correct candidates a round sees as parents."""
    max_repairs: int = 2
    """Repair attempts per candidate that fails to compile."""
    eval_timeout_s: float = 300.0
    """Wall-clock limit of one evaluation."""
    task_file: str | None = None
    """The Python file the task came from (--task-file), which the evaluator's child loads too."""
    model: str | None = None
    """The model behind the strategy (None for offline)."""
    budget_usd: float | None = None
    budget_tokens: int | None = None


class Progress(BaseModel):
    """One step of a run, for a progress display."""

    run_id: str
    round_index: int
    rounds_total: int
    evaluated: int = Field(description="Evaluations this run has stored or reused so far.")
    best_hash: str | None = None
    best_speedup: float | None = None
    best_time_us: float | None = None
    mode: Mode | None = None
    cost_usd: float = 0.0
    tokens: int = 0
    message: str = ""


class RunSummary(BaseModel):
    """How a run ended."""

    run_id: str
    task: str
    status: str = Field(description="completed | failed | interrupted | budget_exhausted | llm_unavailable")
    message: str = ""
    strategy: str
    rounds_done: int
    rounds_total: int
    evaluated: int
    hardware: Hardware
    best: CandidateSummary | None = None
    seed_hash: str | None = None
    seed: CandidateSummary | None = Field(
        default=None, description="The shipped seed and its result, for comparison."
    )
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class CallLog:
    """A chat model's `on_call`: forwards every LLMCall to the run it is bound to.

    Built before the run exists (the CLI gives it to the model); the loop binds it.
    """

    def __init__(self) -> None:
        self._sink: Callable[[LLMCall], None] | None = None
        self.unbound: list[LLMCall] = []

    def bind(self, sink: Callable[[LLMCall], None]) -> None:
        self._sink = sink

    def __call__(self, call: LLMCall) -> None:
        if self._sink is None:
            self.unbound.append(call)
        else:
            self._sink(call)
