"""When a run stops early: a target fraction of the bytes floor, or rounds without a significant gain.

Owns: `StopRules` (the rules a run runs under, stated in words for its summary, and the check
after each round). Does not own: ranking (the best changes only when a candidate is
significantly faster: warpsmith.agents.ranking) or the floor (memory.floor_fraction).

Under the Triton interpreter no time is compared, so the floor rule never fires there and the
patience rule counts rounds in which the best did not change (which is every round).
"""

from __future__ import annotations

from warpsmith.agents.memory import floor_fraction
from warpsmith.records.agents import CandidateSummary, ShapeBrief


class StopRules:
    def __init__(self, target_floor: float | None, patience: int | None, unit: str = "round") -> None:
        """`unit`: what one step is called in the words (optimize's 'round', evolve's 'generation')."""
        self.target_floor, self.patience, self.unit = target_floor, patience, unit
        self.best_hash: str | None = None
        self.quiet_rounds = 0

    def describe(self) -> str:
        rules = []
        if self.target_floor is not None:
            rules.append(f"stop at {self.target_floor:.0%} of the bytes floor on the bandwidth-bound shapes")
        if self.patience is not None:
            rules.append(f"stop after {self.patience} {self.unit}(s) without a significant gain")
        return "; ".join(rules)

    def start(self, best: CandidateSummary | None) -> None:
        self.best_hash = best.candidate.source_hash if best else None

    def after_round(self, round_index: int, best: CandidateSummary | None, briefs: list[ShapeBrief]) -> str:
        """Why the run stops after this round ('' to go on)."""
        best_hash = best.candidate.source_hash if best else None
        self.quiet_rounds = 0 if best_hash != self.best_hash else self.quiet_rounds + 1
        self.best_hash = best_hash
        if self.target_floor is not None and best is not None:
            reached = floor_fraction(best.result, briefs)
            if reached is not None and reached >= self.target_floor:
                return (f"stopped after {self.unit} {round_index}: the best reaches {reached:.0%} of the bytes floor on "
                        f"the bandwidth-bound shapes (target {self.target_floor:.0%})")
        if self.patience is not None and self.quiet_rounds >= self.patience:
            return (f"stopped after {self.unit} {round_index}: {self.quiet_rounds} {self.unit}(s) without a significant gain "
                    f"(patience {self.patience})")
        return ""
