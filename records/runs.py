"""A run's records: what it was asked to do, how it progresses, how it ended.

Owns: `RunSettings` (stored as the run's config, reused on --resume), `Progress` (handed to a
caller's `on_progress` after every step) and `RunSummary` (how a run ended). Does not own: the
loop (warpsmith.agents.coordinator), the stored run (warpsmith.records.stored) or the vocabularies
(warpsmith.records.vocab). Imports nothing of ours but records.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from warpsmith.records.agents import CandidateSummary
from warpsmith.records.evaluation import SPEEDUP_REVIEW, EvalResult, Hardware, Mode
from warpsmith.records.vocab import RunStatus


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
    gpu_index: int | None = None
    """Which GPU evaluates candidates (passed on when the evaluator takes `gpu_index`); None = its default."""
    review_speedup: float = SPEEDUP_REVIEW
    """A per-shape speedup over eager above this is confirmed by a second evaluation before it may stay."""
    task_file: str | None = None
    """The Python file the task came from (--task-file), which the evaluator's child loads too."""
    model: str | None = None
    """The model behind the strategy (None for offline)."""
    api_base: str | None = None
    """The model's OpenAI-compatible server (--api-base), so that --resume reaches it again."""
    max_tokens: dict[str, int] = Field(default_factory=dict)
    """Answer limits per role ('planner', 'coder', 'judge', 'repair'; '*' for all) set with --max-tokens."""
    from_seed: bool = False
    """Offline strategy: write configs into the shipped seed, whatever the store's best is (--from-seed)."""
    sweep: int = 0
    """Offline strategy: round 1 times up to this many declared configs, one per shape bucket kept (--sweep; 0: off)."""
    budget_usd: float | None = None
    budget_tokens: int | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    """The whole effective settings the run started with (warpsmith.records.settings.Settings.stored():
    files, WARPSMITH_* variables and flags resolved; a store password masked)."""
    role_models: dict[str, str] = Field(default_factory=dict)
    """A model per role ('planner', 'coder', 'judge'; repair follows the coder) replacing `model` (--planner-model, ...)."""
    temperatures: dict[str, float] = Field(default_factory=dict)
    """Sampling temperature per role ('*' for all) set with --temperature; unset: the client's default (0.2)."""
    languages: list[str] = Field(default_factory=list)
    """Languages the user allowed (--lang triton,cuda): the first is `language`, the others are port targets."""
    profile_top: int = 2
    """On a device, the round's best N correct candidates are profiled (0: never)."""
    target_floor: float | None = None
    """Stop once the best reaches this fraction of the bytes floor on the bandwidth-bound shapes (device mode)."""
    patience: int | None = None
    """Stop after this many rounds in a row without a significant gain of the run's best."""


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
    best_claim: str = Field(default="", description="How the best stands (ranking.claim): interval and verdict.")
    cost_usd: float = 0.0
    tokens: int = 0
    message: str = ""
    result: EvalResult | None = Field(
        default=None, description="The evaluation this step reports (a display's per-candidate line); else None."
    )


class RunSummary(BaseModel):
    """How a run ended."""

    run_id: str
    task: str
    status: RunStatus
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
    claim: str = Field(
        default="",
        description="How the best stands against eager and the seed, with intervals (ranking.claim); "
        "'no candidate beat the seed' when none did beyond the noise.",
    )
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    role_failures: dict[str, int] = Field(
        default_factory=dict, description="How often each role's answer was unusable (LLM strategies; this process)."
    )
    stopped: str = Field(default="", description="Why the run stopped before its last round (a stop rule), "
                         "with the rules it ran under; empty when it ran every round.")
    stop_rules: str = Field(default="", description="The stop rules the run ran under, in words ('' when none).")

