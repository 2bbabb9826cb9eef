"""What the dashboard shows: stored records (warpsmith.records) composed into pages and API answers.

Owns: the page-level shapes (a run page, a candidate page, a task's boards) and the fields that
exist for display only (a hardware's name, whether a run looks stale, the best so far per round,
the diff against a parent). Every other field comes from a record, never re-declared here: a view
wraps a record or extends it, so a renamed record field fails where it is read. Does not own: the
records (warpsmith.records) or the queries that fill these (queries.py, candidates.py, leaderboard.py).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from warpsmith.records.stored import RunLink, StoredCandidate, StoredEvaluation, StoredLLMCall, StoredVerdict
from warpsmith.records.views import BoardEntry, CandidateInRun, RoundStats, RunOverview

CandidateNode = CandidateInRun
"""A candidate within a run (the lineage's node): its link, its evaluations there and the representative one."""


class RunSummary(RunOverview):
    """One run, as listed: the stored run with its counts, and what the list shows beside them."""

    best_time_us: float | None = Field(
        default=None, description="The best candidate's summed per-shape median time on the run's hardware."
    )
    best_mode: str | None = Field(default=None, description="Timing mode of best_time_us: device | interpreter.")
    hardware_name: str | None = None
    stale: bool = Field(
        default=False, description="Status 'running' but no heartbeat for a while (records.vocab.STALE_AFTER)."
    )


class RoundPoint(RoundStats):
    """One round's numbers and the best so far (correct candidates only; interpreter mode: times only)."""

    best_so_far: float | None = None
    best_time_so_far_us: float | None = None


class LLMCallView(StoredLLMCall):
    """One stored request to a model and its answer, as the API serves it (the stored record, whole)."""


class RunDetail(BaseModel):
    """A run with a page of its candidates and a page of its LLM calls (headers only)."""

    run: RunSummary
    rounds: list[RoundPoint]
    candidates: list[CandidateNode] = Field(description="One page, from candidates_offset.")
    candidates_total: int = 0
    candidates_offset: int = 0
    llm_calls: list[LLMCallView] = Field(description="One page, from llm_calls_offset, without messages.")
    llm_calls_total: int = 0
    llm_calls_offset: int = 0
    replays: list[str] = Field(default_factory=list, description="Runs that replay this one.")

    @property
    def config(self) -> dict[str, Any]:
        return self.run.config


class EvaluationView(StoredEvaluation):
    """An evaluation with the name of the hardware it ran on."""

    hardware_name: str | None = None


class CandidateDetail(BaseModel):
    """The candidate page: the stored candidate and what surrounds it."""

    candidate: StoredCandidate
    parent_known: bool = Field(default=False, description="Whether the parent's source is in the store.")
    diff_from_parent: str | None = Field(default=None, description="Unified diff parent -> this source.")
    runs: list[RunLink]
    children: list[str] = Field(description="The first children (children_total says how many there are).")
    children_total: int = 0
    evaluations: list[EvaluationView]
    verdicts: list[StoredVerdict]
    llm_calls: list[LLMCallView] = Field(description="The calls that produced this candidate (see conversation_scope).")
    conversation_scope: str = Field(
        default="none",
        description="candidate: calls linked to this candidate; round: the calls of the round(s) that produced it "
        "(when the store does not link calls to candidates); none: no LLM produced it.",
    )


LeaderboardEntry = BoardEntry


class HardwareBoard(BaseModel):
    """The best kernels of a task on one hardware, in one timing mode (modes never mix), in board_key order."""

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
