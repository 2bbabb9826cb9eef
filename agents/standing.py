"""What a run knows about itself between writes: its spend, its seed, the best it last stored.

Owns: the loop's in-memory copy of the run row's counters (cost and tokens, added as each LLM call
is stored; read from the row once when a run is resumed) and of the best it wrote, so that a
progress event and the closing summary cost no SQL beyond the (remembered) beam read. Does not own:
any query (warpsmith.agents.mapping, warpsmith.store) or the loop's order (warpsmith.search: the generation step).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from warpsmith.agents import ranking
from warpsmith.agents.offline import measured_time_us
from warpsmith.records.agents import CandidateSummary, LLMCall
from warpsmith.records.evaluation import EvalResult
from warpsmith.records.runs import Progress

HEARTBEAT_EVERY_S = 60.0
"""A run's heartbeat is written at most this often when nothing else about the run row changes
(records.vocab.STALE_AFTER, 30 minutes, is what a missing heartbeat costs)."""


@dataclass
class Standing:
    """The run row's counters as this process wrote them, and the best it last stored."""

    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    rounds_done: int = 0
    best: tuple[str, float | None] | None = field(default=None)
    """(source hash, speedup) of the best this process stored on the run row; None before any."""
    beaten_at: float = 0.0
    """time.monotonic() of the last write to the run row by this process."""

    def beat_due(self) -> bool:
        """Whether the heartbeat is due (and, when it is, count it as written now)."""
        now = time.monotonic()
        due = now - self.beaten_at >= HEARTBEAT_EVERY_S
        self.beaten_at = now if due else self.beaten_at
        return due

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
