"""What the agents remember and read: lessons (language, origin, evidence, near-duplicates merged),
the attempt history, verdicts labelled by candidate, the objective, profile lines, slot kinds.

Real parts: a SQLite store through open_store (migrations applied), the recorded ncu CSV, and
for the loop the real litellm client against the scripted server with the real evaluator
(Triton interpreter).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from _optimize_helpers import GOOD_EDIT, SEED_CONFIG_LINE, VERDICT, query
from _scripted_llm_server import ScriptedLLMServer

from warpsmith.agents import memory
from warpsmith.agents.call_log import CallLog
from warpsmith.agents.exploration import crossover_parents, slot_kinds
from warpsmith.agents.llm import Budget, LiteLLMConfig, LiteLLMModel
from warpsmith.agents.llm_strategy import LLMStrategy
from warpsmith.agents.profile_view import profile_lines
from warpsmith.evaluator.hardware import detect_hardware
from warpsmith.evaluator.profile import parse_ncu_csv
from warpsmith.records.agents import CandidateSummary
from warpsmith.records.evaluation import Candidate, EvalResult, Hardware, ShapeTiming, source_hash
from warpsmith.records.runs import RunSettings
from warpsmith.search.optimize import run_optimization
from warpsmith.store import lessons as store_lessons
from warpsmith.store import writes
from warpsmith.store.db import open_store
from warpsmith.tasklib import get_task

HW = Hardware(device_name="NVIDIA H100 80GB HBM3", backend="cuda", arch="sm_90", memory_bandwidth_gbps=3350)


# --- lessons --------------------------------------------------------------------------------
def test_a_reworded_lesson_is_the_same_lesson_but_other_numbers_are_not():
    assert store_lessons.same_lesson("moe_dispatch: retuning block sizes alone changed nothing here",
                                     "moe_dispatch - retuning the block sizes alone changed nothing here.")
    assert not store_lessons.same_lesson("BLOCK_H 128 beats 64 at T=512", "BLOCK_H 256 beats 64 at T=512")
    assert not store_lessons.same_lesson("one program per token beats one per expert",
                                         "vectorized 16-byte loads reach 80% of the floor")


def _store(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with store.session() as session:
        writes.ensure_task(session, "moe_dispatch")
        writes.ensure_hardware(session, HW.fingerprint, HW.device_name, HW.backend, HW.arch, HW.model_dump(mode="json"))
    return store


def test_lessons_merge_near_duplicates_keep_evidence_and_stay_in_their_language(tmp_path: Path):
    store = _store(tmp_path)
    fp = HW.fingerprint
    with store.session() as session:
        first = store_lessons.add_lessons(session, "moe_dispatch", fp, ["one program per token wins at T>=512"],
                                          language="triton", evidence={"source_hash": "a" * 64, "change": "1.3x"})
        again = store_lessons.add_lessons(session, "moe_dispatch", fp, ["One program per token wins at T >= 512."],
                                          language="triton", evidence={"source_hash": "b" * 64, "change": "1.2x"})
        store_lessons.add_lessons(session, "moe_dispatch", fp, ["use cp.async for the row copies"], language="cuda")
        store_lessons.add_lessons(session, "moe_dispatch", fp, ["offline: config BLOCK_H=64 gives compile_error"],
                                  language="triton", origin="offline")
    assert (first, again) == (1, 0)
    with store.session() as session:
        triton = store_lessons.prompt_lessons(session, "moe_dispatch", fp, "triton")
        cuda = store_lessons.prompt_lessons(session, "moe_dispatch", fp, "cuda")
        assert [(r.text, r.seen, [e["source_hash"][0] for e in r.evidence]) for r in triton] == [
            ("one program per token wins at T>=512", 2, ["a", "b"])]
        assert [r.text for r in cuda] == ["use cp.async for the row copies"]  # no Triton lesson, no offline note
    store.close()


# --- the objective, regimes, attempts -------------------------------------------------------
def _timed(source: str, times: dict[str, float], mode: str = "device") -> EvalResult:
    timings = [ShapeTiming(shape=label, median_us=us, spread_us=0.1, reps=50) for label, us in times.items()]
    return EvalResult(task="moe_dispatch", language="triton", source_hash=source_hash(source), status="correct",
                      mode=mode, timings=timings)  # type: ignore[arg-type]


def test_shapes_carry_dimensions_floors_and_regimes_and_changes_are_per_regime():
    briefs = memory.shape_briefs(get_task("moe_dispatch"), "bench", HW)
    assert all(b.dims and b.bytes > 0 and b.floor_us for b in briefs)
    small = next(b for b in briefs if b.dims["T"] == 1)
    large = max(briefs, key=lambda b: b.bytes)
    assert (small.regime, large.regime) == ("launch-bound", "bandwidth-bound")
    assert large.floor_us == pytest.approx(large.bytes / 3350e3)
    parent = _timed("p", {small.label: 10.0, large.label: 100.0})
    child = _timed("c", {small.label: 10.05, large.label: 80.0})
    assert memory.change_by_regime(child, parent, briefs) == {"bandwidth-bound": "1.25x faster",
                                                              "launch-bound": "1.00x (same)"}
    interpreted = _timed("c", {small.label: 1.0}, mode="interpreter")
    assert memory.change_by_regime(interpreted, _timed("p", {small.label: 2.0}, "interpreter"), briefs) == {
        "all": "not compared (interpreter wall clock)"}
    # a crossover pairs the best on launch-bound shapes with the best on bandwidth-bound ones
    summaries = [CandidateSummary(candidate=Candidate(task="moe_dispatch", language="triton", source=s),
                                  result=_timed(s, t))
                 for s, t in (("fast-large", {small.label: 12.0, large.label: 70.0}),
                              ("fast-small", {small.label: 6.0, large.label: 90.0}))]
    assert crossover_parents(summaries, [small, large]) == (source_hash("fast-small"), source_hash("fast-large"),
                                                            "the best on launch-bound shapes with the best on "
                                                            "bandwidth-bound ones")
    assert crossover_parents(summaries, [])[2] == "the two best so far"  # type: ignore[index]


def test_slots_explore_one_new_algorithm_per_round_and_cross_over_from_round_two():
    assert slot_kinds(1, 1, 3) == ["exploit"]
    assert slot_kinds(1, 4, 3) == ["exploit", "exploit", "exploit", "new_algorithm"]
    assert slot_kinds(2, 4, 3) == ["exploit", "exploit", "crossover", "new_algorithm"]
    assert slot_kinds(2, 4, 3, may_port=True) == ["exploit", "port", "crossover", "new_algorithm"]


# --- profiles -------------------------------------------------------------------------------
def test_a_recorded_ncu_profile_is_grouped_and_labelled():
    metrics = parse_ncu_csv((Path(__file__).parent / "_build_ncu_h100.csv").read_text(), "scale_shift")
    lines = profile_lines({**metrics, "dram__bytes.sum": 8.0e6, "lts__t_sector_hit_rate.pct": 12.5,
                           "smsp__average_warps_issue_stalled_long_scoreboard_per_issue_active.ratio": 3.2})
    text = "\n".join(lines)
    assert "speed of light: memory 20%, compute 20%" in text
    assert "memory: DRAM bytes 8.0 MB, L2 hit rate 12%" in text
    assert "occupancy: achieved 70%, limited by registers (16 blocks per SM)" in text
    assert "top stalls (warp cycles per issued instruction): long_scoreboard 3.2" in text
    assert "resources: 16 registers/thread, 0 B shared/block, no spills" in text
    denied = profile_lines({"skipped": "ncu exited 1 with no metrics: ==ERROR== ERR_NVGPUCTRPERM - no permission"})
    assert len(denied) == 1 and "not permitted" in denied[0] and "ERR_NVGPUCTRPERM" in denied[0]
    assert memory.regime_summary(None, []) == {} and profile_lines({}) == []


# --- the loop: round 2's planner reads round 1's verdicts by candidate id --------------------
KEY_ENV = "WARPSMITH_TEST_MEMORY_KEY"


def _plan(parent: str, ideas: list[str]) -> str:
    items = [{"idea": idea, "parent_hash": parent[:12], "predicted_effect": "same speed"} for idea in ideas]
    return "```json\n" + json.dumps({"items": items, "notes": ""}) + "\n```"


def _verdict(feedback: str, lesson: str, bottleneck: str) -> str:
    return json.dumps({**json.loads(VERDICT), "feedback": feedback, "lessons": [lesson], "bottleneck": bottleneck})


EIGHT_WARPS = GOOD_EDIT.replace('"num_warps": 2', '"num_warps": 8')


@pytest.mark.slow
def test_round_two_planner_reads_round_one_verdicts_by_candidate_id(tmp_path: Path):
    seed = get_task("rmsnorm").seed_path("triton")
    assert seed is not None and SEED_CONFIG_LINE in seed.read_text()
    seed_hash = source_hash(seed.read_text())
    two, eight = (source_hash(seed.read_text().replace(SEED_CONFIG_LINE, f'CONFIG = {{"BLOCK_H": 1024, "num_warps": {n}}}'))
                  for n in (2, 8))
    round_one = {"verdicts": [  # one judge request reviews the whole round
        {**json.loads(_verdict("two warps: no change, keep",
                               "rmsnorm on the interpreter: num_warps does not change the result", "program count")),
         "candidate": two[:12]},
        {**json.loads(_verdict("eight warps: no change either",
                               "rmsnorm on the interpreter - num_warps does not change the result.",
                               "interpreter overhead")), "candidate": eight[:12]},
    ]}
    script = [
        _plan(seed_hash, ["two warps per row", "eight warps per row"]),
        f"=== IDEA 1 ===\n{GOOD_EDIT}\n=== IDEA 2 ===\n{EIGHT_WARPS}",  # one request: both start from the seed
        json.dumps(round_one),
        _plan(seed_hash, ["larger blocks"]), GOOD_EDIT.replace('"num_warps": 2', '"num_warps": 1'),
        _verdict("one warp: same", "rmsnorm: BLOCK_H 1024 covers every smoke shape", "none"),
    ]
    os.environ[KEY_ENV] = "sk-test-not-a-secret"
    db = tmp_path / "store.db"
    store = open_store(f"sqlite:///{db}")
    call_log = CallLog()
    with ScriptedLLMServer(script) as srv:
        config = LiteLLMConfig(model="openai/scripted", api_base=srv.base_url, api_key_env=KEY_ENV, backoff_s=0.001,
                               backoff_max_s=0.01, timeout_s=5.0, max_retries=1, budget=Budget())
        settings = RunSettings(rounds=2, width=2, suite="smoke", device="cpu", model="openai/scripted")
        summary = run_optimization(get_task("rmsnorm"), LLMStrategy(LiteLLMModel(config, on_call=call_log)), store,
                                   settings, detect_hardware("cpu"), call_log=call_log)
    store.close()
    assert summary.status == "completed", summary.message
    assert srv.unscripted == 0 and srv.remaining == 0
    first, second = (srv.requests[i]["messages"][1]["content"] for i in (0, 3))
    assert "Round 1 of 2" in first and "Round 2 of 2" in second
    assert "def reference" in first and "| tiny" in first  # the reference and the shapes with dimensions
    assert f"candidate {two[:12]}: bottleneck: program count; prediction held; two warps: no change, keep" in second
    assert f"candidate {eight[:12]}: bottleneck: interpreter overhead; prediction held; eight warps" in second
    assert f"| {two[:12]} | 1 | {seed_hash[:12]} | two warps per row | correct |" in second  # the attempt history
    assert "2. new_algorithm" in second
    judge_round_two = srv.requests[5]["messages"][1]["content"]
    assert "Lessons already stored" in judge_round_two and "(taught 2x)" in judge_round_two
    rows = query(db, "SELECT text, language, origin, seen, evidence FROM lessons ORDER BY id")
    assert [(t, lang, o, s) for t, lang, o, s, _ in rows] == [
        ("rmsnorm on the interpreter: num_warps does not change the result", "triton", "llm", 2),
        ("rmsnorm: BLOCK_H 1024 covers every smoke shape", "triton", "llm", 1),
    ]
    assert [e["source_hash"] for e in json.loads(rows[0][4])] == [two, eight]
    # the run replays with the server gone: the batched coder request is served as recorded
    from warpsmith.search.replay import replay_run

    with open_store(f"sqlite:///{db}") as store:
        outcome = replay_run(store, summary.run_id, get_task("rmsnorm"), detect_hardware("cpu"), device="cpu")
    assert outcome.status == "completed", outcome.message
    assert outcome.replay_hashes == outcome.original_hashes and len(outcome.original_hashes) == 3


def test_the_loop_profiles_the_round_best_and_a_profile_that_cannot_run_says_why(tmp_path: Path):
    """The real evaluator with profile=True; on this CPU it says why nothing was profiled, and that
    reason is the one line the next prompt shows."""
    from warpsmith.agents.coordinator import default_evaluate, seed_candidate
    from warpsmith.agents.measure import Measurer

    task = get_task("rmsnorm")
    seed = seed_candidate(task, "triton")
    recorded: list[EvalResult] = []
    settings = RunSettings(suite="smoke", device="cpu")
    measurer = Measurer(default_evaluate, task, settings, recorded.append, lambda *a: None, device_mode=False)
    first = measurer.call(seed)
    beam = [CandidateSummary(candidate=seed, result=first)]
    assert measurer.profile_top(beam, {seed.source_hash}, 2) == []  # no device: nothing profiled
    measurer.device_mode = True  # what the loop sets on a GPU; the evaluator still runs this CPU
    (profiled,) = measurer.profile_top(beam, {seed.source_hash}, 2)
    assert profiled.ok and "skipped" in profiled.profile and recorded[-1] is profiled
    assert measurer.profile_top(beam, {"another round's kernel"}, 2) == []
    (line,) = profile_lines(profiled.profile)
    assert line.startswith("profile: not available: ")


def test_the_planner_reads_the_objective_shapes_floors_hardware_and_regimes():
    from warpsmith.agents.planner import Planner
    from warpsmith.agents.round_context import reference_source
    from warpsmith.records.agents import RoundContext

    task = get_task("moe_dispatch")
    hw = HW.model_copy(update={"sm_count": 132, "shared_memory_per_sm_bytes": 233472, "registers_per_sm": 65536,
                               "l2_bytes": 52428800})
    briefs = memory.shape_briefs(task, "bench", hw)
    seed = Candidate(task=task.name, language="triton", source="# a kernel\n", origin="seed")
    timings = [ShapeTiming(shape=b.label, median_us=2 * (b.floor_us or 0) + 3, spread_us=0.1, reps=50,
                           call_median_us=2 * (b.floor_us or 0) + 8, speedup=1.5) for b in briefs]
    result = EvalResult(task=task.name, language="triton", source_hash=seed.source_hash, status="correct",
                        mode="device", timings=timings)
    ctx = RoundContext(task_name=task.name, task_description=task.description, task_signature=task.signature,
                       language="triton", hardware=hw, round_index=1, rounds_total=3, width=4,
                       beam=[CandidateSummary(candidate=seed, result=result)], shapes=briefs,
                       reference_source=reference_source(task), kinds=slot_kinds(1, 4, 1))
    text = Planner(None).messages(ctx)[1]["content"]  # type: ignore[arg-type]
    big = next(b for b in briefs if b.label == "deepseek-v3 T=512")
    assert (f"| deepseek-v3 T=512 | k=8 E=256 ep=1 H=7168 | {big.bytes} | {big.floor_us:.2f} | bandwidth-bound | "
            f"{2 * big.floor_us + 3:.2f} | {2 * big.floor_us + 8:.2f} | 1.50x |") in text
    assert "| NVIDIA H100 80GB HBM3 (sm_90) | 132 | 3350 GB/s | 50.0 MiB | 228 KiB | 65536 |" in text
    assert "def reference(self, hidden_states" in text and "bandwidth-bound: 18 shapes, 1.50x vs eager" in text
    assert "4. new_algorithm: a different algorithm" in text and "Round 1 of 3" in text


def test_a_port_item_is_written_as_a_whole_file_in_the_allowed_language():
    from _agents_llm_helpers import make_ctx, scripted_model

    from warpsmith.records.agents import LLMCall

    ctx = make_ctx(width=1).model_copy(update={"languages": ["cuda"], "kinds": ["port"]})
    parent = ctx.beam[0].candidate
    item = {"idea": "the same row-per-block kernel in CUDA", "parent_hash": parent.source_hash[:12], "kind": "port"}
    plan = "```json\n" + json.dumps({"items": [item]}) + "\n```"
    cuda = "```cuda\n#include <ATen/ATen.h>\nat::Tensor kernel(const at::Tensor& x, const at::Tensor& w, double eps);\n```"
    calls: list[LLMCall] = []
    with ScriptedLLMServer([plan, cuda]) as srv:
        (candidate,) = LLMStrategy(scripted_model(srv, calls)).propose(ctx)
    assert candidate.language == "cuda" and candidate.parent_hash == parent.source_hash
    assert candidate.source.startswith("#include <ATen/ATen.h>")
    system, user = (m["content"] for m in srv.requests[1]["messages"])
    assert "Candidate format: CUDA" in system and "PYBIND11_MODULE` is refused" in system
    assert "## The triton kernel to port to cuda" in user and "def kernel(x, weight, eps):" in user
