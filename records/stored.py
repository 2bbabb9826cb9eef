"""What the store keeps of each record: the record itself plus the keys the store gave it.

Owns: `StoredRun`, `StoredCandidate`, `StoredEvaluation`, `StoredVerdict`, `StoredLLMCall` and
`RunLink`: typed shapes the store returns (built from its rows with `from_attributes`), which the
CLI and the dashboard compose into views without re-declaring a field. A column the store left
unloaded on purpose (a page of thousands of candidates never reads their sources) is None, and
says so. Does not own: the tables (warpsmith.store.schema) or any query. Imports nothing of ours
but records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from warpsmith.records.agents import LLMCall, Verdict
from warpsmith.records.evaluation import Candidate, EvalResult, LanguageName, Mode, Origin, Status
from warpsmith.records.vocab import Relation, RunStatus, Stage


class _Stored(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class StoredRun(_Stored):
    """One run as stored: what it was asked (config: the whole RunSettings) and how far it got."""

    id: str
    task: str
    language: LanguageName
    strategy: str = Field(description="The strategy's name: offline | llm | replay | evolve ... (an open list).")
    model: str | None = None
    status: RunStatus
    status_message: str = ""
    config: dict[str, Any] = Field(default_factory=dict, description="The run's settings as stored.")
    hardware_fingerprint: str | None = None
    parent_run_id: str | None = Field(default=None, description="For a replay: the run it re-executes.")
    created_at: datetime
    updated_at: datetime = Field(description="The heartbeat: bumped by every step of the writer.")
    finished_at: datetime | None = None
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    rounds_done: int = 0
    best_candidate_hash: str | None = None
    best_speedup: float | None = Field(default=None, description="Geometric mean over timed shapes, best candidate.")
    host: str | None = None
    pid: int | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rounds_total(self) -> int | None:
        rounds = self.config.get("rounds")
        return rounds if isinstance(rounds, int) else None

    @property
    def suite(self) -> str | None:
        suite = self.config.get("suite")
        return suite if isinstance(suite, str) else None


class StoredTask(_Stored):
    """A task as the store knows it: its identity and what agents were told (its behaviour lives in tasklib)."""

    name: str
    description: str = ""
    signature: str = ""
    created_at: datetime


class StoredCandidate(_Stored):
    """A kernel as stored, content-addressed by its source hash (under the task and origin it first came with)."""

    source_hash: str
    task: str
    language: LanguageName
    source: str | None = Field(default=None, description="None when the query left it unloaded (lists).")
    parent_hash: str | None = None
    origin: Origin
    plan_item: str | None = None
    created_at: datetime

    def candidate(self) -> Candidate:
        """The Candidate record (the source must have been loaded)."""
        if self.source is None:
            raise ValueError(f"candidate {self.source_hash[:12]} was read without its source")
        return Candidate(
            task=self.task, language=self.language, source=self.source, parent_hash=self.parent_hash,
            origin=self.origin, plan_item=self.plan_item,
        )


class StoredEvaluation(_Stored):
    """One evaluation (history: appended, never updated) with the key columns the store queries."""

    id: int
    source_hash: str
    hardware_fingerprint: str
    evaluator_version: str
    suite: str
    task_definition_hash: str | None = None
    stage: Stage = "full"
    mode: Mode
    status: Status
    message: str = ""
    speedup: float | None = Field(default=None, description="Geometric mean over the timed shapes.")
    speedup_min: float | None = None
    speedup_max: float | None = None
    median_us_total: float | None = Field(default=None, description="Sum of per-shape medians.")
    result: EvalResult | None = Field(default=None, description="The whole EvalResult; None when left unloaded.")
    run_id: str | None = Field(default=None, description="The run that measured it.")
    created_at: datetime


class StoredAttempt(BaseModel):
    """One candidate a run produced, as its attempt history reads it: the round, the candidate, its
    newest evaluation on the run's hardware, its parent's, and the run's newest verdict on it."""

    round_index: int
    candidate: StoredCandidate
    evaluation: StoredEvaluation | None = None
    parent_evaluation: StoredEvaluation | None = None
    verdict: Verdict | None = None


class StoredVerdict(_Stored):
    """A judge's verdict as stored: the record, the run and round that asked for it."""

    run_id: str
    round_index: int | None = None
    verdict: Verdict
    created_at: datetime


class StoredLLMCall(LLMCall):
    """An LLM call as stored: the record plus its place in the run (`seq` orders a run's calls)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    run_id: str
    seq: int
    round_index: int | None = None
    candidate_hash: str | None = Field(default=None, description="The candidate this call's answer produced.")
    messages_included: bool = Field(
        default=True, description="False when the query left messages and response unloaded (lists)."
    )


class RunLink(_Stored):
    """A run's hold on a candidate: in which round, at which place, made or inherited."""

    run_id: str
    source_hash: str
    round_index: int
    position: int = 0
    relation: Relation
    created_at: datetime
