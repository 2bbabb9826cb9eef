"""How a round spreads its slots: exploit, a different algorithm, a crossover, a port.

Owns: `slot_kinds` (the kind each of a round's `width` slots asks the planner for) and
`crossover_parents` (the two parents a crossover slot suggests: the best on the launch-bound
shapes and the best on the bandwidth-bound ones, by measured device time; under the
interpreter, where times are never compared, the two best of the beam). Does not own: the
planner's prompt (planner.py) or what the coder does with a kind (coder.py).

Rule: with width >= 2, the last slot asks for a new algorithm; from round 2 (there is a
history to combine) and with two parents in the beam, the slot before it asks for a crossover;
when the user allowed other languages (--lang) and width >= 4, one slot asks for a port. The
rest exploit (refine the parent). A single-slot round only exploits.
"""

from __future__ import annotations

from warpsmith.records.agents import CandidateSummary, PlanKind, ShapeBrief


def slot_kinds(round_index: int, width: int, beam_size: int, may_port: bool = False) -> list[PlanKind]:
    kinds: list[PlanKind] = ["exploit"] * max(1, width)
    if width >= 2:
        kinds[-1] = "new_algorithm"
    if width >= 3 and round_index >= 2 and beam_size >= 2:
        kinds[-2] = "crossover"
    if may_port and width >= 4:
        kinds[1] = "port"
    return kinds


def _best_on(beam: list[CandidateSummary], labels: set[str]) -> str | None:
    best, best_time = None, float("inf")
    for summary in beam:
        result = summary.result
        if result is None or not result.ok or result.mode != "device":
            continue
        times = [t.median_us for t in result.timings if t.shape in labels and t.median_us > 0]
        if len(times) == len(labels) and labels and sum(times) < best_time:
            best, best_time = summary.candidate.source_hash, sum(times)
    return best


BY_REGIME = "the best on launch-bound shapes with the best on bandwidth-bound ones"
TWO_BEST = "the two best so far"


def crossover_parents(beam: list[CandidateSummary], briefs: list[ShapeBrief]) -> tuple[str, str, str] | None:
    """(best on launch-bound shapes, best on bandwidth-bound shapes, BY_REGIME), or the beam's two
    best with TWO_BEST (no device times to tell the regimes apart, or one kernel best at both)."""
    small = _best_on(beam, {b.label for b in briefs if b.regime == "launch-bound"})
    large = _best_on(beam, {b.label for b in briefs if b.regime == "bandwidth-bound"})
    if small and large and small != large:
        return small, large, BY_REGIME
    hashes = [s.candidate.source_hash for s in beam]
    return (hashes[0], hashes[1], TWO_BEST) if len(hashes) >= 2 else None
