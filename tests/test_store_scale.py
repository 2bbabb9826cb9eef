"""The store at evolution scale: counts, rounds and leaderboards computed in SQL, pages, plans
that do not depend on statistics, and text that can always be stored and shown. SQLite and
PostgreSQL (the plan test: SQLite, whose planner has no statistics until ANALYZE runs)."""

from __future__ import annotations

import logging

import pytest
from _store_helpers import HW, OTHER_HW, eval_result, seed_task_and_hardware
from sqlalchemy import event

from warpsmith.records.views import board_key
from warpsmith.store import (
    Store,
    add_candidate,
    create_run,
    link_candidate,
    mark_run_status,
    record_evaluation,
    record_llm_call,
    record_verdict,
)
from warpsmith.store.listing import (
    count_llm_calls,
    count_run_candidates,
    count_runs,
    leaderboards,
    list_runs,
    llm_calls_of_run,
    run_rounds,
    run_summary,
)
from warpsmith.store.reads import get_run, run_candidates

# HOME, XDG_DATA_HOME and WARPSMITH_DB point into tmp (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("isolated_user_dirs")


@pytest.fixture
def seeded(store: Store) -> Store:
    seed_task_and_hardware(store)
    return store


def _run(store: Store, hardware: str = HW) -> str:
    with store.session() as s:
        return create_run(
            s, task="rmsnorm", language="triton", strategy="offline", hardware_fingerprint=hardware
        ).id


def _kernel(
    store: Store,
    run_id: str,
    source: str,
    status: str,
    speedup: float | None,
    round_index: int = 0,
    hardware: str = HW,
    time_us: float | None = None,
    mode: str = "device",
) -> str:
    with store.session() as s:
        digest = add_candidate(s, task="rmsnorm", language="triton", source=source).source_hash
        link_candidate(s, run_id, digest, round_index)
        record_evaluation(
            s, source_hash=digest, hardware_fingerprint=hardware, evaluator_version="1", suite="bench",
            mode=mode, status=status, result=eval_result(digest, status, mode, message="x" * 1000), speedup=speedup, median_us_total=time_us,
            run_id=run_id,
        )  # fmt: skip
    return digest


def test_counts_and_rounds_come_from_the_runs_own_links(seeded: Store) -> None:
    run_id = _run(seeded)
    _kernel(seeded, run_id, "a", "correct", 1.5, round_index=0, time_us=10.0)
    _kernel(seeded, run_id, "b", "incorrect", None, round_index=0)
    _kernel(seeded, run_id, "c", "correct", 2.5, round_index=1, time_us=7.0)
    _kernel(seeded, run_id, "d", "correct", 9.0, round_index=1, hardware=OTHER_HW)  # not the run's hardware
    with seeded.session() as s:
        summary = run_summary(s, run_id)
        rounds = run_rounds(s, run_id, HW)
    assert summary is not None and (summary.candidates, summary.correct) == (4, 3)
    assert [(r.round_index, r.candidates, r.correct, r.best_speedup, r.best_time_us) for r in rounds] == [
        (0, 2, 1, 1.5, 10.0),
        (1, 2, 1, 2.5, 7.0),
    ]


def test_runs_candidates_and_calls_come_in_pages(seeded: Store) -> None:
    ids = [_run(seeded) for _ in range(5)]
    for k in range(7):
        _kernel(seeded, ids[0], f"kernel {k}", "correct", 1.0 + k, round_index=k)
    with seeded.session() as s:
        for k in range(6):
            record_llm_call(
                s, ids[0], role="coder", model="m", messages=[{"role": "user", "content": f"m{k}"}]
            )
    with seeded.session() as s:
        pages = [[r.id for r in list_runs(s, limit=2, offset=o)] for o in (0, 2, 4)]
        assert sum(pages, []) == ids[::-1] and count_runs(s) == 5
        page = run_candidates(s, get_run(s, ids[0]), limit=3, offset=3, with_texts=False)
        assert [v.link.round_index for v in page] == [3, 4, 5] and [len(v.evaluations) for v in page] == [1, 1, 1]
        # not loaded: a list never carries the texts, and says so
        assert page[0].candidate.source is None and page[0].evaluations[0].result is None
        assert count_run_candidates(s, ids[0]) == 7
        calls = llm_calls_of_run(s, ids[0], limit=2, offset=4, with_messages=False)
        assert [c.seq for c in calls] == [4, 5] and count_llm_calls(s, ids[0]) == 6
        assert calls[0].messages == [] and calls[0].response is None and not calls[0].messages_included


def test_leaderboards_are_top_n_per_board_one_entry_per_kernel(seeded: Store) -> None:
    run_id = _run(seeded)
    for k in range(6):
        _kernel(seeded, run_id, f"fast {k}", "correct", 1.0 + k)
    twice = _kernel(seeded, run_id, "measured twice", "correct", 0.5)
    with seeded.session() as s:
        record_evaluation(
            s, source_hash=twice, hardware_fingerprint=HW, evaluator_version="1", suite="bench", mode="device",
            status="correct", result=eval_result(twice), speedup=10.0, run_id=run_id,
        )  # fmt: skip
    _kernel(seeded, run_id, "wrong but fast", "incorrect", 50.0)
    for k in range(3):  # interpreter mode: no speedup, ranked by time
        _kernel(seeded, run_id, f"interp {k}", "correct", None, time_us=30.0 - k, mode="interpreter")
    with seeded.session() as s:
        entries = leaderboards(s, "rmsnorm", size=3)
    device = [e for e in entries if e.mode == "device"]
    assert [e.speedup for e in device] == [10.0, 6.0, 5.0] and [e.rank for e in device] == [1, 2, 3]
    assert device[0].source_hash == twice
    interpreter = [e for e in entries if e.mode == "interpreter"]
    assert [e.time_us for e in interpreter] == [28.0, 29.0, 30.0]
    # the SQL order is records.views.board_key, the one rank key of a leaderboard
    for board in (device, interpreter):
        assert sorted(board, key=lambda e: board_key(e.speedup, e.time_us, e.rank)) == board


def test_the_correct_count_is_not_planned_on_the_status_index(seeded: Store) -> None:
    if seeded.dialect != "sqlite":
        pytest.skip("the planner without statistics is SQLite's")
    run_id = _run(seeded)
    _kernel(seeded, run_id, "a", "correct", 1.0)
    statements: list[tuple[str, object]] = []

    def remember(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        statements.append((statement, parameters))

    event.listen(seeded.engine, "before_cursor_execute", remember)
    try:
        with seeded.session() as s:
            list_runs(s)
            run_rounds(s, run_id, HW)
            leaderboards(s, "rmsnorm")
    finally:
        event.remove(seeded.engine, "before_cursor_execute", remember)
    counted = [(sql, p) for sql, p in statements if "evaluations" in sql and "status" in sql]
    assert len(counted) >= 3
    with seeded.engine.connect() as connection:
        for sql, parameters in counted:
            plan = " ".join(
                str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)
            )
            assert "ix_evaluations_status" not in plan, plan


def test_a_lone_surrogate_in_an_llm_answer_is_stored_as_a_replacement_character(
    seeded: Store, caplog: pytest.LogCaptureFixture
) -> None:
    run_id = _run(seeded)
    with caplog.at_level(logging.WARNING, logger="warpsmith.store"), seeded.session() as s:
        record_llm_call(
            s, run_id, role="coder", model="m", messages=[{"role": "user", "content": "hi \udc80"}],
            response="answer \ud800 with a pair \ud83d\ude00", error="bad \udfff",
        )  # fmt: skip
        record_verdict(s, run_id, add_candidate(s, task="rmsnorm", language="triton", source="k").source_hash,
                       {"feedback": "x\ud800"}, feedback="y\ud800")  # fmt: skip
        mark_run_status(s, run_id, "failed", "stopped: \ud800")
    with seeded.session() as s:
        (call,) = llm_calls_of_run(s, run_id)
        assert call.response == "answer \ufffd with a pair \U0001f600"
        assert call.messages[0]["content"] == "hi \ufffd" and call.error == "bad \ufffd"
        assert run_summary(s, run_id).status_message == "stopped: \ufffd"  # type: ignore[union-attr]
    assert any("U+FFFD" in r.getMessage() and "LLM call" in r.getMessage() for r in caplog.records)


def test_a_kernel_source_with_a_lone_surrogate_is_refused_in_one_line(seeded: Store) -> None:
    with seeded.session() as s, pytest.raises(ValueError, match="invalid Unicode") as caught:
        add_candidate(s, task="rmsnorm", language="triton", source="x = '\ud800'")
    assert "\n" not in str(caught.value)
