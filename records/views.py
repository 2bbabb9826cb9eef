"""What the store answers: stored records grouped the way readers ask for them, and the rank key.

Owns: `RunOverview` (a run with its counts), `CandidateInRun` (a candidate as one run saw it,
with the one representative evaluation), `RunContents` (`runs show`'s run), `CandidateDetail`,
`RoundStats`, `RoundBest`, `FilterChoices` and `BoardEntry`; `board_key` (the one ordering of
kernels on a leaderboard) and `representative` (which evaluation stands for a candidate in a
run). Does not own: the queries (warpsmith.store) or the loop's significance ranking (warpsmith.agents.ranking, which needs the
evaluator's statistics). Imports nothing of ours but records.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, Field

from warpsmith.records.evaluation import LanguageName, Mode, Origin
from warpsmith.records.stored import (
    RunLink,
    StoredCandidate,
    StoredEvaluation,
    StoredLLMCall,
    StoredRun,
    StoredVerdict,
)


def board_key(speedup: float | None, time_us: float | None, evaluation_id: int) -> tuple:
    """The one leaderboard order, smallest first: highest speedup; where none was measured (interpreter
    mode) lowest summed time; then the older evaluation. warpsmith.store.listing orders in SQL by
    the same columns (`BOARD_ORDER` there is built from this docstring's rule; a test holds them equal)."""
    return (
        speedup is None,
        -(speedup or 0.0),
        time_us is None,
        time_us if time_us is not None else 0.0,
        evaluation_id,
    )


def representative(
    evaluations: Sequence[StoredEvaluation], run_id: str, hardware_fingerprint: str | None, suite: str | None
) -> StoredEvaluation | None:
    """The evaluation that stands for a candidate in a run: on the run's hardware (else any), the
    run's own measurement first, then the run's suite, then the newest."""
    mine = [e for e in evaluations if e.hardware_fingerprint == hardware_fingerprint] or list(evaluations)
    if not mine:
        return None
    return max(mine, key=lambda e: (e.run_id == run_id, e.suite == suite, e.created_at, e.id))


class RunOverview(StoredRun):
    """A run as listed: the stored run and two counts computed in SQL."""

    candidates: int = Field(default=0, description="Candidates the run produced (not counting inherited ones).")
    correct: int = Field(default=0, description="Of those, how many are correct in an evaluation the run saw.")


class CandidateInRun(BaseModel):
    """A candidate as one run saw it: its link, its evaluations there (oldest first), the one that stands
    for it (`representative`) and the run's verdicts on it."""

    candidate: StoredCandidate
    link: RunLink
    evaluations: list[StoredEvaluation] = Field(default_factory=list)
    evaluation: StoredEvaluation | None = Field(default=None, description="representative(evaluations, ...).")
    verdicts: list[StoredVerdict] = Field(default_factory=list)


class RunContents(BaseModel):
    """A whole run: its row, candidates in (round, position) order, LLM calls in `seq` order."""

    run: StoredRun
    candidates: list[CandidateInRun]
    llm_calls: list[StoredLLMCall]


class CandidateDetail(BaseModel):
    """A candidate with its parent, first children, evaluations, verdicts, the calls that produced it, its runs."""

    candidate: StoredCandidate
    parent: StoredCandidate | None = None
    children: list[str] = Field(description="The first children (children_total says how many there are).")
    children_total: int = 0
    evaluations: list[StoredEvaluation]
    verdicts: list[StoredVerdict]
    llm_calls: list[StoredLLMCall]
    runs: list[RunLink]


class RoundStats(BaseModel):
    """One round of a run, aggregated in SQL over the evaluations the run saw on its hardware."""

    round_index: int
    candidates: int
    correct: int
    best_speedup: float | None = None
    best_time_us: float | None = None


class BoardEntry(BaseModel):
    """One kernel on a task's leaderboard: its best evaluation (board_key) on one (hardware, mode, suite)."""

    hardware_fingerprint: str
    mode: Mode
    suite: str
    rank: int
    source_hash: str
    language: LanguageName
    origin: Origin
    speedup: float | None = None
    time_us: float | None = Field(default=None, description="Summed per-shape median time.")
    evaluator_version: str
    run_id: str | None = None
    created_at: datetime


class RoundBest(BaseModel):
    """One round of a run: its candidates, the correct ones, and its best correct evaluation, whole
    (highest speedup, else lowest time): what a live chart's interval needs."""

    round_index: int
    candidates: int
    correct: int
    best: StoredEvaluation | None = None


class FilterChoices(BaseModel):
    """The values each runs-list filter can take in a store."""

    tasks: list[str]
    statuses: list[str]
    strategies: list[str]
    hardware: list[tuple[str, str]] = Field(description="(fingerprint, device name)")
