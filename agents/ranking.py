"""The one rule for "best": correct first, then faster only beyond the interval.

Owns: `rank` (correct candidates in the order they were first measured -> best first),
`displaces` (does a challenger take the incumbent's place), why a result does not compete
(`unranked_reason`, `noisy_shapes`), and the line that says how the best stands (`claim`).
Every place in warpsmith.agents that picks a best (mapping.best_correct, the offline
strategy, re-evaluation, the loop's progress and summary) goes through here.
Does not own: the statistics (warpsmith.evaluator.stats), the store query
(mapping.best_correct), suspicion and confirmation (warpsmith.agents.scrutiny) or measuring
again (warpsmith.agents.measure).

Rules
- Only correct results of the full stage compete; noisy ones (the evaluator's flag, or on a
  device an interquartile range above the threshold) are kept after every ranked one, in
  their order, and never named a winner.
- The first measured candidate is the incumbent; a later one displaces it only when
  stats.compare_timings over their common shapes says 'faster' (the whole interval beyond
  2%). 'same' keeps the incumbent, and so does no comparison at all (no per-rep samples,
  different timing methods). The rest of the beam is ranked the same way, one place at a time.
- The CPU interpreter gets the same rule, no exception: its few wall-clock reps give an
  unbounded interval ('same'), so the seed stays best unless significance says otherwise,
  and `claim` then says it is interpreter wall clock.
"""

from __future__ import annotations

import hashlib
import math
import statistics
import struct
from collections.abc import Sequence

from warpsmith.evaluator import stats
from warpsmith.records.agents import CandidateSummary
from warpsmith.records.evaluation import Comparison, EvalResult

_COMPARISONS: dict[tuple[str, str, str], Comparison | None] = {}
_CACHE_LIMIT = 4096  # comparisons are pure functions of the samples: remembered, the loop ranks often


def noisy_shapes(result: EvalResult) -> list[str]:
    """Shapes whose timing is too noisy to rank on."""
    return [
        t.shape
        for t in result.timings
        if t.noisy or (result.mode == "device" and t.samples_us and stats.is_noisy(t.samples_us))
    ]


def unranked_reason(result: EvalResult | None) -> str:
    """Why this result cannot be named best ('' when it competes)."""
    if result is None or not result.ok:
        return "not correct"
    if result.stage != "full":
        return "screened only"
    noisy = noisy_shapes(result)
    if noisy:
        return "noisy timings (" + ", ".join(noisy[:3]) + (", ..." if len(noisy) > 3 else "") + ")"
    return ""


_DIGESTS: dict[int, tuple[EvalResult, str]] = {}  # id -> (the result, kept alive so the id is not reused; digest)


def _digest(result: EvalResult) -> str:
    """The comparison cache's key for a result: its samples' digest, computed once per result object."""
    entry = _DIGESTS.get(id(result))
    if entry is not None and entry[0] is result:
        return entry[1]
    if len(_DIGESTS) >= _CACHE_LIMIT:
        _DIGESTS.clear()
    digest = _sample_digest(result)
    _DIGESTS[id(result)] = (result, digest)
    return digest


def _sample_digest(result: EvalResult) -> str:
    digest = hashlib.sha256(f"{result.source_hash}|{result.mode}|{result.stage}".encode())
    for t in result.timings:
        digest.update(f"|{t.shape}|{t.method}|".encode())
        digest.update(struct.pack(f"<{len(t.samples_us)}d", *t.samples_us))
    return digest.hexdigest()


def compare(candidate: EvalResult, baseline: EvalResult, name: str) -> Comparison | None:
    """stats.compare_timings of two results (None: no common shape timed with samples the same way)."""
    key = (_digest(candidate), _digest(baseline), name)
    if key not in _COMPARISONS:
        if len(_COMPARISONS) >= _CACHE_LIMIT:
            _COMPARISONS.clear()
        _COMPARISONS[key] = stats.compare_timings(candidate.timings, baseline.timings, name)
    return _COMPARISONS[key]


def _point_ratio(candidate: EvalResult, baseline: EvalResult) -> float | None:
    """Geometric mean of median ratios over the shapes compare_timings would pair (no bootstrap)."""
    base = {t.shape: t for t in baseline.timings}
    logs = [
        math.log(statistics.median(base[t.shape].samples_us) / statistics.median(t.samples_us))
        for t in candidate.timings
        if t.shape in base and t.samples_us and base[t.shape].samples_us and t.method == base[t.shape].method
    ]
    return math.exp(statistics.fmean(logs)) if logs else None


def displaces(challenger: EvalResult | None, incumbent: EvalResult | None) -> bool:
    """True when `challenger` takes the place of `incumbent`: it competes and is 'faster' beyond the interval.

    A competing result displaces one that does not compete (failed, screened only, noisy)."""
    if unranked_reason(challenger):
        return False
    if unranked_reason(incumbent):
        return True
    assert challenger is not None and incumbent is not None
    ratio = _point_ratio(challenger, incumbent)
    # 'faster' needs the whole interval above 1 + MIN_EFFECT; a median ratio below that never gets
    # there, so the bootstrap (the expensive part) runs only for a plausible winner.
    if ratio is None or ratio <= 1.0 + stats.MIN_EFFECT:
        return False
    comparison = compare(challenger, incumbent, "incumbent")
    return comparison is not None and comparison.verdict == "faster"


def rank(summaries: Sequence[CandidateSummary]) -> list[CandidateSummary]:
    """`summaries` in the order they were first measured (the incumbent first) -> best first.

    Competing results by repeated king of the hill (each place goes to the earliest remaining
    candidate unless a later one is significantly faster than the holder), then correct ones
    that do not compete (noisy, screened only) in their order, then the rest."""
    competing = [s for s in summaries if not unranked_reason(s.result)]
    ordered: list[CandidateSummary] = []
    while competing:
        holder = competing[0]
        for challenger in competing[1:]:
            if displaces(challenger.result, holder.result):
                holder = challenger
        ordered.append(holder)
        competing.remove(holder)
    chosen = {id(s) for s in ordered}
    kept = [s for s in summaries if id(s) not in chosen and s.result is not None and s.result.ok]
    rest = [s for s in summaries if id(s) not in chosen and not (s.result is not None and s.result.ok)]
    return ordered + kept + rest


# --- what a person reads -----------------------------------------------------------------
def vs_eager(result: EvalResult) -> tuple[float, float, float] | None:
    """Speedup over eager PyTorch with its bounds: per-shape intervals, geometric mean over shapes."""
    found = [c for t in result.timings for c in t.comparisons if c.baseline == "eager"]
    if not found:
        return None

    def geomean(values: list[float]) -> float:
        if any(v <= 0 or math.isinf(v) for v in values):
            return math.inf if any(math.isinf(v) for v in values) else 0.0
        return math.exp(statistics.fmean(math.log(v) for v in values))

    return geomean([c.ratio for c in found]), geomean([c.low for c in found]), geomean([c.high for c in found])


def _interval(low: float, high: float) -> str:
    if low <= 0.0 and math.isinf(high):
        return "[no interval]"
    return f"[{low:.3g}, {high:.3g}]"


def claim(best: CandidateSummary | None, seed: CandidateSummary | None) -> str:
    """One line: how the best stands against eager PyTorch and against the seed, with intervals."""
    if best is None or best.result is None or not best.result.ok:
        return "no correct kernel"
    result = best.result
    if result.mode == "none" or not result.timings:
        return "not timed: correctness only"
    is_seed = seed is not None and seed.candidate.source_hash == best.candidate.source_hash
    base = seed.result if seed is not None and seed.result is not None and seed.result.ok else None
    versus = None if is_seed or base is None else compare(result, base, "seed")
    noisy = unranked_reason(result)
    suffix = f"; {noisy}: not ranked" if noisy.startswith("noisy") else ""
    if result.mode == "interpreter":
        if versus is not None and versus.verdict == "faster":
            return (f"{versus.ratio:.3g}x {_interval(versus.low, versus.high)} vs seed on interpreter "
                    f"wall clock (not a GPU timing), faster{suffix}")
        return "interpreter: wall clock not comparable; correctness only" + suffix
    eager = vs_eager(result)
    if eager is not None:
        head = f"{eager[0]:.3g}x {_interval(eager[1], eager[2])} vs eager"
    elif result.speedup_geomean() is not None:
        head = f"{result.speedup_geomean():.3g}x vs eager (no interval)"
    else:
        head = "no eager reference"
    if is_seed:
        return f"{head}, seed; no candidate beat the seed (all within noise){suffix}"
    if base is None:
        return f"{head}; the seed has no correct result to compare with{suffix}"
    if versus is None:
        return f"{head}; no interval vs seed (no per-rep samples){suffix}"
    words = {"faster": "faster than seed", "same": "same as seed (within noise)", "slower": "slower than seed"}
    return f"{head}, {words[versus.verdict]} {versus.ratio:.3g}x {_interval(versus.low, versus.high)}{suffix}"
