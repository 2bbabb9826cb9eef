"""A round's context from what the one writer remembers is what the store would answer (issue 10).

The writer keeps what it wrote for a run it created (its links, its verdicts, whether any of its
candidates failed, each source's newest evaluation); agents.round_context builds the planner's
context from that instead of reading it back. Each test compares the remembered answer with a
fresh read of the same store; a write around the writer makes it ask again; and an offline
optimize of 10 candidates stays within 5 statements per candidate.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from _store_helpers import HW, seed_task_and_hardware
from sqlalchemy import event

from warpsmith.agents import mapping
from warpsmith.agents.round_context import Reviewed, RunMemory, store_verdicts
from warpsmith.records.agents import Verdict
from warpsmith.records.evaluation import Candidate, EvalResult
from warpsmith.store import lessons as store_lessons
from warpsmith.store.db import Store
from warpsmith.store.writer import RunWriter
from warpsmith.store.writes import record_verdict

ROOT = Path(__file__).resolve().parent.parent
KEY = mapping.EvalKey(hardware_fingerprint=HW, evaluator_version="v-test", suite="smoke",
                      task_definition_hash="def-test", stage="full")


def _kernel(text: str, parent: Candidate | None = None) -> Candidate:
    return Candidate(task="rmsnorm", language="triton", source=f"# {text}\n", origin="offline",
                     parent_hash=parent.source_hash if parent else None, plan_item=text)


def _result(candidate: Candidate, status: str = "correct") -> EvalResult:
    return EvalResult(task="rmsnorm", language="triton", source_hash=candidate.source_hash, status=status,
                      mode="interpreter", suite="smoke", task_definition_hash="def-test", stage="full")


def _selects(store: Store) -> tuple[list[str], object]:
    seen: list[str] = []

    def count(conn, cursor, statement, *rest) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    return seen, count


def _context(store: Store, run_id: str, before_round: int) -> dict:
    with store.session() as s:
        run = RunMemory(s, run_id)
        links = run.links()
        verdicts = run.verdicts()
        return {
            "failures": [f.candidate.source_hash for f in run.failures(KEY, 6)],
            "notes": [v for _, r, v in verdicts if r == before_round - 1],
            "newest": store_lessons.newest_verdicts(verdicts),
            "attempts": [a.model_dump() for a in store_lessons.attempt_rows(
                links, run.newest(HW, store_lessons.attempt_hashes(links, before_round)), verdicts, before_round)],
        }


def _fresh(store: Store, run_id: str, before_round: int) -> dict:
    """The same, as a process that remembers nothing would read it."""
    writer = RunWriter.of(store)
    saved = dict(writer._known)
    writer._known.clear()
    try:
        with store.session() as s:
            fresh = _context(store, run_id, before_round)
            assert fresh["attempts"] == [a.model_dump() for a in store_lessons.run_attempt_rows(s, run_id, HW, before_round)]
            assert fresh["notes"] == store_lessons.round_verdicts(s, run_id, before_round - 1)
            return fresh
    finally:
        writer._known.clear()
        writer._known.update(saved)


def _round(store: Store, run_id: str, round_index: int, kernels: list[Candidate], statuses: list[str]) -> None:
    writer = RunWriter.of(store)
    with store.session() as s:
        writer.candidates(s, run_id, [(k, round_index, i, "produced") for i, k in enumerate(kernels)])
    for kernel, status in zip(kernels, statuses, strict=True):
        with store.session() as s:
            writer.evaluation(s, run_id, KEY, _result(kernel, status))
    with store.session() as s:
        store_verdicts(s, run_id=run_id, task="rmsnorm", key=KEY, reviewed=[
            Reviewed(Verdict(source_hash=k.source_hash, feedback=f"round {round_index}: {k.plan_item}"),
                     round_index, k, _result(k, st), None, "offline", []) for k, st in zip(kernels, statuses, strict=True)])


def _open(store: Store) -> str:
    seed_task_and_hardware(store)
    with store.session() as s:
        return RunWriter.of(s).open_run(s, task="rmsnorm", language="triton", strategy="offline")


def test_the_remembered_round_context_is_the_stores_without_reading_it(store: Store) -> None:
    run_id = _open(store)
    seed = _kernel("seed")
    _round(store, run_id, 0, [seed], ["correct"])
    first = [_kernel("a", seed), _kernel("b", seed)]
    _round(store, run_id, 1, first, ["correct", "correct"])
    seen, count = _selects(store)
    try:
        remembered = _context(store, run_id, 2)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert seen == []  # everything here the writer wrote itself
    assert remembered == _fresh(store, run_id, 2)
    assert [n["feedback"] for n in remembered["notes"]] == ["round 1: a", "round 1: b"]
    assert [a["candidate"]["source_hash"] for a in remembered["attempts"]] == [k.source_hash for k in [seed, *first]]
    assert remembered["attempts"][1]["parent_evaluation"]["source_hash"] == seed.source_hash

    # a failure in the next round: the failures are asked again, and agree
    second = [_kernel("c", first[0]), _kernel("d", first[1])]
    _round(store, run_id, 2, second, ["incorrect", "correct"])
    remembered = _context(store, run_id, 3)
    assert remembered == _fresh(store, run_id, 3)
    assert remembered["failures"] == [second[0].source_hash]
    assert len(remembered["attempts"]) == 5


def test_a_verdict_written_around_the_writer_is_read_again(store: Store) -> None:
    run_id = _open(store)
    seed = _kernel("seed")
    _round(store, run_id, 0, [seed], ["correct"])
    kernel = _kernel("a", seed)
    _round(store, run_id, 1, [kernel], ["correct"])
    with store.session() as s:  # not through the writer: another path of this process
        record_verdict(s, run_id, kernel.source_hash, {"source_hash": kernel.source_hash, "feedback": "later"},
                       round_index=1)
    remembered = _context(store, run_id, 2)
    assert remembered == _fresh(store, run_id, 2)
    assert remembered["newest"][kernel.source_hash]["feedback"] == "later"


def test_an_offline_optimize_stays_within_five_statements_per_candidate(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "spine_counts.py"), "optimize", "--json"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout[done.stdout.index("{"):])
    assert report["candidates"] == 10 and report["evaluations"] == 10
    assert report["statements_per_candidate"] <= 5.0, report
