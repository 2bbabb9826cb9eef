"""Intervals and verdicts on speed: a real difference is 'faster', noise and tiny gains are 'same'."""

from __future__ import annotations

import math
import random

from warpsmith.evaluator.stats import compare_samples, compare_timings, is_noisy, verdict_of
from warpsmith.records.evaluation import ShapeTiming


def _samples(center: float, spread: float, n: int = 60, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [center * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


def test_clearly_faster_candidate_is_faster_with_an_interval_around_the_ratio() -> None:
    c = compare_samples(_samples(50.0, 0.02, seed=1), _samples(100.0, 0.02, seed=2), "eager")
    assert c.verdict == "faster"
    assert c.low <= c.ratio <= c.high
    assert 1.9 < c.low < c.high < 2.1


def test_identical_code_under_noise_is_same_not_a_winner() -> None:
    a, b = _samples(8800.0, 0.06, seed=3), _samples(8800.0, 0.06, seed=4)
    assert compare_samples(a, b, "parent").verdict == "same"
    assert compare_samples(b, a, "parent").verdict == "same"


def test_one_percent_gain_with_a_tight_interval_is_still_same() -> None:
    c = compare_samples(_samples(99.0, 0.001, n=200, seed=5), _samples(100.0, 0.001, n=200, seed=6), "parent")
    assert c.low > 1.0  # the difference is real...
    assert c.verdict == "same"  # ...but below the smallest effect that counts


def test_slower_candidate_is_slower() -> None:
    assert compare_samples(_samples(130.0, 0.02, seed=7), _samples(100.0, 0.02, seed=8), "seed").verdict == "slower"


def test_too_few_reps_give_no_verdict() -> None:
    c = compare_samples([1.0, 1.0], [10.0, 10.0], "eager")
    assert c.verdict == "same" and math.isinf(c.high)


def test_same_samples_give_the_same_interval() -> None:
    a, b = _samples(10.0, 0.1, seed=9), _samples(12.0, 0.1, seed=10)
    assert compare_samples(a, b, "x") == compare_samples(a, b, "x")


def test_verdict_boundaries() -> None:
    assert verdict_of(1.03, 1.2) == "faster"
    assert verdict_of(1.01, 1.2) == "same"
    assert verdict_of(0.5, 0.97) == "slower"


def test_noise_rule() -> None:
    assert not is_noisy(_samples(100.0, 0.01))
    assert is_noisy(_samples(100.0, 0.5))
    assert is_noisy([1.0, 1.0, 1.0])


def _timing(shape: str, samples: list[float], method: str = "cuda_events") -> ShapeTiming:
    return ShapeTiming(shape=shape, median_us=sorted(samples)[len(samples) // 2], spread_us=0.0,
                       reps=len(samples), samples_us=samples, method=method)


def test_evaluations_compare_over_common_shapes_by_geomean() -> None:
    cand = [_timing("a", _samples(50.0, 0.01, seed=11)), _timing("b", _samples(100.0, 0.01, seed=12))]
    base = [_timing("a", _samples(100.0, 0.01, seed=13)), _timing("b", _samples(100.0, 0.01, seed=14)),
            _timing("c", _samples(1.0, 0.01, seed=15))]
    c = compare_timings(cand, base, "parent")
    assert c is not None and c.verdict == "faster"
    assert abs(c.ratio - math.sqrt(2.0)) < 0.05


def test_interpreter_and_device_timings_never_compare() -> None:
    cand = [_timing("a", _samples(50.0, 0.01), method="wall_clock")]
    base = [_timing("a", _samples(100.0, 0.01), method="cuda_events")]
    assert compare_timings(cand, base, "parent") is None
