"""What the one writer keeps in memory is what the store would answer (issue 10's statement budget).

An evaluation is one statement and is linked to its run by the store (migration 0008's trigger);
the writer brings the remembered beam material and the evaluation cache up to date from its own
writes instead of reading them again, and a write that bypassed it makes it ask again. Each test
compares the remembered answer with a fresh read of the same store, on SQLite and Postgres.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from _store_helpers import HW, seed_task_and_hardware
from sqlalchemy import event, func, select

from warpsmith.agents import mapping
from warpsmith.records.evaluation import Candidate, EvalResult
from warpsmith.store import create_run
from warpsmith.store.db import Store
from warpsmith.store.schema import RunEvaluationRow
from warpsmith.store.writer import RunWriter
from warpsmith.store.writes import add_candidate, record_evaluation

ROOT = Path(__file__).resolve().parent.parent
KEY = mapping.EvalKey(hardware_fingerprint=HW, evaluator_version="v-test", suite="smoke",
                      task_definition_hash="def-test", stage="full")


def _kernel(text: str) -> Candidate:
    return Candidate(task="rmsnorm", language="triton", source=f"# {text}\n", origin="offline")


def _result(candidate: Candidate, status: str = "correct") -> EvalResult:
    return EvalResult(task="rmsnorm", language="triton", source_hash=candidate.source_hash, status=status,
                      mode="interpreter", suite="smoke", task_definition_hash="def-test", stage="full")


class _Statements:
    def __init__(self, store: Store) -> None:
        self.store, self.seen = store, []

    def __enter__(self) -> list[str]:
        event.listen(self.store.engine, "before_cursor_execute", self._count)
        return self.seen

    def __exit__(self, *exc: object) -> None:
        event.remove(self.store.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, *rest) -> None:  # noqa: ANN001
        self.seen.append(statement.split()[0].upper())


def _run(store: Store) -> str:
    seed_task_and_hardware(store)
    with store.session() as s:
        return create_run(s, task="rmsnorm", language="triton", strategy="offline").id


def _fresh_beam(store: Store) -> list[str]:
    """The beam as a process that remembers nothing would read it."""
    writer = RunWriter.of(store)
    saved = dict(writer._known)
    writer._known.clear()
    try:
        with store.session() as s:
            return [b.candidate.source_hash for b in mapping.best_correct(s, KEY, "rmsnorm", "triton", 10)]
    finally:
        writer._known.update(saved)


def test_an_evaluation_is_one_statement_and_the_store_links_it_to_its_run(store: Store) -> None:
    run_id = _run(store)
    kernel = _kernel("one")
    with store.session() as s:
        RunWriter.of(s).candidates(s, run_id, [(kernel, 1, 0, "produced")])
    with _Statements(store) as seen, store.session() as s:
        evaluation_id = RunWriter.of(s).evaluation(s, run_id, KEY, _result(kernel))
    assert seen == ["INSERT"]
    with store.session() as s:
        links = s.scalars(select(RunEvaluationRow.run_id).where(RunEvaluationRow.evaluation_id == evaluation_id))
        assert list(links) == [run_id]
    with store.session() as s:  # an evaluation without a run stays unlinked
        free = record_evaluation(s, source_hash=kernel.source_hash, hardware_fingerprint=HW, evaluator_version="v",
                                 suite="smoke", mode="interpreter", status="correct", result={}).id
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(RunEvaluationRow).filter_by(evaluation_id=free)) == 0


def test_the_remembered_beam_follows_the_writers_evaluations_without_reading(store: Store) -> None:
    run_id = _run(store)
    first, second, third = (_kernel(name) for name in ("first", "second", "third"))
    writer = RunWriter.of(store)
    with store.session() as s:
        writer.candidates(s, run_id, [(k, 1, i, "produced") for i, k in enumerate((first, second, third))])
        assert mapping.best_correct(s, KEY, "rmsnorm", "triton", 10) == []  # the material, remembered
    with _Statements(store) as seen:
        for kernel, status in ((first, "correct"), (second, "incorrect"), (third, "correct"), (first, "incorrect")):
            with store.session() as s:
                writer.evaluation(s, run_id, KEY, _result(kernel, status))
            with store.session() as s:
                remembered = [b.candidate.source_hash for b in mapping.best_correct(s, KEY, "rmsnorm", "triton", 10)]
            assert remembered == _fresh_beam(store)
    assert remembered == [third.source_hash]  # first's newest measurement is incorrect: it left the beam
    assert seen.count("SELECT") == 4  # the fresh reads only


def test_a_write_around_the_writer_makes_it_ask_again(store: Store) -> None:
    run_id = _run(store)
    kernel = _kernel("elsewhere")
    writer = RunWriter.of(store)
    with store.session() as s:
        assert mapping.known_hashes(s, KEY, "rmsnorm") == []
        assert mapping.best_correct(s, KEY, "rmsnorm", "triton", 10) == []
    with _Statements(store) as seen, store.session() as s:
        assert mapping.cached_result(s, KEY, kernel.source_hash) is None  # never evaluated here: no question
    assert seen == []
    with store.session() as s:  # another part of this process stores a kernel and its evaluation itself
        add_candidate(s, task="rmsnorm", language="triton", source=kernel.source, origin="user")
        record_evaluation(s, source_hash=kernel.source_hash, hardware_fingerprint=HW, evaluator_version="v-test",
                          suite="smoke", task_definition_hash="def-test", mode="interpreter", status="correct",
                          result=_result(kernel).model_dump(mode="json"), run_id=run_id)
    with store.session() as s:
        assert mapping.cached_result(s, KEY, kernel.source_hash) is not None
        assert [b.candidate.source_hash for b in mapping.best_correct(s, KEY, "rmsnorm", "triton", 10)] == [
            kernel.source_hash]
        assert mapping.known_hashes(s, KEY, "rmsnorm") == [kernel.source_hash]
    assert writer.remembers(("result", tuple(KEY.model_dump().values()), kernel.source_hash))


def test_an_offline_evolve_stays_within_five_statements_per_candidate(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "spine_counts.py"), "evolve", "--json"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout[done.stdout.index("{"):])
    assert report["candidates"] == 10 and report["evaluations"] == 10
    assert report["statements_per_candidate"] <= 5.0, report


def test_a_rolled_back_evaluation_is_not_remembered(store: Store) -> None:
    run_id = _run(store)
    kernel = _kernel("rolled back")
    with store.session() as s:
        RunWriter.of(s).candidates(s, run_id, [(kernel, 1, 0, "produced")])
        assert mapping.best_correct(s, KEY, "rmsnorm", "triton", 10) == []
    try:
        with store.session() as s:
            RunWriter.of(s).evaluation(s, run_id, KEY, _result(kernel))
            raise RuntimeError("the step failed after the INSERT")
    except RuntimeError:
        pass
    with store.session() as s:
        assert mapping.cached_result(s, KEY, kernel.source_hash) is None
        assert mapping.best_correct(s, KEY, "rmsnorm", "triton", 10) == []
