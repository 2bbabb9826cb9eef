"""What an evolution run was asked to do, and how it reports progress.

Owns: `EvolveSettings` (stored as the run's config and reused by --resume), `TASK_SUITES`
(the named groups `--suite` selects), `TaskProgress` / `EvolveProgress` (what the engine hands
its `on_progress` after every step) and `EvolveSummary`. Does not own: the engine (search.engine).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from warpsmith.records.evaluation import EvalResult
from warpsmith.records.jobs import PoolStats

TASK_SUITES: dict[str, tuple[str, ...]] = {
    "serving": ("rmsnorm", "fused_add_rmsnorm", "silu_and_mul", "gelu_and_mul", "topk_softmax",
                "rotary_embedding", "merge_attn_states", "per_token_group_quant_fp8"),
    "moe": ("moe_dispatch", "moe_align_block_size", "moe_combine", "moe_fused_gate", "topk_softmax"),
    "norms": ("rmsnorm", "fused_add_rmsnorm"),
}


class EvolveSettings(BaseModel):
    """How one evolution run searches (runs.config of a run with strategy 'evolve')."""

    tasks: list[str] = Field(description="Task names, in order (a --task-file task by its name).")
    task_file: str | None = Field(default=None, description="The file a user's task came from.")
    generations: int = 3
    population: int = Field(default=4, description="Candidates proposed per island per generation; "
                            "also how many elites an island keeps.")
    islands: int = 1
    migrate_every: int = Field(default=2, description="Ring migration of each island's best every K generations.")
    language: str = "triton"
    suite: str = "smoke"
    device: str = "auto"
    strategy: str = Field(default="offline", description="offline | llm")
    model: str | None = None
    api_base: str | None = None
    budget_usd: float | None = None
    budget_tokens: int | None = None
    novelty_threshold: float = Field(default=0.97, description="A candidate at least this similar to a known "
                                     "source (normalized) with the same numeric literals is rejected unevaluated.")
    beam_size: int = Field(default=4, description="Parents and inspirations a strategy sees per island.")
    max_repairs: int = 1
    eval_timeout_s: float = 300.0
    workers: int = 1
    ray: str | None = None
    target_floor: float | None = Field(default=None, description="A task stops proposing once its best reaches this "
                                       "fraction of the bytes floor (agents.stop_rules).")
    patience: int | None = Field(default=None, description="A task stops proposing after this many generations "
                                 "without a significant gain (agents.stop_rules).")
    profile_top: int = Field(default=2, description="On a device, each island's best N new correct candidates are "
                             "profiled for strategies whose prompts read profiles (0: never).")
    role_models: dict[str, str] = Field(default_factory=dict, description="Per role (planner, coder, judge) a model "
                                        "other than `model` (from the settings' [llm.<role>] sections).")
    settings: dict = Field(default_factory=dict, description="The whole effective settings the run started with "
                           "(records.settings.Settings.stored()), so --resume and replay reproduce them.")


class TaskProgress(BaseModel):
    task: str
    generation: int
    best_hash: str | None = None
    best_time_us: float | None = None
    floor_fraction: float | None = Field(default=None, description="Best's fraction of the bytes floor (device).")
    mode: str | None = None
    evaluated: int = 0
    rejected: int = Field(default=0, description="Proposals rejected as near-duplicates, unevaluated.")
    cells: int = 0
    stopped: str = Field(default="", description="Why this task stopped proposing ('' while it goes on).")
    floor_note: str = Field(default="", description="Why % of floor is unknown, e.g. 'n/a (interpreter)' on the CPU.")


class EvolveProgress(BaseModel):
    run_id: str
    generation: int
    generations: int
    tasks: list[TaskProgress]
    pool: PoolStats | None = None
    cost_usd: float = 0.0
    message: str = ""
    stop_rules: str = Field(default="", description="The stop rules in words ('' when none).")
    result: EvalResult | None = Field(default=None, description="The evaluation this step reports, if any.")


class EvolveSummary(BaseModel):
    run_id: str
    status: str
    message: str = ""
    generations_done: int
    evaluated: int
    tasks: list[TaskProgress]
    cost_usd: float = 0.0
    stop_rules: str = Field(default="", description="The stop rules in words ('' when none).")
