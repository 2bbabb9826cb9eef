"""What the dashboard shows, as pydantic models: the JSON API's response models and the pages' data.

Owns: the read-side shapes of runs, candidates, evaluations, LLM calls, verdicts and task
leaderboards. Does not own: the records themselves (EvalResult, Verdict, LLMCall are defined
in evaluator/agents; the dashboard imports only warpsmith.store, so whole stored records
travel here as the JSON the store keeps) or the queries that fill these (queries.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class RunSummary(BaseModel):
    """One run, as listed."""

    id: str
    task: str
    language: str
    strategy: str = Field(description="offline | llm | replay")
    model: str | None = None
    status: str = Field(
        description="running | completed | failed | interrupted | budget_exhausted | diverged ..."
    )
    status_message: str = ""
    best_speedup: float | None = Field(
        default=None, description="Geometric mean over timed shapes, best candidate."
    )
    best_candidate_hash: str | None = None
    best_time_us: float | None = Field(
        default=None, description="The best candidate's summed per-shape median time on the run's hardware."
    )
    best_mode: str | None = Field(
        default=None, description="Timing mode of best_time_us: device | interpreter."
    )
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    rounds_done: int = 0
    rounds_total: int | None = Field(default=None, description="From the run's config, when it says.")
    candidates: int = Field(
        default=0, description="Candidates the run produced (not counting inherited ones)."
    )
    correct: int = Field(default=0, description="Of those, how many are correct on the run's hardware.")
    hardware_fingerprint: str | None = None
    hardware_name: str | None = None
    parent_run_id: str | None = Field(default=None, description="For a replay: the run it re-executes.")
    stale: bool = Field(
        default=False, description="Status 'running' but no heartbeat for a while: its writer may be gone."
    )
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None


class RoundPoint(BaseModel):
    """Best speedup (and lowest time) in one round and the best so far (correct candidates only).

    Interpreter-mode evaluations time only the candidate, so they have times but no speedups.
    """

    round_index: int
    candidates: int
    correct: int
    best_speedup: float | None = None
    best_so_far: float | None = None
    best_time_us: float | None = None
    best_time_so_far_us: float | None = None


class LLMCallView(BaseModel):
    """One stored request to a model and its answer."""

    seq: int
    round_index: int | None = None
    role: str
    model: str
    messages: list[dict[str, Any]] = Field(
        default_factory=list, description="The request in chat format (empty unless messages_included)."
    )
    response: str | None = None
    messages_included: bool = Field(
        default=True,
        description="False in lists: fetch /api/runs/{run_id}/llm_calls/{seq} for the messages and answer.",
    )
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    error: str | None = None
    candidate_hash: str | None = Field(default=None, description="The candidate this call produced.")
    run_id: str
    created_at: datetime


class CandidateNode(BaseModel):
    """A candidate within a run: its place in the lineage and its evaluation on the run's hardware."""

    source_hash: str
    parent_hash: str | None = None
    round_index: int
    position: int = 0
    relation: str = Field(description="produced | inherited")
    origin: str
    language: str
    plan_item: str | None = None
    status: str | None = Field(default=None, description="Evaluation status; None when not evaluated.")
    mode: str | None = Field(default=None, description="device | interpreter | none")
    speedup: float | None = None
    time_us: float | None = Field(default=None, description="Summed per-shape median time.")
    message: str = ""


class RunDetail(BaseModel):
    """A run with a page of its candidates and a page of its LLM calls (headers only)."""

    run: RunSummary
    config: dict[str, Any] = Field(default_factory=dict)
    rounds: list[RoundPoint]
    candidates: list[CandidateNode] = Field(description="One page, from candidates_offset.")
    candidates_total: int = 0
    candidates_offset: int = 0
    llm_calls: list[LLMCallView] = Field(description="One page, from llm_calls_offset, without messages.")
    llm_calls_total: int = 0
    llm_calls_offset: int = 0
    replays: list[str] = Field(default_factory=list, description="Runs that replay this one.")


class EvaluationView(BaseModel):
    id: int
    hardware_fingerprint: str
    hardware_name: str | None = None
    evaluator_version: str
    suite: str
    mode: str
    status: str
    message: str = ""
    speedup: float | None = None
    speedup_min: float | None = None
    speedup_max: float | None = None
    run_id: str | None = None
    created_at: datetime
    result: dict[str, Any] = Field(description="The whole EvalResult as stored (timings, correctness, ...).")


class VerdictView(BaseModel):
    run_id: str
    round_index: int | None = None
    bottleneck: str = ""
    feedback: str = ""
    matches_prediction: bool | None = None
    suspicious: bool = False
    verdict: dict[str, Any] = Field(default_factory=dict, description="The whole Verdict as stored.")
    created_at: datetime


class RunLink(BaseModel):
    run_id: str
    round_index: int
    relation: str


class CandidateDetail(BaseModel):
    source_hash: str
    task: str
    language: str
    origin: str
    parent_hash: str | None = None
    parent_known: bool = Field(default=False, description="Whether the parent's source is in the store.")
    plan_item: str | None = None
    source: str
    created_at: datetime
    diff_from_parent: str | None = Field(default=None, description="Unified diff parent -> this source.")
    runs: list[RunLink]
    children: list[str] = Field(description="The first children (children_total says how many there are).")
    children_total: int = 0
    evaluations: list[EvaluationView]
    verdicts: list[VerdictView]
    llm_calls: list[LLMCallView] = Field(
        description="The calls that produced this candidate (see conversation_scope)."
    )
    conversation_scope: str = Field(
        default="none",
        description="candidate: calls linked to this candidate; round: the calls of the round(s) that produced it "
        "(when the store does not link calls to candidates); none: no LLM produced it.",
    )


class LeaderboardEntry(BaseModel):
    source_hash: str
    language: str
    origin: str
    speedup: float | None = None
    time_us: float | None = Field(default=None, description="Summed per-shape median time.")
    evaluator_version: str
    suite: str
    run_id: str | None = None
    created_at: datetime


class HardwareBoard(BaseModel):
    """The best kernels of a task on one hardware, in one timing mode (modes never mix).

    Ranked by speedup where the evaluations have one, else by time (lowest first).
    """

    hardware_fingerprint: str
    hardware_name: str | None = None
    mode: str
    suite: str
    entries: list[LeaderboardEntry]


class TaskDetail(BaseModel):
    name: str
    description: str = ""
    signature: str = ""
    boards: list[HardwareBoard]
    runs: list[RunSummary]
