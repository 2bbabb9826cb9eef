"""A MAP-Elites archive for one task: one elite per cell of measured features.

Owns: `Member` (a candidate with its result, kind and cell) and `Archive` (cell -> elite; a
challenger takes a cell only by the one rank rule, warpsmith.agents.ranking.displaces: correct,
full-stage, not noisy, and significantly faster than the incumbent; the first correct result of
a cell holds it otherwise). Only correct candidates not excluded by a failed confirmation enter.
Does not own: computing cells (search.features), islands (search.islands) or storage.
"""

from __future__ import annotations

from dataclasses import dataclass

from warpsmith.agents import ranking
from warpsmith.records.agents import CandidateSummary
from warpsmith.records.evaluation import Candidate, EvalResult


@dataclass
class Member:
    candidate: Candidate
    result: EvalResult | None = None
    kind: str = ""
    cell: str | None = None
    floor_fraction: float | None = None

    @property
    def source_hash(self) -> str:
        return self.candidate.source_hash

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok

    def summary(self) -> CandidateSummary:
        return CandidateSummary(candidate=self.candidate, result=self.result)


def rank_members(members: list[Member]) -> list[Member]:
    """`members` (in the order they were first measured) best first, by ranking.rank."""
    summaries = [m.summary() for m in members]
    order = {id(s): m for s, m in zip(summaries, members, strict=True)}
    return [order[id(s)] for s in ranking.rank(summaries)]


class Archive:
    """cell -> elite for one task."""

    def __init__(self) -> None:
        self.cells: dict[str, Member] = {}

    def offer(self, member: Member) -> bool:
        """Put `member` into its cell when it is the cell's first correct result or displaces the elite."""
        if not member.ok or member.cell is None or member.result is None or member.result.stage != "full":
            return False
        incumbent = self.cells.get(member.cell)
        if incumbent is not None and incumbent.source_hash == member.source_hash:
            self.cells[member.cell] = member  # the same kernel, measured again: the newest result counts
            return False
        if incumbent is None or ranking.displaces(member.result, incumbent.result):
            self.cells[member.cell] = member
            return True
        return False

    def remove(self, source_hash: str) -> None:
        """Take a kernel out (its confirmation failed after it entered)."""
        self.cells = {c: m for c, m in self.cells.items() if m.source_hash != source_hash}

    def elites(self) -> list[Member]:
        """Every cell's elite, best first by the rank rule (cells in the order they were filled)."""
        return rank_members(list(self.cells.values()))

    def best(self) -> Member | None:
        elites = self.elites()
        return elites[0] if elites else None
