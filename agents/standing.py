"""What a run knows about itself between writes: its spend, its seed, the best it last stored.

Owns: the loop's in-memory copy of the run row's counters (cost and tokens, added as each LLM call
is stored; read from the row once when a run is resumed) and of the best it wrote, so that a
progress event and the closing summary cost no SQL beyond the (remembered) beam read. Does not own:
any query (warpsmith.agents.mapping, warpsmith.store) or the loop's order (coordinator.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from warpsmith.agents import ranking
from warpsmith.agents.offline import measured_time_us
from warpsmith.records.agents import CandidateSummary, LLMCall
from warpsmith.records.evaluation import EvalResult
from warpsmith.records.runs import Progress


@dataclass
class Standing:
    """The run row's counters as this process wrote them, and the best it last stored."""

    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    rounds_done: int = 0
    best: tuple[str, float | None] | None = field(default=None)
    """(source hash, speedup) of the best this process stored on the run row; None before any."""

    def spent(self, call: LLMCall) -> None:
        """A stored call's tokens and cost (the store added the same to the run row)."""
        self.cost_usd += call.cost_usd
        self.prompt_tokens += call.prompt_tokens
        self.completion_tokens += call.completion_tokens

    def best_changed(self, best: CandidateSummary | None) -> tuple[str, float | None] | None:
        """The (hash, speedup) to store when `best` differs from what was stored, else None."""
        if best is None:
            return None
        now = (best.candidate.source_hash, best.result.speedup_geomean() if best.result else None)
        return None if now == self.best else now

    def progress(
        self, *, run_id: str, round_index: int, rounds_total: int, evaluated: int, top: CandidateSummary | None,
        seed: CandidateSummary | None, message: str, result: EvalResult | None,
    ) -> Progress:
        return Progress(
            run_id=run_id, round_index=round_index, rounds_total=rounds_total, evaluated=evaluated,
            best_hash=top.candidate.source_hash if top else None,
            best_speedup=top.speedup if top else None,
            best_time_us=measured_time_us(top.result) if top else None,
            mode=top.result.mode if top and top.result else None,
            best_claim=ranking.claim(top, seed) if top else "",
            cost_usd=self.cost_usd, tokens=self.prompt_tokens + self.completion_tokens,
            message=message, result=result,
        )
