"""The offline strategy: reading and rewriting tunables, and the search it runs over them.

Fast tests on the shipped seeds (real files, parsed with ast, never executed here); the
loop that evaluates what it proposes is tested in test_optimize_loop.py.
"""

from __future__ import annotations

import ast

import pytest

from warpsmith.agents.offline import OfflineStrategy, OfflineStrategyConfig, measured_time_us
from warpsmith.agents.offline_config import NoTunables, read_cuda, read_triton, write_cuda, write_triton
from warpsmith.agents.protocols import AgentError
from warpsmith.records.agents import CandidateSummary, RoundContext
from warpsmith.records.evaluation import Candidate, EvalResult, Hardware, ShapeTiming
from warpsmith.tasklib import get_task

CPU = Hardware(device_name="cpu (interpreter)", backend="cpu")


def seed(name: str = "moe_dispatch") -> Candidate:
    path = get_task(name).seed_path("triton")
    assert path is not None
    return Candidate(task=name, language="triton", source=path.read_text(), origin="seed")


def timed(candidate: Candidate, median_us: float, status: str = "correct", reps: int = 3) -> CandidateSummary:
    """An interpreter result; with reps >= 5 it carries per-rep samples (+-1%) an interval can be drawn from."""
    samples = [median_us * (1 + 0.01 * ((i % 5) - 2) / 2) for i in range(reps)] if reps >= 5 else []
    timings = [ShapeTiming(shape="s", median_us=median_us, spread_us=1.0, reps=reps, reference_median_us=10.0,
                           samples_us=samples, method="wall_clock")]
    result = EvalResult(
        task=candidate.task,
        language=candidate.language,
        source_hash=candidate.source_hash,
        status=status,  # type: ignore[arg-type]
        mode="interpreter",
        timings=timings if status == "correct" else [],
    )
    return CandidateSummary(candidate=candidate, result=result)


def context(
    beam: list[CandidateSummary], round_index: int = 1, width: int = 3, known: list[str] = ()
) -> RoundContext:
    first = beam[0].candidate
    return RoundContext(
        task_name=first.task,
        task_description="",
        task_signature="",
        language="triton",
        hardware=CPU,
        round_index=round_index,
        rounds_total=3,
        width=width,
        beam=beam,
        known_hashes=list(known),
    )


def test_rewriting_config_changes_only_that_literal() -> None:
    source = seed().source
    tunables = read_triton(source)
    assert tunables.config == {"BLOCK_PAIRS": 256, "BLOCK_H": 256, "num_warps": 4}
    assert tunables.space["BLOCK_H"] == [64, 128, 256, 512, 1024]
    new = write_triton(source, {**tunables.config, "BLOCK_H": 64})
    assert read_triton(new).config["BLOCK_H"] == 64
    ast.parse(new)
    changed = [(a, b) for a, b in zip(source.splitlines(), new.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and changed[0][0].startswith("CONFIG = ")
    assert read_triton(write_triton(new, tunables.config)).config == tunables.config


def test_a_source_without_literals_is_refused_with_a_reason() -> None:
    with pytest.raises(NoTunables, match="CONFIG"):
        read_triton("import triton\nCONFIG = dict(BLOCK=4)\nSEARCH_SPACE = {'BLOCK': [4]}\n")
    with pytest.raises(NoTunables, match="CONFIG = "):
        read_triton("def kernel(x):\n    return x\n")
    with pytest.raises(NoTunables, match="literal"):
        read_triton("CONFIG = {'B': 2 ** 4}\nSEARCH_SPACE = {'B': [16]}\n")


def test_cuda_tunables_come_from_the_seed_block_or_marked_lines() -> None:
    path = get_task("moe_dispatch").seed_path("cuda")
    assert path is not None
    source = path.read_text()
    tunables = read_cuda(source)
    assert tunables.config["SCATTER_THREADS"] == 256 and 512 in tunables.space["SCATTER_THREADS"]
    new = write_cuda(source, {"SCATTER_THREADS": 512})
    changed = [b for a, b in zip(source.splitlines(), new.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and changed[0].startswith("constexpr int SCATTER_THREADS = 512;")
    marked = "constexpr int BLOCK = 256;  // TUNABLE: 128, 256, 512\nconstexpr int OTHER = 3;\n"
    assert read_cuda(marked).space == {"BLOCK": [128, 256, 512]}
    with pytest.raises(NoTunables, match="Triton"):
        read_cuda("__global__ void k() {}\nconstexpr int OTHER = 3;\n")


def test_first_round_samples_a_spread_of_unseen_configs() -> None:
    parent = seed()
    proposals = OfflineStrategy().propose(context([timed(parent, 100.0)], width=4))
    assert len(proposals) == 4
    assert len({p.source_hash for p in proposals}) == 4
    assert parent.source_hash not in {p.source_hash for p in proposals}
    configs = [read_triton(p.source).config for p in proposals]
    assert len({c["BLOCK_H"] for c in configs}) >= 3  # a spread, not one corner of the space
    assert all(p.parent_hash == parent.source_hash and p.origin == "offline" for p in proposals)


def test_later_rounds_refine_the_fastest_and_skip_known_configs() -> None:
    parent = seed()
    strategy = OfflineStrategy()
    slow, fast = strategy.propose(context([timed(parent, 100.0)], width=2))
    beam = [timed(fast, 10.0), timed(slow, 50.0), timed(parent, 100.0)]
    known = [parent.source_hash, slow.source_hash, fast.source_hash]
    proposals = strategy.propose(context(beam, round_index=3, width=3, known=known))
    assert proposals and all(p.parent_hash == fast.source_hash for p in proposals)  # the field halved to one
    best = read_triton(fast.source)
    for p in proposals:
        config = read_triton(p.source).config
        moved = [k for k in best.space if config[k] != best.config[k]]
        assert len(moved) == 1  # one step away from the best config
    again = strategy.propose(
        context(beam, round_index=3, width=3, known=known + [p.source_hash for p in proposals])
    )
    assert not {p.source_hash for p in again} & {p.source_hash for p in proposals}


def test_measured_time_ignores_failed_and_untimed_results() -> None:
    parent = seed()
    assert measured_time_us(timed(parent, 40.0).result) == pytest.approx(40.0)
    assert measured_time_us(timed(parent, 40.0, status="incorrect").result) is None


def test_review_compares_with_the_parent_and_labels_interpreter_timings() -> None:
    parent = seed()
    child = OfflineStrategy().propose(context([timed(parent, 100.0)], width=1))[0]
    ctx = context([timed(parent, 100.0)])
    verdict = OfflineStrategy().review(ctx, child, timed(child, 50.0).result)
    # three interpreter reps: a ratio, but no interval, so no claim that the prediction held
    assert verdict is not None and verdict.matches_prediction is None
    assert "2.00x" in verdict.feedback and "not a GPU timing" in verdict.feedback
    assert "no interval" in verdict.feedback
    sampled = context([timed(parent, 100.0, reps=20)])
    faster = OfflineStrategy().review(sampled, child, timed(child, 50.0, reps=20).result)
    assert faster is not None and faster.matches_prediction is True and "faster than the parent [" in faster.feedback
    same = OfflineStrategy().review(sampled, child, timed(child, 99.5, reps=20).result)
    assert same is not None and same.matches_prediction is False and "same as the parent" in same.feedback
    failed = OfflineStrategy().review(ctx, child, timed(child, 0.0, status="compile_error").result)
    assert failed is not None and failed.lessons and "compile_error" in failed.lessons[0]


@pytest.mark.parametrize("status", ["runtime_error", "timeout"])
def test_a_crash_or_timeout_teaches_no_lesson(status: str) -> None:
    """The machine may be at fault (a child that failed to start, a loaded host): no lesson for later runs."""
    parent = seed()
    child = OfflineStrategy().propose(context([timed(parent, 100.0)], width=1))[0]
    verdict = OfflineStrategy().review(
        context([timed(parent, 100.0)]), child, timed(child, 0.0, status).result
    )
    assert verdict is not None and status in verdict.feedback  # this run's next round still hears of it
    assert verdict.lessons == []


def test_a_kernel_without_tunables_stops_the_offline_strategy_clearly() -> None:
    plain = Candidate(task="rmsnorm", language="triton", source="def kernel(x, w, eps):\n    return x\n")
    with pytest.raises(AgentError, match="offline strategy.*CONFIG"):
        OfflineStrategy().propose(context([timed(plain, 1.0)]))


def _llm_kernel(task: str = "rmsnorm") -> Candidate:
    """What an LLM run leaves in the store: a correct kernel with no CONFIG / SEARCH_SPACE."""
    source = seed(task).source
    return Candidate(task=task, language="triton", source="# rewritten by a model\n" + source.split("CONFIG =")[0],
                     origin="coder")


def test_after_an_llm_run_the_search_starts_from_the_seed_when_the_best_declares_no_tunables() -> None:
    shipped = seed("rmsnorm")
    best, seeded = timed(_llm_kernel(), 50.0), timed(shipped, 100.0)
    # the seed in the beam behind the model's kernel: the search writes configs into the seed, not the best
    for beam, strategy in (([best, seeded], OfflineStrategy()), ([best], OfflineStrategy(seed=shipped))):
        candidates = strategy.propose(context(beam, width=2))
        assert len(candidates) == 2
        assert {c.parent_hash for c in candidates} == {shipped.source_hash}
        assert all(read_triton(c.source).config != read_triton(shipped.source).config for c in candidates)
    with pytest.raises(AgentError, match="CONFIG.*--from-seed"):  # no seed given, none in the beam: says the way out
        OfflineStrategy().propose(context([best]))


def test_from_seed_forces_the_seed_even_when_the_best_declares_tunables() -> None:
    from warpsmith.agents.offline import OfflineStrategyConfig

    shipped = seed("rmsnorm")
    tuned = Candidate(task="rmsnorm", language="triton", origin="offline",
                      source=write_triton(shipped.source, {"BLOCK_H": 512, "num_warps": 2}))
    beam = [timed(tuned, 50.0)]
    assert {c.parent_hash for c in OfflineStrategy(seed=shipped).propose(context(beam))} == {tuned.source_hash}
    forced = OfflineStrategy(OfflineStrategyConfig(from_seed=True), seed=shipped).propose(context(beam))
    assert forced and {c.parent_hash for c in forced} == {shipped.source_hash}


# --- the autotune-style sweep (warpsmith.agents.offline_sweep) ----------------------------------------------
def device_result(per_shape: dict[str, float]) -> EvalResult:
    """A device result whose per-rep samples lie within +-0.5% of each shape's median."""
    timings = [ShapeTiming(shape=s, median_us=t, spread_us=t * 0.005, reps=20, method="cuda_events",
                           samples_us=[t * (1 + 0.005 * ((i % 5) - 2) / 2) for i in range(20)])
               for s, t in per_shape.items()]
    return EvalResult(task="rmsnorm", language="triton", source_hash="x", status="correct", mode="device",
                      timings=timings)


def test_a_knob_whose_values_change_nothing_is_dropped() -> None:
    from warpsmith.agents.offline_sweep import inert_knobs

    space = {"BLOCK_H": [256, 1024], "num_warps": [1, 4, 8]}
    # num_warps moves every time by < 1%; BLOCK_H halves the large bucket's time
    measured = [({"BLOCK_H": b, "num_warps": w}, {"launch-bound": 3.0 * (1 + w / 1000),
                                                  "bandwidth-bound": (40.0 if b == 256 else 20.0) * (1 + w / 1000)})
                for b in space["BLOCK_H"] for w in space["num_warps"]]
    assert inert_knobs(measured, space) == ["num_warps"]
    # a knob never varied on its own is kept: nothing says it changes nothing
    assert inert_knobs(measured[:1], space) == []


def test_each_bucket_keeps_the_config_significantly_fastest_there() -> None:
    from warpsmith.agents.offline_sweep import best_per_bucket

    buckets = {"launch-bound": ["T=1", "T=16"], "bandwidth-bound": ["T=8192"]}
    seed_cfg, big, tiny = {"BLOCK_H": 1024}, {"BLOCK_H": 4096}, {"BLOCK_H": 256}
    measured = [
        (seed_cfg, device_result({"T=1": 4.0, "T=16": 4.2, "T=8192": 50.0})),
        (big, device_result({"T=1": 4.01, "T=16": 4.21, "T=8192": 30.0})),   # same small, faster large
        (tiny, device_result({"T=1": 3.0, "T=16": 3.1, "T=8192": 80.0})),   # faster small, slower large
    ]
    assert best_per_bucket(measured, buckets, comparable=True) == {"launch-bound": tiny, "bandwidth-bound": big}
    # not comparable (interpreter): the first correct config for every bucket
    assert best_per_bucket(measured, buckets, comparable=False) == {"launch-bound": seed_cfg,
                                                                     "bandwidth-bound": seed_cfg}


@pytest.mark.slow
def test_the_sweep_over_rmsnorm_emits_a_correct_kernel_with_a_dispatch_table() -> None:
    from warpsmith.agents.offline_sweep import sweep
    from warpsmith.evaluator.evaluate import evaluate

    task = get_task("rmsnorm")
    start = seed("rmsnorm")
    said: list[str] = []
    report = sweep(task, start, lambda c: evaluate(c, task, suite="check", device="cpu"), suite="bench",
                   hardware=CPU, max_configs=3, say=said.append)
    assert report.configs == 3 and len(said) == 3 and report.correct == 3
    assert "correctness only" in report.ranked_by and report.dropped == []
    assert set(report.table) == {"launch-bound", "bandwidth-bound"}
    assert report.table["launch-bound"] == report.table["bandwidth-bound"] == read_triton(start.source).config
    assert 0 < report.boundary_bytes < 1 << 40
    emitted = Candidate(task="rmsnorm", language="triton", source=report.source, origin="offline")
    assert "DISPATCH = {" in emitted.source and "def _dispatch_bucket(" in emitted.source
    with pytest.raises(NoTunables):  # tuned: the offline search starts from the seed, not from this kernel
        read_triton(emitted.source)
    result = evaluate(emitted, task, suite="check", device="cpu")  # static checks and trials, for real
    assert result.status == "correct", result.message
    assert "3 configs, 3 correct, 3 evaluations" in report.summary()
    assert "| kept for |" in report.table_text() and "launch-bound, bandwidth-bound |" in report.table_text()


@pytest.mark.slow
def test_a_dispatch_table_with_a_config_per_bucket_evaluates_correct() -> None:
    from warpsmith.agents.offline_sweep import emit_dispatch, tensor_positions
    from warpsmith.evaluator.evaluate import evaluate

    task = get_task("rmsnorm")
    source = seed("rmsnorm").source
    table = {"launch-bound": {"BLOCK_H": 256, "num_warps": 1}, "bandwidth-bound": {"BLOCK_H": 2048, "num_warps": 8}}
    assert tensor_positions(task) == [0, 1]  # x and weight; eps is a float
    for boundary in (0, 1 << 40):  # every shape in the one bucket, then in the other
        emitted = Candidate(task="rmsnorm", language="triton", source=emit_dispatch(source, table, boundary, [0, 1]))
        assert f"DISPATCH_BOUNDARY_BYTES = {boundary}" in emitted.source
        result = evaluate(emitted, task, suite="check", device="cpu")
        assert result.status == "correct", result.message


def test_with_sweep_round_one_is_every_declared_config_and_round_two_the_dispatch_table() -> None:
    task, start = get_task("rmsnorm"), seed("rmsnorm")
    config = OfflineStrategyConfig(sweep=True, max_configs=4)
    strategy = OfflineStrategy(config, seed=start, task=task, hardware=CPU, suite="smoke")
    first = strategy.propose(context([timed(start, 100.0)], width=1))
    assert len(first) == 4 and strategy.round_width(context([timed(start, 100.0)], width=1)) == 4
    assert first[0].source_hash == start.source_hash  # the seed's own config first (the loop has it cached)
    assert all(c.plan_item.startswith("sweep ") and c.parent_hash == start.source_hash for c in first)
    for candidate in first:  # what the loop hands over after each evaluation, fresh or cached
        strategy.observe(candidate, timed(candidate, 50.0).result)  # type: ignore[arg-type]
    second = strategy.propose(context([timed(start, 100.0)], round_index=2, width=2))
    assert second[0].plan_item.startswith("dispatch table (launch-bound: BLOCK_H=1024, num_warps=4")
    assert "DISPATCH = {" in second[0].source and len(second) <= 2
    assert strategy.round_width(context([timed(start, 100.0)], round_index=2, width=2)) == 2
    assert strategy.notes[0].startswith("sweep: 4 configs, 4 correct")
    assert "chosen by correctness only: interpreter times are not comparable" in strategy.notes[0]


def test_a_sweep_over_cuda_is_not_run_and_says_so() -> None:
    path = get_task("rmsnorm").seed_path("cuda")
    if path is None:
        pytest.skip("no CUDA seed for rmsnorm")
    start = Candidate(task="rmsnorm", language="cuda", source=path.read_text(), origin="seed")
    strategy = OfflineStrategy(OfflineStrategyConfig(sweep=True), seed=start, task=get_task("rmsnorm"), hardware=CPU)
    ctx = context([timed(start, 100.0)], width=2).model_copy(update={"language": "cuda"})
    assert len(strategy.propose(ctx)) <= 2 and strategy.notes == [
        "sweep: not run (cuda kernels: the sweep writes Triton CONFIGs only)"]
