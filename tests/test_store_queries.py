"""The queries the optimization loop and the dashboard rely on, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from datetime import UTC

import pytest
from _store_helpers import HW, OTHER_HW, seed_task_and_hardware
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from warpsmith.records.agents import Verdict
from warpsmith.records.evaluation import EvalResult, ShapeCorrectness, ShapeTiming
from warpsmith.records.evaluation import source_hash as evaluator_source_hash
from warpsmith.store import (
    Store,
    add_candidate,
    add_lessons,
    candidate_detail,
    create_run,
    ensure_hardware,
    ensure_task,
    find_evaluation,
    get_run,
    lessons_for,
    link_candidate,
    list_runs,
    list_tasks,
    llm_calls_of_run,
    mark_run_status,
    record_evaluation,
    record_llm_call,
    record_verdict,
    run_candidates,
    run_contents,
    set_llm_call_candidate,
)
from warpsmith.store.schema import CandidateRow, EvaluationRow
from warpsmith.store.search_reads import fastest_correct

# HOME, XDG_DATA_HOME and WARPSMITH_DB point into tmp (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("isolated_user_dirs")


def _run(store: Store, language: str = "triton", hardware: str = HW) -> str:
    with store.session() as s:
        return create_run(
            s, task="rmsnorm", language=language, strategy="offline", hardware_fingerprint=hardware
        ).id


def _candidate(store: Store, run_id: str, source: str, round_index: int = 0, language: str = "triton") -> str:
    with store.session() as s:
        row = add_candidate(s, task="rmsnorm", language=language, source=source, origin="offline")
        link_candidate(s, run_id, row.source_hash, round_index)
        return row.source_hash


def _evaluate(
    store: Store,
    digest: str,
    status: str,
    speedup: float | None,
    hardware: str = HW,
    suite: str = "bench",
    run_id: str | None = None,
    definition: str | None = "def-1",
    stage: str = "full",
):
    with store.session() as s:
        return record_evaluation(
            s,
            source_hash=digest,
            hardware_fingerprint=hardware,
            evaluator_version="1",
            suite=suite,
            task_definition_hash=definition,
            stage=stage,
            mode="device",
            status=status,
            result=EvalResult(
                task="rmsnorm", language="triton", source_hash=digest, status=status, mode="device", suite=suite,
                stage=stage, timings=[ShapeTiming(shape="T=1", median_us=10.0, spread_us=0.1, reps=5, speedup=speedup)] if speedup else [],
            ).model_dump(mode="json"),
            speedup=speedup,
            run_id=run_id,
        )


@pytest.fixture
def seeded(store: Store) -> Store:
    seed_task_and_hardware(store)
    return store


def test_the_same_source_is_stored_once(seeded: Store) -> None:
    source = "import triton\ndef kernel(x, w, eps):\n    ...\n"
    with seeded.session() as s:
        first = add_candidate(s, task="rmsnorm", language="triton", source=source, origin="seed")
    with seeded.session() as s:
        again = add_candidate(
            s, task="rmsnorm", language="triton", source=source, origin="coder", parent_hash="x"
        )
        other = add_candidate(s, task="rmsnorm", language="triton", source=source + "# v2\n", origin="coder")
        count = s.scalar(select(func.count()).select_from(CandidateRow))
    assert first.source_hash == again.source_hash != other.source_hash
    assert count == 2
    assert again.origin == "seed" and again.parent_hash is None  # the first writer's row is kept
    assert first.source_hash == evaluator_source_hash(source)


def test_a_wrong_source_hash_is_refused(seeded: Store) -> None:
    with pytest.raises(ValueError, match="does not match"), seeded.session() as s:
        add_candidate(s, task="rmsnorm", language="triton", source="a", source_hash=evaluator_source_hash("b"))


def test_a_candidate_for_an_unknown_task_violates_a_foreign_key(seeded: Store) -> None:
    with pytest.raises(IntegrityError), seeded.session() as s:
        add_candidate(s, task="no_such_task", language="triton", source="x")


def test_ensure_task_and_hardware_are_idempotent_and_refresh(seeded: Store) -> None:
    with seeded.session() as s:
        task = ensure_task(s, "rmsnorm", "new description", "def kernel(x, w, eps)")
        hw = ensure_hardware(s, HW, "NVIDIA H100 80GB HBM3", "cuda", "sm_90", {"driver": "580"})
    assert task.description == "new description"
    assert hw.details == {"driver": "580"}


def test_evaluations_are_appended_and_the_cache_serves_the_newest_of_an_identity(seeded: Store) -> None:
    run_id = _run(seeded)
    digest = _candidate(seeded, run_id, "k1")
    first = _evaluate(seeded, digest, "correct", 1.5, run_id=run_id)
    again = _evaluate(seeded, digest, "correct", 9.9, run_id=run_id)
    elsewhere = _evaluate(seeded, digest, "correct", 0.5, hardware=OTHER_HW)
    assert len({first.id, again.id, elsewhere.id}) == 3 and first.speedup == 1.5  # nothing overwritten
    with seeded.session() as s:
        hit = find_evaluation(s, digest, HW, "1", "bench", "def-1")
        assert hit is not None and hit.id == again.id and hit.speedup == 9.9  # the newest measurement
        assert find_evaluation(s, digest, HW, "2", "bench", "def-1") is None  # a newer evaluator re-evaluates
        assert find_evaluation(s, digest, HW, "1", "check", "def-1") is None
        assert find_evaluation(s, digest, HW, "1", "bench", "def-2") is None  # the task's definition changed
        assert find_evaluation(s, digest, HW, "1", "bench", "def-1", stage="screen") is None
        assert s.scalar(select(func.count()).select_from(EvaluationRow)) == 3


def test_a_screen_result_never_answers_for_the_full_suite(seeded: Store) -> None:
    digest = _candidate(seeded, _run(seeded), "k1")
    screened = _evaluate(seeded, digest, "correct", 3.0, stage="screen")
    with seeded.session() as s:
        assert find_evaluation(s, digest, HW, "1", "bench", "def-1", stage="full") is None
        assert find_evaluation(s, digest, HW, "1", "bench", "def-1", stage="screen").id == screened.id
    with pytest.raises(ValueError, match="stage"):
        _evaluate(seeded, digest, "correct", 3.0, stage="partial")


def test_an_unknown_definition_is_never_served_for_a_known_one(seeded: Store) -> None:
    """Rows from before definitions were hashed (NULL) answer only a lookup that does not know its hash either."""
    digest = _candidate(seeded, _run(seeded), "k1")
    legacy = _evaluate(seeded, digest, "correct", 2.0, definition=None)
    with seeded.session() as s:
        assert find_evaluation(s, digest, HW, "1", "bench", "def-1") is None
        assert find_evaluation(s, digest, HW, "1", "bench", None).id == legacy.id


def test_a_re_evaluation_leaves_what_the_old_run_saw_untouched(seeded: Store) -> None:
    old_run = _run(seeded)
    digest = _candidate(seeded, old_run, "k1")
    first = _evaluate(seeded, digest, "incorrect", None, run_id=old_run)
    new_run = _run(seeded)
    with seeded.session() as s:
        link_candidate(s, new_run, digest, 0)
    second = _evaluate(seeded, digest, "correct", 2.0, run_id=new_run)
    with seeded.session() as s:
        old_view = run_contents(s, old_run).candidates[0].evaluations
        new_view = run_contents(s, new_run).candidates[0].evaluations
        stored = s.get(EvaluationRow, first.id)
        newest = find_evaluation(s, digest, HW, "1", "bench", "def-1")
        summaries = {x.id: x for x in list_runs(s)}
    assert [(e.id, e.status) for e in old_view] == [(first.id, "incorrect")]
    assert [(e.id, e.status, e.run_id) for e in new_view] == [(second.id, "correct", new_run)]
    assert stored.status == "incorrect" and stored.run_id == old_run  # the row itself never changed
    assert newest.id == second.id
    assert (summaries[old_run].correct, summaries[new_run].correct) == (0, 1)


def test_a_re_evaluation_supersedes_the_older_row_in_rankings(seeded: Store) -> None:
    run_id = _run(seeded)
    digest = _candidate(seeded, run_id, "k1")
    _evaluate(seeded, digest, "correct", 5.0)
    _evaluate(seeded, digest, "correct", 1.1)  # measured again: the 5x was not real
    with seeded.session() as s:
        ranked = fastest_correct(s, "rmsnorm", HW)
    assert [(c.source, e.speedup) for c, e in ranked] == [("k1", 1.1)]


def test_llm_calls_keep_their_order_and_add_up_on_the_run(seeded: Store) -> None:
    run_id, other_run = _run(seeded), _run(seeded)
    for index, role in enumerate(["planner", "coder", "judge"]):
        with seeded.session() as s:
            record_llm_call(
                s,
                run_id,
                role=role,
                model="openai/test",
                messages=[{"role": "user", "content": f"call {index}"}],
                response=f"answer {index}",
                prompt_tokens=100,
                completion_tokens=10,
                cost_usd=0.25,
                round_index=0,
            )
    with seeded.session() as s:
        record_llm_call(s, other_run, role="planner", model="m", messages=[], response="elsewhere")
    with seeded.session() as s:
        calls = llm_calls_of_run(s, run_id)
        run = get_run(s, run_id)
    assert [c.seq for c in calls] == [0, 1, 2]
    assert [c.role for c in calls] == ["planner", "coder", "judge"]
    assert calls[1].messages == [{"role": "user", "content": "call 1"}]
    assert run.cost_usd == pytest.approx(0.75) and run.prompt_tokens == 300 and run.completion_tokens == 30


def test_fastest_correct_across_runs_fastest_first(seeded: Store) -> None:
    run_a, run_b = _run(seeded), _run(seeded)
    slow = _candidate(seeded, run_a, "slow")
    fast = _candidate(seeded, run_b, "fast", round_index=2)
    wrong = _candidate(seeded, run_b, "wrong but quick")
    cheat = _candidate(seeded, run_b, "too good to be true")
    cuda = _candidate(seeded, run_b, "cuda one", language="cuda")
    _evaluate(seeded, slow, "correct", 1.2)
    _evaluate(seeded, slow, "correct", 1.3, suite="check")  # two evaluations: listed once, at its best
    _evaluate(seeded, fast, "correct", 2.4)
    _evaluate(seeded, fast, "correct", 50.0, hardware=OTHER_HW)  # another machine does not count
    _evaluate(seeded, wrong, "incorrect", 9.0)
    _evaluate(seeded, cheat, "correct", 40.0)
    _evaluate(seeded, cuda, "correct", 3.0)
    with seeded.session() as s:
        verdict = Verdict(source_hash=cheat, suspicious=True, feedback="reads the reference")
        record_verdict(s, run_b, cheat, verdict.model_dump(mode="json"), suspicious=True, feedback=verdict.feedback)
        here = fastest_correct(s, "rmsnorm", HW)
        anywhere = fastest_correct(s, "rmsnorm", limit=2)
    # one entry per candidate at its best; never the flagged one; every language
    assert [(c.source, e.speedup) for c, e in here] == [("cuda one", 3.0), ("fast", 2.4), ("slow", 1.3)]
    assert [(c.source, e.hardware_fingerprint) for c, e in anywhere] == [("fast", OTHER_HW), ("cuda one", HW)]


def test_lessons_are_idempotent_and_per_task_and_hardware(seeded: Store) -> None:
    run_id = _run(seeded)
    with seeded.session() as s:
        assert add_lessons(s, "rmsnorm", HW, ["vectorize loads", "vectorize loads", "  "], run_id) == 1
    with seeded.session() as s:
        assert add_lessons(s, "rmsnorm", HW, ["vectorize loads ", "one warp per row is too few"]) == 1
        assert add_lessons(s, "rmsnorm", OTHER_HW, ["vectorize loads"]) == 1
        texts = [lesson.text for lesson in lessons_for(s, "rmsnorm", HW)]
    assert sorted(texts) == ["one warp per row is too few", "vectorize loads"]


def test_runs_list_newest_first_with_counts(seeded: Store) -> None:
    older, newer = _run(seeded), _run(seeded, language="cuda")
    ok = _candidate(seeded, older, "ok")
    bad = _candidate(seeded, older, "bad")
    _evaluate(seeded, ok, "correct", 1.1, run_id=older)
    _evaluate(seeded, bad, "compile_error", None, run_id=older)
    with seeded.session() as s:
        link_candidate(s, newer, ok, 0, relation="inherited")
        mark_run_status(s, older, "completed", "3 rounds")
        summaries = list_runs(s)
        completed = list_runs(s, status="completed")
    assert [x.id for x in summaries] == [newer, older]
    assert (summaries[1].candidates, summaries[1].correct) == (2, 1)
    assert (summaries[0].candidates, summaries[0].correct) == (0, 0)  # inherited parents are not its own
    assert [x.id for x in completed] == [older]
    assert summaries[1].finished_at is not None and summaries[1].finished_at.tzinfo is not None


def test_run_detail_has_rounds_evaluations_verdicts_and_calls(seeded: Store) -> None:
    run_id = _run(seeded)
    seed = _candidate(seeded, run_id, "seed", round_index=0)
    with seeded.session() as s:
        call = record_llm_call(
            s, run_id, role="coder", model="m", messages=[], response="```python\nchild```"
        )
        child = add_candidate(
            s, task="rmsnorm", language="triton", source="child", origin="coder", parent_hash=seed
        )
        link_candidate(s, run_id, child.source_hash, 1, position=0)
        set_llm_call_candidate(s, call.id, child.source_hash)
    _evaluate(seeded, seed, "correct", 1.0, run_id=run_id)
    _evaluate(seeded, child.source_hash, "correct", 1.7, run_id=run_id)
    _evaluate(seeded, child.source_hash, "correct", 99.0, hardware=OTHER_HW, run_id=run_id)
    with seeded.session() as s:
        verdict = Verdict(source_hash=child.source_hash, bottleneck="memory")
        record_verdict(s, run_id, child.source_hash, verdict.model_dump(mode="json"), bottleneck="memory", round_index=1)
        detail = run_contents(s, run_id)
        round_one = run_candidates(s, get_run(s, run_id), round_index=1)
        about_child = candidate_detail(s, child.source_hash)
    assert detail is not None and [v.link.round_index for v in detail.candidates] == [0, 1]
    assert [v.candidate.source for v in detail.candidates] == ["seed", "child"]
    assert [e.speedup for e in detail.candidates[1].evaluations] == [1.7]  # the run's hardware only
    assert detail.candidates[1].evaluation.speedup == 1.7  # the one `runs show` and the dashboard show
    assert detail.candidates[1].verdicts[0].verdict.bottleneck == "memory"
    assert [c.seq for c in detail.llm_calls] == [0]
    assert [v.candidate.source for v in round_one] == ["child"]
    assert about_child.parent.source == "seed" and about_child.llm_calls[0].id == call.id
    assert len(about_child.evaluations) == 2 and [r.run_id for r in about_child.runs] == [run_id]
    with seeded.session() as s:
        assert candidate_detail(s, seed).children == [child.source_hash]
        assert run_contents(s, "r-missing") is None


def test_timestamps_come_back_in_utc(seeded: Store) -> None:
    run_id = _run(seeded)
    with seeded.session() as s:
        run = get_run(s, run_id)
    assert run.created_at.tzinfo == UTC and run.updated_at >= run.created_at


def test_an_eval_result_with_nan_errors_round_trips(seeded: Store) -> None:
    """A NaN output gives max_abs_err=nan: Postgres JSON refuses bare NaN, so it must still store and read back."""
    digest = _candidate(seeded, _run(seeded), "returns nan")
    result = EvalResult(
        task="rmsnorm",
        language="triton",
        source_hash=digest,
        status="incorrect",
        mode="interpreter",
        correctness=[
            ShapeCorrectness(shape="T=1", ok=False, max_abs_err=float("nan"), max_rel_err=float("inf"))
        ],
    )
    with seeded.session() as s:
        record_evaluation(
            s,
            source_hash=digest,
            hardware_fingerprint=HW,
            evaluator_version=result.evaluator_version,
            suite=result.suite,
            task_definition_hash="def-1",
            mode=result.mode,
            status=result.status,
            result=result.model_dump(mode="json"),
        )
    with seeded.session() as s:
        stored = find_evaluation(s, digest, HW, result.evaluator_version, result.suite, "def-1")
    back = stored.result
    assert math.isnan(back.correctness[0].max_abs_err) and back.correctness[0].max_rel_err == math.inf


def test_tasks_are_listed_by_name(seeded: Store) -> None:
    with seeded.session() as s:
        ensure_task(s, "moe_combine")
        assert list_tasks(s) == ["moe_combine", "rmsnorm"]


def test_a_stored_result_this_version_cannot_read_leaves_the_evaluation_readable(seeded: Store) -> None:
    """A result written by another version (or by hand) must not make the run unviewable: the row's own
    columns still answer, the result is left out."""
    run_id = _run(seeded)
    digest = _candidate(seeded, run_id, "k-foreign")
    with seeded.session() as s:
        record_evaluation(s, source_hash=digest, hardware_fingerprint=HW, evaluator_version="0", suite="bench",
                          mode="device", status="correct", result={"timings": "not a list"}, speedup=2.0,
                          run_id=run_id)
    with seeded.session() as s:
        found = find_evaluation(s, digest, HW, "0", "bench", None)
    assert found is not None and found.status == "correct" and found.speedup == 2.0 and found.result is None
