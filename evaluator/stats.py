"""Statistics a kernel engineer accepts: intervals on speed ratios, and a verdict only beyond them.

Owns: the comparison of two sets of per-rep times (a candidate and a baseline on one shape),
and of two evaluations over their common shapes (geometric mean of per-shape ratios), as a
`Comparison` with a percentile-bootstrap interval; the noise rule for one set of samples.
Does not own: measuring (timing.py) or deciding what to do with a verdict (the search).

Why the bootstrap: per-rep GPU times are skewed (a few slow reps from clocks or contention),
so a normal interval on the mean is wrong, and the median has no closed-form interval.
Resampling each side's reps and taking the ratio of medians gives an interval that holds
without assuming a distribution. The resampler is seeded from the data, so one set of
samples always gives the same interval (results are reproducible and cacheable).

A verdict is 'faster' only when the whole interval lies above 1 + MIN_EFFECT (and 'slower'
only when below 1 / (1 + MIN_EFFECT)): a real but tiny difference is 'same', because a 1%
difference does not survive a reboot, another input or a driver update.
"""

from __future__ import annotations

import hashlib
import math
import random
import statistics
import struct
from collections.abc import Sequence

from warpsmith.records.evaluation import Comparison, ShapeTiming, SpeedVerdict

CONFIDENCE = 0.95
MIN_EFFECT = 0.02  # differences under 2% are 'same' whatever the interval says
RESAMPLES = 1000
NOISE_IQR_FRACTION = 0.10  # interquartile range above 10% of the median: too noisy to rank on
MIN_SAMPLES = 5


def _seed(*groups: Sequence[float]) -> int:
    digest = hashlib.sha256()
    for group in groups:
        digest.update(struct.pack(f"<{len(group)}d", *group))
        digest.update(b"|")
    return int.from_bytes(digest.digest()[:8], "little")


def _median_resample(rng: random.Random, samples: Sequence[float]) -> float:
    return statistics.median(rng.choices(samples, k=len(samples)))


def _percentiles(values: list[float], confidence: float) -> tuple[float, float]:
    values.sort()
    tail = (1.0 - confidence) / 2.0
    lo = values[max(0, int(math.floor(tail * (len(values) - 1))))]
    hi = values[min(len(values) - 1, int(math.ceil((1.0 - tail) * (len(values) - 1))))]
    return lo, hi


def verdict_of(low: float, high: float, min_effect: float = MIN_EFFECT) -> SpeedVerdict:
    """'faster' when the whole interval is above 1 + min_effect, 'slower' when below its inverse."""
    if low > 1.0 + min_effect:
        return "faster"
    if high < 1.0 / (1.0 + min_effect):
        return "slower"
    return "same"


def is_noisy(samples: Sequence[float], fraction: float = NOISE_IQR_FRACTION) -> bool:
    """Too few reps, or an interquartile range above `fraction` of the median."""
    if len(samples) < MIN_SAMPLES:
        return True
    q1, q2, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return q2 <= 0 or (q3 - q1) / q2 > fraction


def compare_samples(candidate_us: Sequence[float], baseline_us: Sequence[float], baseline: str,
                    confidence: float = CONFIDENCE, resamples: int = RESAMPLES) -> Comparison:
    """Speed of `candidate_us` relative to `baseline_us` (ratio of medians, baseline / candidate)."""
    if not candidate_us or not baseline_us:
        raise ValueError("a comparison needs samples on both sides")
    ratio = statistics.median(baseline_us) / statistics.median(candidate_us)
    if len(candidate_us) < MIN_SAMPLES or len(baseline_us) < MIN_SAMPLES:
        # Too few reps for an interval: say so with an unbounded one, never a verdict.
        return Comparison(baseline=baseline, ratio=ratio, low=0.0, high=math.inf, confidence=confidence,
                          verdict="same")
    rng = random.Random(_seed(candidate_us, baseline_us))
    ratios = [_median_resample(rng, baseline_us) / _median_resample(rng, candidate_us) for _ in range(resamples)]
    low, high = _percentiles(ratios, confidence)
    return Comparison(baseline=baseline, ratio=ratio, low=low, high=high, confidence=confidence,
                      verdict=verdict_of(low, high))


def compare_timings(candidate: Sequence[ShapeTiming], baseline: Sequence[ShapeTiming], baseline_name: str,
                    confidence: float = CONFIDENCE, resamples: int = RESAMPLES) -> Comparison | None:
    """Two evaluations over the shapes both timed with samples and the same method: the geometric mean
    of the per-shape ratios, its interval from resampling every shape's reps together. None when
    they share no such shape (e.g. one ran on the interpreter and the other on a device)."""
    base_by_shape = {t.shape: t for t in baseline}
    pairs = [(c.samples_us, base_by_shape[c.shape].samples_us) for c in candidate
             if c.shape in base_by_shape and c.samples_us and base_by_shape[c.shape].samples_us
             and c.method == base_by_shape[c.shape].method]
    if not pairs:
        return None
    ratio = math.exp(statistics.fmean(math.log(statistics.median(b) / statistics.median(c)) for c, b in pairs))
    if any(len(c) < MIN_SAMPLES or len(b) < MIN_SAMPLES for c, b in pairs):
        return Comparison(baseline=baseline_name, ratio=ratio, low=0.0, high=math.inf, confidence=confidence,
                          verdict="same")
    rng = random.Random(_seed(*(x for pair in pairs for x in pair)))
    geomeans = []
    for _ in range(resamples):
        logs = [math.log(_median_resample(rng, b) / _median_resample(rng, c)) for c, b in pairs]
        geomeans.append(math.exp(statistics.fmean(logs)))
    low, high = _percentiles(geomeans, confidence)
    return Comparison(baseline=baseline_name, ratio=ratio, low=low, high=high, confidence=confidence,
                      verdict=verdict_of(low, high))
