"""Run lifecycle and crash safety: status, stale writers, resume, and a writer killed with SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from _store_helpers import HW, seed_task_and_hardware
from sqlalchemy import func, select, text, update

from warpsmith.store import (
    RunNotFoundError,
    Store,
    add_candidate,
    create_run,
    get_run,
    link_candidate,
    llm_calls_of_run,
    mark_run_status,
    mark_stale_runs,
    open_store,
    record_llm_call,
    resume_run,
    update_run_progress,
)
from warpsmith.store.runs import new_run_id
from warpsmith.store.schema import (
    CandidateRow,
    EvaluationRow,
    LLMCallRow,
    RunCandidateRow,
    RunEvaluationRow,
    RunRow,
)

# HOME, XDG_DATA_HOME and WARPSMITH_DB point into tmp (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("isolated_user_dirs")

# The writer a user's `warpsmith optimize` is: one short transaction per step, forever.
WRITER = """
import sys
from warpsmith.store import (add_candidate, create_run, link_candidate, open_store, record_evaluation,

                             record_llm_call, update_run_progress)
store = open_store(sys.argv[1])
with store.session() as s:
    run = create_run(s, task="rmsnorm", language="triton", strategy="offline", hardware_fingerprint=sys.argv[2])
print(run.id, flush=True)
if len(sys.argv) > 4:  # a start line shared with another writer
    import pathlib, time
    while not pathlib.Path(sys.argv[4]).exists():
        time.sleep(0.001)
step, parent = 0, None
steps = int(sys.argv[3]) if len(sys.argv) > 3 else None  # None: until killed
while step != steps:
    with store.session() as s:
        candidate = add_candidate(s, task="rmsnorm", language="triton", source=f"kernel {step}\\n" + "#" * 4000,
                                  origin="offline", parent_hash=parent)
        link_candidate(s, run.id, candidate.source_hash, step // 4, step % 4)
        record_evaluation(s, source_hash=candidate.source_hash, hardware_fingerprint=sys.argv[2],
                          evaluator_version="1", suite="bench", mode="device", status="correct",
                          result={"log": "x" * 8000}, speedup=1.0 + step / 100, run_id=run.id)
        record_llm_call(s, run.id, role="coder", model="m", messages=[{"role": "user", "content": "go"}],
                        response="ok" * 500, candidate_hash=candidate.source_hash)
        update_run_progress(s, run.id, rounds_done=step // 4)
    print(step, flush=True)
    step, parent = step + 1, candidate.source_hash
"""


@pytest.fixture
def seeded(store: Store) -> Store:
    seed_task_and_hardware(store)
    return store


def _new_run(store: Store) -> str:
    with store.session() as s:
        return create_run(s, task="rmsnorm", language="triton", strategy="llm", model="openai/x").id


def test_run_ids_are_readable_sortable_and_unique() -> None:
    ids = {new_run_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(i.startswith("r-") and len(i) == len("r-20261123-085600-ab12cd") for i in ids)


def test_status_transitions_and_validation(seeded: Store) -> None:
    run_id = _new_run(seeded)
    with seeded.session() as s:
        run = get_run(s, run_id)
        assert (run.status, run.finished_at, run.pid) == ("running", None, os.getpid())
        update_run_progress(s, run_id, rounds_done=2, status_message="round 2 of 5")
        done = mark_run_status(s, run_id, "budget_exhausted", "spent $5.00 of $5.00")
    assert done.finished_at is not None and done.rounds_done == 2
    with seeded.session() as s:
        best = add_candidate(s, task="rmsnorm", language="triton", source="best so far")
        update_run_progress(s, run_id, best_candidate_hash=best.source_hash, best_speedup=1.8)
        update_run_progress(s, run_id, rounds_done=3)  # fields not given are left alone
    with seeded.session() as s:
        run = get_run(s, run_id)
        assert (run.best_candidate_hash, run.best_speedup, run.rounds_done) == (best.source_hash, 1.8, 3)
    with pytest.raises(ValueError, match="not one of"), seeded.session() as s:
        mark_run_status(s, run_id, "exploded")
    with pytest.raises(ValueError, match="strategy"), seeded.session() as s:
        create_run(s, task="rmsnorm", language="triton", strategy="Magic!")
    with pytest.raises(RunNotFoundError, match="warpsmith runs"), seeded.session() as s:
        mark_run_status(s, "r-nope", "completed")


@pytest.mark.parametrize("status", ["llm_unavailable", "diverged"])
def test_llm_unavailable_and_diverged_are_terminal_statuses(seeded: Store, status: str) -> None:
    run_id = _new_run(seeded)
    with seeded.session() as s:
        mark_run_status(s, run_id, status, "the loop's reason")
    with seeded.session() as s:
        run = get_run(s, run_id)
        assert (run.status, run.status_message) == (status, "the loop's reason")
        assert run.finished_at is not None
        assert mark_stale_runs(s) == []  # a finished run is never taken for a dead writer's


def test_a_live_writer_is_not_stale_a_silent_remote_one_is(seeded: Store) -> None:
    mine, remote_alive, remote_silent = _new_run(seeded), _new_run(seeded), _new_run(seeded)
    with seeded.session() as s:
        s.execute(
            update(RunRow).where(RunRow.id.in_([remote_alive, remote_silent])).values(host="gpu-node-7")
        )
        old = get_run(s, remote_silent).updated_at - timedelta(hours=3)
        s.execute(update(RunRow).where(RunRow.id == remote_silent).values(updated_at=old))
    with seeded.session() as s:
        assert mark_stale_runs(s) == [remote_silent]
        assert get_run(s, mine).status == "running" and get_run(s, remote_alive).status == "running"
        assert "gpu-node-7" in get_run(s, remote_silent).status_message
    with pytest.raises(ValueError, match="still running"), seeded.session() as s:
        resume_run(s, mine)


@pytest.mark.slow
def test_sigkill_mid_run_leaves_a_consistent_store_that_resumes(seeded: Store, store_url: str) -> None:
    seeded.close()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, store_url, HW],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    run_id = writer.stdout.readline().strip()
    last_step = -1
    while last_step < 40:
        line = writer.stdout.readline()
        assert line, f"the writer died on its own: {writer.stderr.read()[-2000:]}"
        last_step = int(line)
    time.sleep(random.uniform(0, 0.02))  # land anywhere inside a step
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    writer.stdout.close()
    writer.stderr.close()

    store = open_store(store_url)
    with store.session() as s:
        if store.dialect == "sqlite":
            assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            assert s.execute(text("PRAGMA foreign_key_check")).all() == []
        orphans = (
            select(func.count())
            .select_from(EvaluationRow)
            .outerjoin(CandidateRow)
            .where(CandidateRow.task.is_(None))
        )
        assert s.scalar(orphans) == 0
        # Each step is one transaction: a step is all there or not at all.
        counts = {
            row: s.scalar(select(func.count()).select_from(row).where(row.run_id == run_id))
            for row in (RunCandidateRow, EvaluationRow, LLMCallRow)
        }
        assert s.scalar(select(func.count()).select_from(CandidateRow)) == counts[RunCandidateRow]
        assert len(set(counts.values())) == 1 and counts[LLMCallRow] > last_step
        steps = counts[LLMCallRow]
        assert [c.seq for c in llm_calls_of_run(s, run_id)] == list(range(steps))
        assert get_run(s, run_id).status == "running"  # nobody said otherwise: the writer just vanished
        assert mark_stale_runs(s) == [run_id]
    with store.session() as s:
        run = resume_run(s, run_id)
        assert run.pid == os.getpid() and run.status == "running"
        resumed = add_candidate(
            s, task="rmsnorm", language="triton", source="after the crash", origin="offline"
        )
        link_candidate(s, run_id, resumed.source_hash, run.rounds_done)
        call = record_llm_call(s, run_id, role="planner", model="m", messages=[], response="again")
        assert call.seq == steps
    with store.session() as s:
        new_run = create_run(
            s, task="rmsnorm", language="triton", strategy="offline", hardware_fingerprint=HW
        )
        assert get_run(s, new_run.id) is not None
    store.close()


@pytest.mark.slow
def test_several_processes_opening_a_fresh_store_at_once(store_url: str, tmp_path) -> None:
    """The dashboard and an optimize run started together: one migrates, the others wait; none fails."""
    url = store_url  # a database nobody has opened yet
    go = tmp_path / "go"
    code = (
        "import sys, time, pathlib\n"
        "from warpsmith.store import open_store\n"
        "print('ready', flush=True)\n"
        "while not pathlib.Path(sys.argv[2]).exists(): time.sleep(0.001)\n"
        "open_store(sys.argv[1]).close()\n"
    )
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", code, url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    assert [p.stdout.readline().strip() for p in openers] == ["ready"] * 3
    go.touch()  # all at once, past their imports
    errors = [p.communicate(timeout=120)[1] for p in openers]
    assert [p.returncode for p in openers] == [0] * 3, errors
    store = open_store(url)
    assert store.schema_revision() is not None
    store.close()


@pytest.mark.slow
def test_two_runs_writing_the_same_kernels_at_once(seeded: Store, store_url: str, tmp_path) -> None:
    """Two writers (two runs) race on identical sources and evaluations: no error, no duplicate
    candidate or link; each run's measurement is its own row (evaluations are history)."""
    steps, go = 40, tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, store_url, HW, str(steps), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    run_ids = [w.stdout.readline().strip() for w in writers]
    go.touch()
    outputs = [w.communicate(timeout=300) for w in writers]
    assert [w.returncode for w in writers] == [0, 0], [err[-2000:] for _, err in outputs]
    with seeded.session() as s:
        assert s.scalar(select(func.count()).select_from(CandidateRow)) == steps
        assert s.scalar(select(func.count()).select_from(EvaluationRow)) == 2 * steps
        for run_id in run_ids:
            linked = select(func.count()).select_from(RunCandidateRow).where(RunCandidateRow.run_id == run_id)
            assert s.scalar(linked) == steps
            saw = select(func.count()).select_from(RunEvaluationRow).where(RunEvaluationRow.run_id == run_id)
            assert s.scalar(saw) == steps
            assert [c.seq for c in llm_calls_of_run(s, run_id)] == list(range(steps))
