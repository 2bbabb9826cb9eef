"""The agents' records: `Plan`, `Verdict`, `LLMCall`, `Lesson` and what the loop hands a strategy.

Owns: the pydantic models produced by the planner, coder, judge and the LLM client, the
round context a strategy reads, and a stored lesson. Does not own: candidates and
evaluation results (warpsmith.records.evaluation), what the store adds to a stored record
(warpsmith.records.stored) or the agents themselves (warpsmith.agents).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from warpsmith.records.evaluation import Candidate, EvalResult, Hardware, LanguageName

Role = Literal["planner", "coder", "judge", "repair"]
PlanKind = Literal["exploit", "new_algorithm", "crossover", "port"]
Regime = Literal["launch-bound", "bandwidth-bound"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class LLMCall(BaseModel):
    """One request to a model and what came back (also when nothing usable came back)."""

    role: Role
    model: str
    messages: list[dict[str, Any]] = Field(description="The full request, in chat format.")
    response: str | None = Field(default=None, description="The raw text answer, None on failure.")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    error: str | None = Field(default=None, description="Why the call failed or its answer was unusable.")
    attempt: int = Field(default=1, description="1 for the first try of a request, 2.. for its retries.")
    truncated: bool = Field(default=False, description="The answer was cut off at max_tokens (finish_reason 'length').")
    replayed: bool = Field(default=False, description="Served from a stored run, not by a model.")
    created_at: datetime = Field(default_factory=utcnow)


class PlanItem(BaseModel):
    """One optimization idea."""

    idea: str = Field(description="What to change, concretely (e.g. 'vectorize loads to 16 bytes').")
    parent_hash: str | None = Field(default=None, description="The candidate to start from; None = best.")
    predicted_effect: str = Field(default="", description="What the planner expects, e.g. '1.3x on large T'.")
    rationale: str = ""
    kind: PlanKind = Field(default="exploit", description="exploit: refine the parent; new_algorithm: another "
                           "algorithm; crossover: combine parent_hash with second_parent_hash; port: another language.")
    second_parent_hash: str | None = Field(default=None, description="crossover: the other parent to take from.")


class Plan(BaseModel):
    """The planner's answer: a few ranked ideas, best first."""

    items: list[PlanItem]
    notes: str = ""


class Verdict(BaseModel):
    """The judge's reading of one evaluated candidate."""

    source_hash: str
    bottleneck: str = Field(default="", description="What limits this kernel now (memory, latency, ...).")
    matches_prediction: bool | None = None
    feedback: str = Field(default="", description="What the next round should try or avoid.")
    lessons: list[str] = Field(default_factory=list, description="Durable lessons for later runs.")
    suspicious: bool = Field(default=False, description="True when the result looks like cheating.")
    suspicion_reason: str = ""
    confirmation: Literal["held", "failed"] | None = Field(
        default=None,
        description="Set by the loop, never by a model: how a confirming re-evaluation of a doubtful "
        "result ended. 'held' keeps a suspicious kernel in the beam; 'failed' takes it out.",
    )


class ShapeBrief(BaseModel):
    """One measured shape as a model reads it: its dimensions, the least work and the floor time."""

    label: str
    dims: dict[str, int | float] = Field(default_factory=dict)
    bytes: int = Field(default=0, description="Fewest bytes read plus written (task.cost).")
    flops: int = 0
    floor_us: float | None = Field(default=None, description="bytes / peak bandwidth (None without a bandwidth).")
    regime: Regime = "bandwidth-bound"


class Attempt(BaseModel):
    """One candidate this run tried, as the planner remembers it."""

    source_hash: str
    round_index: int
    parent_hash: str | None = None
    idea: str = ""
    status: str = "not evaluated"
    change: dict[str, str] = Field(default_factory=dict,
                                   description="Per regime: the time ratio vs the parent ('1.12x faster', ...).")
    bottleneck: str = ""
    verdict: str = Field(default="", description="The judge's feedback on it (empty: none).")
    matches_prediction: bool | None = None


class CandidateSummary(BaseModel):
    """What a strategy sees of a stored candidate."""

    candidate: Candidate
    result: EvalResult | None = None
    verdict: Verdict | None = None

    @property
    def speedup(self) -> float | None:
        return self.result.speedup_geomean() if self.result and self.result.ok else None


class RoundContext(BaseModel):
    """Everything the loop tells a strategy at the start of a round."""

    task_name: str
    task_description: str
    task_signature: str
    language: LanguageName
    hardware: Hardware
    round_index: int
    rounds_total: int
    width: int = Field(description="How many new candidates this round should produce.")
    beam: list[CandidateSummary] = Field(description="Best correct candidates so far, best first.")
    failures: list[CandidateSummary] = Field(default_factory=list, description="Recent failed candidates.")
    lessons: list[str] = Field(default_factory=list, description="Lessons stored by earlier runs.")
    feedback: list[str] = Field(default_factory=list, description="The judge's notes from the last round.")
    allowed_torch_ops: list[str] = Field(
        default_factory=list, description="Torch calls a candidate may make (task.allowed_torch_ops); empty = unknown."
    )
    attempts: list[Attempt] = Field(default_factory=list, description="What this run tried so far, oldest first.")
    reference_source: str = Field(default="", description="The task's PyTorch reference (the objective).")
    shapes: list[ShapeBrief] = Field(default_factory=list, description="The measured shapes with their floors.")
    kinds: list[PlanKind] = Field(default_factory=list,
                                  description="The kind of each slot this round (exploration); empty = all exploit.")
    crossover_pair: list[str] = Field(default_factory=list, description="The two parents a crossover slot "
                                      "suggests (best on launch-bound shapes, best on bandwidth-bound ones).")
    crossover_reason: str = Field(default="", description="Why those two (exploration.crossover_parents).")
    languages: list[str] = Field(default_factory=list,
                                 description="Languages a 'port' item may switch to (--lang); empty = none.")
    known_hashes: list[str] = Field(
        default_factory=list,
        description="Source hashes already evaluated for this task, hardware and suite (any run): "
        "proposing one again wastes a slot, the loop reuses its stored result.",
    )


class Lesson(BaseModel):
    """A durable lesson a judge distilled, stored for later runs on the same task and hardware."""

    task: str
    hardware_fingerprint: str
    text: str
    source_run_id: str | None = Field(default=None, description="The run whose judge wrote it.")
    created_at: datetime = Field(default_factory=utcnow)
