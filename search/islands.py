"""Islands: separate sub-populations of one task, with elitist selection and ring migration.

Owns: `Island` (its members in the order they joined; `select` keeps the best `capacity` by the
one rank rule, so the island's best always survives: elitism) and `migrate` (every island's best
goes to the next island on the ring, unless that island holds it already). Islands evolve
apart between migrations, which keeps several lines of search alive (OpenEvolve's design).
Does not own: when migration happens (search.engine: every K generations) or storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from warpsmith.search.archive import Member, rank_members


@dataclass
class Island:
    index: int
    capacity: int
    members: list[Member] = field(default_factory=list)
    failures: list[Member] = field(default_factory=list)

    def has(self, source_hash: str) -> bool:
        return any(m.source_hash == source_hash for m in self.members)

    def join(self, member: Member) -> None:
        """A measured candidate joins (failed ones are kept apart, as what to avoid)."""
        if member.ok:
            if not self.has(member.source_hash):
                self.members.append(member)
        else:
            self.failures.append(member)
            del self.failures[:-8]  # a strategy sees only the recent failures

    def ranked(self) -> list[Member]:
        return rank_members(self.members)

    def best(self) -> Member | None:
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def select(self) -> None:
        """Keep the `capacity` best (in the order they joined: the rank rule's incumbents first)."""
        keep = {m.source_hash for m in self.ranked()[: self.capacity]}
        self.members = [m for m in self.members if m.source_hash in keep]

    def drop(self, source_hash: str) -> None:
        self.members = [m for m in self.members if m.source_hash != source_hash]


def migrate(islands: list[Island]) -> list[tuple[int, int, Member]]:
    """Ring migration of elites: island i's best joins island (i+1) % n. Returns (from, to, member)
    for each move made (nothing when there is one island or an island has no correct member)."""
    if len(islands) < 2:
        return []
    bests = [island.best() for island in islands]  # taken before any move: a migrant does not travel on
    moves = []
    for island, best in zip(islands, bests, strict=True):
        target = islands[(island.index + 1) % len(islands)]
        if best is not None and not target.has(best.source_hash):
            target.join(best)
            moves.append((island.index, target.index, best))
    return moves
