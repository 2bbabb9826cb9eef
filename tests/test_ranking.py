"""Winners that are real: the one rank rule, suspicion settled by confirmation, staged and noisy measuring.

Real records with synthetic per-rep samples (data, as a device would report them), the real
statistics, a real SQLite store for the beam query; the CPU run at the end uses the real
evaluator under the Triton interpreter.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from warpsmith.agents import mapping, ranking, scrutiny
from warpsmith.agents.measure import Measurer, promotion
from warpsmith.evaluator.version import evaluator_version
from warpsmith.records.agents import CandidateSummary, Verdict
from warpsmith.records.evaluation import (
    Candidate,
    Comparison,
    EvalResult,
    Hardware,
    ShapeTiming,
)
from warpsmith.records.runs import RunSettings
from warpsmith.store import runs as store_runs
from warpsmith.store.db import open_store
from warpsmith.tasklib import get_task

H100 = Hardware(device_name="NVIDIA H100 80GB HBM3", backend="cuda", arch="sm_90", memory_bandwidth_gbps=3350)
SHAPES = ("T=1 H=4096", "T=128 H=4096", "T=4096 H=7168")


def kernel(tag: str) -> Candidate:
    """A distinct rmsnorm candidate (the seed's source with a marker comment)."""
    path = get_task("rmsnorm").seed_path("triton")
    assert path is not None
    return Candidate(task="rmsnorm", language="triton", source=path.read_text() + f"\n# {tag}\n", origin="offline")


def measured(candidate: Candidate, median_us: float, *, noise: float = 0.02, draw: int = 0,
             reference_us: float = 100.0, status: str = "correct", stage: str = "full") -> EvalResult:
    """A device result: 100 reps per shape, gaussian noise of `noise` x the median, from seed `draw`."""
    rng = random.Random(f"{candidate.source_hash}|{draw}")
    timings = []
    for shape in SHAPES:
        samples = [max(0.01, rng.gauss(median_us, noise * median_us)) for _ in range(100)]
        speedup = reference_us / median_us
        timings.append(ShapeTiming(
            shape=shape, median_us=median_us, spread_us=noise * median_us, reps=100, samples_us=samples,
            method="cuda_events", reference_median_us=reference_us, speedup=speedup,
            pct_peak_bandwidth=40.0,
            comparisons=[Comparison(baseline="eager", ratio=speedup, low=speedup * 0.97, high=speedup * 1.03,
                                    verdict="faster" if speedup > 1.03 else "same")],
        ))
    return EvalResult(task="rmsnorm", language="triton", source_hash=candidate.source_hash, status=status,  # type: ignore[arg-type]
                      mode="device", suite="bench", timings=timings if status == "correct" else [],
                      hardware=H100, stage=stage)  # type: ignore[arg-type]


def summary(candidate: Candidate, result: EvalResult) -> CandidateSummary:
    return CandidateSummary(candidate=candidate, result=result)


# --- (a) noise is not a winner ---------------------------------------------------------
def test_identical_code_under_noise_is_same_and_the_incumbent_stays_best() -> None:
    seed, twin = kernel("seed"), kernel("twin: same code, another config that changes nothing")
    seed_result, twin_result = measured(seed, 100.0, draw=1), measured(twin, 99.0, draw=2)  # 1% apart: noise
    comparison = ranking.compare(twin_result, seed_result, "seed")
    assert comparison is not None and comparison.verdict == "same"
    assert comparison.low < 1.0 + 0.02  # the interval reaches below the smallest effect that counts
    ranked = ranking.rank([summary(seed, seed_result), summary(twin, twin_result)])
    assert ranked[0].candidate == seed  # the incumbent keeps its place
    claim = ranking.claim(ranked[0], summary(seed, seed_result))
    assert "no candidate beat the seed (all within noise)" in claim and claim.startswith("1x [0.97, 1.03] vs eager")
    # ... and the other way round: whoever was measured first stays
    assert ranking.rank([summary(twin, twin_result), summary(seed, seed_result)])[0].candidate == twin
    assert not ranking.displaces(seed_result, twin_result) and not ranking.displaces(twin_result, seed_result)


def test_a_real_difference_wins_and_is_claimed_with_its_interval() -> None:
    seed, fast = kernel("seed"), kernel("fast")
    seed_result, fast_result = measured(seed, 100.0, draw=1), measured(fast, 80.0, draw=2)
    ranked = ranking.rank([summary(seed, seed_result), summary(fast, fast_result)])
    assert ranked[0].candidate == fast
    claim = ranking.claim(ranked[0], summary(seed, seed_result))
    assert claim.startswith("1.25x [1.21, 1.29] vs eager, faster than seed 1.25x [")
    assert len(claim) <= 80


def test_a_noisy_result_is_kept_but_never_ranked_as_the_winner() -> None:
    seed, noisy = kernel("seed"), kernel("noisy")
    noisy_result = measured(noisy, 50.0, noise=0.4, draw=3)  # 2x faster on paper, interquartile range ~50%
    assert ranking.noisy_shapes(noisy_result) == list(SHAPES)
    ranked = ranking.rank([summary(noisy, noisy_result), summary(seed, measured(seed, 100.0, draw=1))])
    assert [s.candidate for s in ranked] == [seed, noisy]  # in the beam, behind every ranked one
    assert "noisy timings" in ranking.unranked_reason(noisy_result)
    assert not ranking.displaces(noisy_result, measured(seed, 100.0, draw=1))


# --- (b), (c) suspicion settled by confirmation -----------------------------------------
def store_with_run(tmp_path: Path):  # noqa: ANN201
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with store.session() as session:
        mapping.store_task(session, get_task("rmsnorm"))
        mapping.store_hardware(session, H100)
        run_id = store_runs.create_run(session, task="rmsnorm", language="triton", strategy="offline",
                                       hardware_fingerprint=H100.fingerprint).id
    return store, run_id, mapping.EvalKey(hardware_fingerprint=H100.fingerprint, evaluator_version=evaluator_version(), suite="bench")


def keep(store, run_id: str, key: mapping.EvalKey, candidate: Candidate, *results: EvalResult,  # noqa: ANN001
         verdict: Verdict | None = None) -> None:
    with store.session() as session:
        mapping.store_candidate(session, run_id, candidate, 1, 0)
        for result in results:
            mapping.store_evaluation(session, run_id, key, result)
        if verdict is not None:
            mapping.store_verdict(session, run_id, "rmsnorm", key, verdict, 1)


def beam(store, run_id: str, key: mapping.EvalKey) -> list[Candidate]:  # noqa: ANN001
    with store.session() as session:
        return [s.candidate for s in mapping.best_correct(session, key, "rmsnorm", "triton", 4, run_id)]


def test_a_24x_kernel_whose_confirmation_holds_stays_and_becomes_best(tmp_path: Path) -> None:
    store, run_id, key = store_with_run(tmp_path)
    seed, fast = kernel("seed"), kernel("24x: one launch for all tokens")
    keep(store, run_id, key, seed, measured(seed, 96.0, draw=1, reference_us=96.0))
    first = measured(fast, 4.0, draw=2, reference_us=96.0)
    assert "24.0x over eager" in scrutiny.confirmation_needed(first)
    again = measured(fast, 4.1, draw=3, reference_us=96.0)  # fresh secret seed, fresh inputs
    confirmation = scrutiny.confirmation_of(first, again)
    assert confirmation.held and "confirmed with fresh inputs: 23.4x (claimed 24.0x)" in confirmation.note
    # the judge was unsure; the loop's confirmation settles it
    judged = Verdict(source_hash=fast.source_hash, suspicious=True, suspicion_reason="24x looks too good")
    verdict = scrutiny.with_confirmation(judged, fast.source_hash, confirmation)
    assert verdict is not None and verdict.confirmation == "held" and verdict.suspicious
    keep(store, run_id, key, fast, first, again, verdict=verdict)
    assert beam(store, run_id, key) == [fast, seed]
    store.close()


@pytest.mark.parametrize("outcome", ["incorrect on fresh inputs", "speedup collapsed", "under the bytes floor"])
def test_a_kernel_whose_confirmation_fails_leaves_the_beam(tmp_path: Path, outcome: str) -> None:
    store, run_id, key = store_with_run(tmp_path)
    seed, cheat = kernel("seed"), kernel("24x: outputs cached from the first inputs")
    keep(store, run_id, key, seed, measured(seed, 96.0, draw=1, reference_us=96.0))
    first = measured(cheat, 4.0, draw=2, reference_us=96.0)
    if outcome == "incorrect on fresh inputs":
        again = measured(cheat, 4.0, draw=3, reference_us=96.0, status="incorrect")
    elif outcome == "speedup collapsed":
        again = measured(cheat, 9.6, draw=3, reference_us=96.0)  # 10x: still correct, still 'fast'
    else:  # as fast again, but faster than the hardware can move the bytes: work was skipped
        again = measured(cheat, 4.0, draw=3, reference_us=96.0)
        for timing in again.timings:
            timing.pct_peak_bandwidth = 250.0
    confirmation = scrutiny.confirmation_of(first, again)
    assert not confirmation.held
    expected = {"incorrect on fresh inputs": "incorrect", "speedup collapsed": "24.0x -> 10.0x",
                "under the bytes floor": "250% of peak bandwidth"}[outcome]
    assert expected in confirmation.note
    verdict = scrutiny.with_confirmation(None, cheat.source_hash, confirmation)  # no judge: offline
    assert verdict is not None and verdict.suspicious and verdict.confirmation == "failed"
    keep(store, run_id, key, cheat, first, again, verdict=verdict)
    assert beam(store, run_id, key) == [seed]
    store.close()


def test_an_unconfirmed_suspicion_from_before_still_excludes_and_a_bare_flag_does_not_outlive_confirmation() -> None:
    assert scrutiny.excluded_reason([(True, None)]) == "suspicious and not confirmed"
    assert scrutiny.excluded_reason([(True, None), (False, "held")]) == ""
    assert scrutiny.excluded_reason([(False, "held"), (True, "failed")]) == "its confirming re-evaluation failed"
    assert scrutiny.excluded_reason([(False, None)]) == ""


# --- staged evaluation --------------------------------------------------------------
class Device:
    """Evaluations as a GPU would report them, one queued result per call (data, not a model of the evaluator)."""

    def __init__(self, *results: EvalResult) -> None:
        self.results, self.calls = list(results), []

    def __call__(self, candidate, task, *, suite, device, timeout_s, stage="full", confirm=False):  # noqa: ANN001, ANN204
        self.calls.append((stage, confirm))
        return self.results.pop(0)


def test_a_screen_slower_than_its_parent_is_not_promoted_and_a_noisy_one_is_measured_again() -> None:
    parent, slow, fine = kernel("parent"), kernel("slow"), kernel("fine")
    parent_result = measured(parent, 100.0, draw=1)
    slow_screen = measured(slow, 130.0, draw=2, stage="screen")
    assert promotion(slow_screen, parent_result) == ""
    assert promotion(slow_screen, None) != ""  # the first correct candidate always goes on
    said: list[str] = []
    stored: list[EvalResult] = []
    device = Device(slow_screen)
    result = Measurer(device, get_task("rmsnorm"), RunSettings(suite="bench"), stored.append, said.append).staged(slow, parent_result)
    assert result is slow_screen and device.calls == [("screen", False)] and stored == [slow_screen]
    assert any("not promoted" in line for line in said)

    noisy, clean = measured(fine, 99.0, noise=0.4, draw=4), measured(fine, 99.0, draw=5)
    device = Device(measured(fine, 99.0, draw=3, stage="screen"), noisy, clean)
    result = Measurer(device, get_task("rmsnorm"), RunSettings(suite="bench"), stored.append, said.append).staged(fine, parent_result)
    assert result is clean and device.calls == [("screen", False), ("full", False), ("full", False)]
    assert any("noisy timings" in line and "measuring again" in line for line in said)


def test_screening_happens_only_where_a_screen_differs_from_the_full_suite() -> None:
    fine = kernel("fine")
    for settings, device_mode in ((RunSettings(suite="check"), True), (RunSettings(suite="bench"), False)):
        device = Device(measured(fine, 99.0, draw=6))
        Measurer(device, get_task("rmsnorm"), settings, lambda r: None, lambda s: None,
                 device_mode=device_mode).staged(fine, measured(kernel("parent"), 100.0, draw=1))
        assert device.calls == [("full", False)]  # measured once, never screened then measured again


def test_confirming_asks_the_evaluator_for_a_confirmation_run() -> None:
    fast = kernel("fast")
    device = Device(measured(fast, 4.2, draw=2, reference_us=96.0))
    measurer = Measurer(device, get_task("rmsnorm"), RunSettings(), lambda r: None, lambda s: None)
    confirmation = measurer.confirm(fast, measured(fast, 4.0, draw=1, reference_us=96.0), "24x")
    assert confirmation.held and device.calls == [("full", True)]


# --- (d) the CPU interpreter names no wall-clock winner ---------------------------------
@pytest.mark.slow
def test_an_offline_rmsnorm_run_on_cpu_names_no_wall_clock_winner(tmp_path: Path) -> None:
    from rich.console import Console

    from warpsmith.agents.offline import OfflineStrategy
    from warpsmith.cli.optimize_display import summary_table
    from warpsmith.evaluator.hardware import detect_hardware
    from warpsmith.search.optimize import run_optimization

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    events = []
    settings = RunSettings(rounds=1, width=2, suite="smoke", device="cpu")
    result = run_optimization(get_task("rmsnorm"), OfflineStrategy(), store, settings, detect_hardware("cpu"),
                              on_progress=events.append)
    store.close()
    assert result.status == "completed", result.message
    assert result.best is not None and result.best.candidate.source_hash == result.seed_hash
    assert result.claim.startswith("interpreter: wall clock not comparable; correctness only")
    assert events[-1].best_claim == result.claim
    console = Console(width=80, record=True)
    console.print(summary_table(result))
    text = console.export_text()
    assert "interpreter: wall clock not comparable; correctness only" in text
    assert all(len(line) <= 80 for line in text.splitlines())


def test_optimize_shows_the_best_with_its_interval_and_verdict_at_80_columns() -> None:
    import io

    from rich.console import Console

    from warpsmith.cli.optimize_display import ProgressView, summary_table, timings_table
    from warpsmith.records.runs import Progress, RunSummary

    seed, fast = kernel("seed"), kernel("fast")
    best, base = summary(fast, measured(fast, 80.0, draw=2)), summary(seed, measured(seed, 100.0, draw=1))
    claim = ranking.claim(best, base)
    run = RunSummary(run_id="r-1", task="rmsnorm", status="completed", strategy="offline", rounds_done=1,
                     rounds_total=1, evaluated=2, hardware=H100, best=best, seed_hash=seed.source_hash, seed=base,
                     claim=claim)
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(summary_table(run))
    table = timings_table(run)
    assert table is not None
    console.print(table)
    text = console.export_text()
    assert "1.25x [1.21, 1.29] vs eager, faster than seed" in text.replace("\n", " ").replace("│", "")
    assert "1.25x [1.21, 1.29]" in text  # per shape, the speedup with its interval
    assert all(len(line) <= 80 for line in text.splitlines())

    log = Console(width=80, file=io.StringIO(), force_terminal=False)
    with ProgressView(log, 1) as view:
        for message in ("evaluating", "done"):
            view(Progress(run_id="r-1", round_index=1, rounds_total=1, evaluated=2, best_hash=fast.source_hash,
                          mode="device", best_claim=claim, message=message))
    printed = log.file.getvalue()  # type: ignore[attr-defined]
    lines = printed.splitlines()  # a log: one whole line per event, however wide, never a wrapped bar
    assert [line for line in lines if line.startswith("[round 1/1 | 2 evaluated")] == [
        line for line in lines if line.endswith(("] evaluating", "] done"))
    ] and len(lines) == 3
    assert lines.count(f"  best {fast.source_hash[:12]}: {claim}") == 1  # once: the best did not change


class Bench:
    """What a GPU measures, per kernel (data): the seed at 96 us; every other kernel at 4 us (24x over
    eager), and at `again_us` / `again_status` when the loop asks for a confirming run."""

    def __init__(self, again_us: float, again_status: str = "correct") -> None:
        self.again_us, self.again_status = again_us, again_status
        self.calls: list[tuple[str, str, bool]] = []
        seed_path = get_task("rmsnorm").seed_path("triton")
        assert seed_path is not None
        self.seed_hash = Candidate(task="rmsnorm", language="triton", source=seed_path.read_text()).source_hash

    def __call__(self, candidate, task, *, suite, device, timeout_s, stage="full", confirm=False):  # noqa: ANN001, ANN204
        self.calls.append((candidate.source_hash, stage, confirm))
        if candidate.source_hash == self.seed_hash:
            return measured(candidate, 96.0, draw=1, reference_us=96.0, stage=stage)
        if confirm:
            return measured(candidate, self.again_us, draw=3, reference_us=96.0, status=self.again_status)
        return measured(candidate, 4.0, draw=2, reference_us=96.0, stage=stage)


@pytest.mark.parametrize(("again_us", "again_status", "stays"), [(4.1, "correct", True), (4.0, "incorrect", False)],
                         ids=["confirmed", "wrong-on-fresh-inputs"])
def test_the_loop_screens_promotes_and_confirms_a_24x_kernel(
    tmp_path: Path, again_us: float, again_status: str, stays: bool
) -> None:
    import json
    import sqlite3

    from warpsmith.agents.offline import OfflineStrategy
    from warpsmith.search.optimize import run_optimization

    bench = Bench(again_us, again_status)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    settings = RunSettings(rounds=1, width=1, suite="bench", device="cuda")
    result = run_optimization(get_task("rmsnorm"), OfflineStrategy(), store, settings, H100, evaluate=bench)
    store.close()
    assert result.status == "completed", result.message
    ((child, stage, _), *rest) = [c for c in bench.calls if c[0] != bench.seed_hash]
    assert [(stage, False), *[(s, c) for _, s, c in rest]] == [("screen", False), ("full", False), ("full", True)]
    assert [c[1:] for c in bench.calls if c[0] == bench.seed_hash] == [("full", False)]  # the seed is not screened
    with sqlite3.connect(tmp_path / "store.db") as db:
        ((verdict,),) = db.execute("SELECT verdict FROM verdicts WHERE source_hash=?", (child,)).fetchall()
    assert json.loads(verdict)["confirmation"] == ("held" if stays else "failed")
    assert result.best is not None
    if stays:
        assert result.best.candidate.source_hash == child
        # the confirming measurement is the one that stands
        assert result.claim.startswith("23.4x [22.7, 24.1] vs eager, faster than seed 23.4x [")
    else:
        assert result.best.candidate.source_hash == bench.seed_hash
        assert "no candidate beat the seed" in result.claim


def test_a_run_whose_candidates_are_all_within_noise_reports_no_winner(tmp_path: Path) -> None:
    """(a) through the loop: configs that change nothing measure 0.5% apart; the seed stays best."""
    from warpsmith.agents.offline import OfflineStrategy
    from warpsmith.search.optimize import run_optimization

    bench = Bench(96.0)

    def flat(candidate, task, *, suite, device, timeout_s, stage="full", confirm=False):  # noqa: ANN001, ANN202
        bench.calls.append((candidate.source_hash, stage, confirm))
        median = 96.0 if candidate.source_hash == bench.seed_hash else 95.5
        return measured(candidate, median, draw=len(bench.calls), reference_us=96.0, stage=stage)

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    settings = RunSettings(rounds=1, width=2, suite="bench", device="cuda")
    result = run_optimization(get_task("rmsnorm"), OfflineStrategy(), store, settings, H100, evaluate=flat)
    store.close()
    assert result.status == "completed", result.message
    assert len({h for h, _, _ in bench.calls}) == 3  # the seed and two candidates
    assert sorted(s for h, s, _ in bench.calls if h != bench.seed_hash) == ["full", "full", "screen", "screen"]
    assert result.best is not None and result.best.candidate.source_hash == bench.seed_hash
    assert result.claim == "1x [0.97, 1.03] vs eager, seed; no candidate beat the seed (all within noise)"

