"""One task's population in an evolution run: its islands, its archive, its novelty filter.

Owns: `TaskPopulation`: turning a proposed candidate into a `Member` (its kind from the plan,
search.kinds), rejecting near-duplicates before they are evaluated (search.novelty), taking a
measured member in (its cell from measured features, search.features; its island; the archive),
and the `RoundContext` a strategy gets for one island: parents are the island's best (ranked by
the one rule), inspirations are archive elites of other cells, failures are the island's recent
failures. Does not own: proposing (the strategies in warpsmith.agents), evaluating (search.batch)
or writing (search.writer).
"""

from __future__ import annotations

from warpsmith.records.agents import CandidateSummary, RoundContext
from warpsmith.records.evaluation import Candidate, EvalResult, Hardware
from warpsmith.search.archive import Archive, Member
from warpsmith.search.features import features_of, shape_bytes
from warpsmith.search.islands import Island
from warpsmith.search.kinds import kind_of
from warpsmith.search.novelty import NoveltyFilter
from warpsmith.search.settings import EvolveSettings
from warpsmith.tasklib.base import Task


class TaskPopulation:
    def __init__(self, task: Task, settings: EvolveSettings) -> None:
        self.task, self.settings = task, settings
        self.islands = [Island(index=i, capacity=settings.population) for i in range(settings.islands)]
        self.archive = Archive()
        self.novelty = NoveltyFilter(settings.novelty_threshold)
        self.kinds: dict[str, str] = {}
        self.sizes = shape_bytes(task, settings.suite)
        self.rejected = 0
        self.evaluated = 0
        self.feedback: dict[int, list[str]] = {}
        self.briefs: list = []
        """The task's shapes with their floors (agents.memory.shape_briefs): a verdict's evidence."""

    # --- candidates in -----------------------------------------------------------------
    def member(self, candidate: Candidate, kind: str | None = None) -> Member:
        """A Member for a candidate; its kind from the plan item and its parent's kind (search.kinds)."""
        if kind is None:
            kind = self.kinds.get(candidate.source_hash) or kind_of(candidate, self.kinds.get(candidate.parent_hash or ""))
        self.kinds.setdefault(candidate.source_hash, kind)
        self.novelty.add(candidate.source, candidate.language, candidate.source_hash)
        return Member(candidate=candidate, kind=kind)

    def near_duplicate(self, candidate: Candidate) -> str | None:
        """The known source this proposal nearly duplicates (None: novel; always None with a threshold over 1,
        as `optimize` runs: every proposal is stored and a known kernel served from the evaluation cache)."""
        if self.settings.novelty_threshold > 1:
            return None
        return self.novelty.near_duplicate(candidate.source, candidate.language)

    def known(self, source_hash: str) -> Member | None:
        """The measured member with this source, if the population holds it (islands, failures, archive)."""
        for island in self.islands:
            for m in [*island.members, *island.failures]:
                if m.source_hash == source_hash:
                    return m
        return next((m for m in self.archive.cells.values() if m.source_hash == source_hash), None)

    def measured(self, member: Member, result: EvalResult, island: int | None, excluded: bool = False) -> None:
        """Take a measured member in: its cell, its island (None: every island) and the archive."""
        features = features_of(result, member.kind, self.sizes)
        member.result, member.cell, member.floor_fraction = result, features.cell, features.floor_fraction
        targets = self.islands if island is None else [self.islands[island]]
        if excluded:  # its confirmation failed (or a suspicion stayed unsettled): never a parent, never an elite
            for target in targets:
                target.failures.append(member)
            return
        for target in targets:
            target.join(member)
        self.archive.offer(member)

    def exclude(self, source_hash: str) -> None:
        self.archive.remove(source_hash)
        for island in self.islands:
            island.drop(source_hash)

    # --- what a strategy sees ------------------------------------------------------------
    def context(self, island: int, generation: int, hardware: Hardware, lessons: list[str],
                known: list[str]) -> RoundContext:
        home = self.islands[island]
        parents = home.ranked()
        inspirations = [m for m in self.archive.elites() if not home.has(m.source_hash)]
        beam = (parents + inspirations)[: self.settings.beam_size]
        return RoundContext(
            task_name=self.task.name,
            task_description=self.task.description,
            task_signature=self.task.signature,
            language=self.settings.language,  # type: ignore[arg-type]
            hardware=hardware,
            round_index=generation,
            rounds_total=self.settings.generations,
            width=self.settings.population,
            beam=[m.summary() for m in beam],
            failures=[CandidateSummary(candidate=m.candidate, result=m.result) for m in home.failures],
            lessons=lessons,
            feedback=self.feedback.get(island, []),
            known_hashes=known,
            allowed_torch_ops=sorted(self.task.allowed_torch_ops),
        )

    def best(self) -> Member | None:
        """The task's best: the archive's best elite, else the best member of any island."""
        best = self.archive.best()
        if best is not None:
            return best
        bests = [m for island in self.islands if (m := island.best()) is not None]
        return bests[0] if bests else None
