"""The evolve archive and islands: cells from measured features only, near-duplicates rejected
before evaluation, the one rank rule for elites, elitist selection and ring migration."""

from __future__ import annotations

import random

from warpsmith.records.evaluation import Candidate, EvalResult, ResourceReport, ShapeTiming
from warpsmith.search.archive import Archive, Member
from warpsmith.search.features import UNKNOWN, features_of, shape_bytes
from warpsmith.search.islands import Island, migrate
from warpsmith.search.kinds import kind_of
from warpsmith.search.novelty import NoveltyFilter, normalize
from warpsmith.search.settings import EvolveSettings
from warpsmith.search.taskpop import TaskPopulation
from warpsmith.tasklib import get_task

TASK = get_task("rmsnorm")
SEED = TASK.seed_path("triton").read_text()  # type: ignore[union-attr]
SIZES = shape_bytes(TASK, "bench")
BENCH = [s.label for s in TASK.shapes("bench")]


def _timing(label: str, median_us: float, pct: float | None, speedup: float | None, seed: int) -> ShapeTiming:
    rng = random.Random(seed)
    samples = [median_us * (1 + rng.uniform(-0.01, 0.01)) for _ in range(40)]
    return ShapeTiming(shape=label, median_us=median_us, spread_us=0.01 * median_us, reps=40, samples_us=samples,
                       method="cuda_events", pct_peak_bandwidth=pct, speedup=speedup)


def device_result(source: str, scale: float = 1.0, pct_large: float = 80.0, small_speedup: float = 1.0,
                  large_speedup: float = 3.0, registers: int | None = 40, spills: int = 0,
                  status: str = "correct") -> EvalResult:
    """A device-mode result over the bench shapes: small shapes first (launch-bound), large ones last."""
    ordered = sorted(BENCH, key=lambda label: SIZES[label])
    half = len(ordered) // 2
    timings = [
        _timing(label, scale * (5.0 + i), pct_large if i >= half else 5.0,
                large_speedup if i >= half else small_speedup, seed=i + int(scale * 1000))
        for i, label in enumerate(ordered)
    ]
    resources = [ResourceReport(kernel="k", registers=registers, spill_stores_bytes=spills)] if registers else []
    candidate = Candidate(task="rmsnorm", language="triton", source=source)
    return EvalResult(task="rmsnorm", language="triton", source_hash=candidate.source_hash, status=status,  # type: ignore[arg-type]
                      mode="device", suite="bench", timings=timings, resources=resources)


def test_cells_come_from_measured_features() -> None:
    found = features_of(device_result(SEED, pct_large=80.0, registers=40), "seed", SIZES)
    assert (found.floor, found.regime, found.regs, found.language, found.kind) == (
        "f75-90", "bandwidth", "r<=64", "triton", "seed")
    assert abs(found.floor_fraction - 0.8) < 1e-9  # type: ignore[operator]
    launch = features_of(device_result(SEED, pct_large=20.0, small_speedup=4.0, large_speedup=1.0, registers=200),
                         "seed", SIZES)
    assert (launch.floor, launch.regime, launch.regs) == ("f<25", "launch", "r>128")
    assert features_of(device_result(SEED, spills=64), "seed", SIZES).regs == "spills"


def test_interpreter_results_have_unknown_device_features() -> None:
    result = device_result(SEED).model_copy(update={"mode": "interpreter", "resources": []})
    found = features_of(result, "seed", SIZES)
    assert (found.floor, found.regime, found.regs) == (UNKNOWN, UNKNOWN, UNKNOWN)
    assert found.cell == "?|?|?|triton|seed"


def test_a_comment_stuffed_duplicate_is_rejected_before_evaluation() -> None:
    filter_ = NoveltyFilter(threshold=0.97)
    seed = Candidate(task="rmsnorm", language="triton", source=SEED, origin="seed")
    filter_.add(seed.source, "triton", seed.source_hash)
    stuffed = "\n".join(line + "  # a persistent warp-specialized split-K kernel, vectorized"
                        for line in SEED.splitlines())
    stuffed = '"""A completely different algorithm, honest."""\n\n\n' + stuffed.replace("    ", "        ")
    assert Candidate(task="rmsnorm", language="triton", source=stuffed).source_hash != seed.source_hash
    assert filter_.near_duplicate(stuffed, "triton") == seed.source_hash
    cuda = "// hello\nconstexpr int B = 256; /* tile */\n__global__ void k() { }\n"
    filter_.add(cuda, "cuda", "c")
    assert filter_.near_duplicate("constexpr int B = 256;\n// comment\n__global__  void k(){}", "cuda") == "c"


def test_new_literals_are_novel_but_renames_and_reformatting_are_not() -> None:
    filter_ = NoveltyFilter(threshold=0.97)
    filter_.add(SEED, "triton", "seed")
    changed = SEED.replace('"num_warps": 4', '"num_warps": 8')
    assert changed != SEED
    assert filter_.near_duplicate(changed, "triton") is None  # a new config is a new kernel
    renamed = SEED.replace("rstd", "inv_rms")
    assert renamed != SEED and normalize(renamed, "triton") != normalize(SEED, "triton")
    assert filter_.near_duplicate(renamed, "triton") == "seed"
    other = "import triton\n\ndef kernel(x, w, eps):\n    return x\n"
    assert filter_.near_duplicate(other, "triton") is None
    assert normalize(SEED + "\n# trailing comment\n", "triton") == normalize(SEED, "triton")


def test_comments_claiming_another_algorithm_land_in_the_same_cell() -> None:
    pop = TaskPopulation(TASK, EvolveSettings(tasks=["rmsnorm"], suite="bench"))
    plain = Candidate(task="rmsnorm", language="triton", source=SEED.replace("4}", "2}", 1), origin="coder",
                      plan_item="Vectorize loads to 16 bytes", parent_hash="p")
    claims = Candidate(task="rmsnorm", language="triton", origin="coder", parent_hash="p",
                       plan_item="Vectorize loads to 16 bytes",
                       source="# persistent split-K warp-specialized tensor-core kernel\n" + plain.source)
    a, b = pop.member(plain), pop.member(claims)
    pop.measured(a, device_result(plain.source), island=0)
    pop.measured(b, device_result(claims.source), island=0)
    assert a.kind == b.kind == "vectorized"
    assert a.cell == b.cell
    assert kind_of(Candidate(task="rmsnorm", language="triton", source="x", origin="offline"), "split") == "split"


def test_the_archive_keeps_one_elite_per_cell_by_the_rank_rule() -> None:
    archive = Archive()
    first = Member(Candidate(task="rmsnorm", language="triton", source=SEED), device_result(SEED), "seed", "c1")
    same = Member(Candidate(task="rmsnorm", language="triton", source=SEED + "\n"),
                  device_result(SEED + "\n", scale=0.995), "seed", "c1")
    faster = Member(Candidate(task="rmsnorm", language="triton", source=SEED + "\n\n"),
                    device_result(SEED + "\n\n", scale=0.5), "seed", "c1")
    wrong = Member(Candidate(task="rmsnorm", language="triton", source=SEED + "#"),
                   device_result(SEED + "#", scale=0.1, status="incorrect"), "seed", "c2")
    assert archive.offer(first)
    assert not archive.offer(same)  # within the noise: the incumbent stays
    assert archive.offer(faster)  # significantly faster: it takes the cell
    assert not archive.offer(wrong)  # only correct kernels are elites
    assert list(archive.cells) == ["c1"] and archive.cells["c1"] is faster


def _member(source: str, scale: float) -> Member:
    return Member(Candidate(task="rmsnorm", language="triton", source=source), device_result(source, scale=scale),
                  "seed", "c")


def test_selection_is_elitist_and_migration_moves_each_best_around_the_ring() -> None:
    islands = [Island(index=i, capacity=2) for i in range(3)]
    fast, mid, slow = _member("a", 0.3), _member("b", 0.6), _member("c", 1.0)
    for member in (slow, mid, fast):
        islands[0].join(member)
    islands[0].select()
    assert {m.source_hash for m in islands[0].members} == {fast.source_hash, mid.source_hash}
    islands[1].join(_member("d", 0.8))
    moves = migrate(islands)
    assert [(origin, target) for origin, target, _ in moves] == [(0, 1), (1, 2)]
    assert islands[1].has(fast.source_hash) and islands[2].has(islands[1].members[0].source_hash)
    assert migrate([Island(index=0, capacity=2)]) == []
    again = migrate(islands)  # every target already holds the best it would receive, or gets it once
    assert all(not islands[t].members.count(m) > 1 for _, t, m in again)


def test_staged_evaluation_promotes_remeasures_and_stops_as_the_rules_say(tmp_path) -> None:  # noqa: ANN001
    """The batch's decisions after each outcome (device + bench suite): a screen not slower than the parent
    goes on to the full suite, a slower one stops; a noisy full result is measured once more, never twice."""
    from warpsmith.pool.inline import InlinePool
    from warpsmith.records.evaluation import Hardware
    from warpsmith.search.batch import BatchEvaluator, Entry
    from warpsmith.search.writer import RunWriter
    from warpsmith.store.db import open_store

    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    hardware = Hardware(device_name="H100", backend="cuda", arch="sm_90", memory_bandwidth_gbps=3350.0)
    writer = RunWriter(store, EvolveSettings(tasks=["rmsnorm"], suite="bench"), hardware, {"rmsnorm": TASK})
    with InlinePool(device="cpu") as pool:
        batch = BatchEvaluator(pool, writer, device_mode=True)
        assert batch.screens
        member = Member(Candidate(task="rmsnorm", language="triton", source=SEED))
        parent = device_result(SEED, scale=1.0)
        screen_fast = device_result(SEED, scale=0.5).model_copy(update={"stage": "screen"})
        screen_slow = device_result(SEED, scale=2.0).model_copy(update={"stage": "screen"})
        assert batch._next_stage(Entry("rmsnorm", member, parent=parent), "screen", screen_fast) == "full"
        assert batch._next_stage(Entry("rmsnorm", member, parent=parent), "screen", screen_slow) is None
        assert batch._next_stage(Entry("rmsnorm", member, parent=None), "screen", screen_slow) == "full"
        noisy = device_result(SEED)
        noisy.timings[0].noisy = True
        entry = Entry("rmsnorm", member, parent=parent)
        assert batch._next_stage(entry, "full", noisy) == "full" and entry.retried
        assert batch._next_stage(entry, "full", noisy) is None  # still noisy: kept, never ranked
        assert batch._next_stage(Entry("rmsnorm", member, confirm=True), "full", noisy) is None
        assert batch._next_stage(Entry("rmsnorm", member), "full", device_result(SEED)) is None
    store.close()
