"""The writer's batched candidate writes (one statement for the rows, one for the links) on SQLite and
Postgres: idempotent, duplicates in one batch and rows stored earlier are no error, the first link wins."""

from __future__ import annotations

from sqlalchemy import event, select

from warpsmith.records.evaluation import Candidate
from warpsmith.store import create_run, ensure_task
from warpsmith.store.db import Store
from warpsmith.store.schema import CandidateRow, RunCandidateRow
from warpsmith.store.writer import RunWriter


def _kernel(text: str, parent: str | None = None) -> Candidate:
    return Candidate(task="rmsnorm", language="triton", source=f"# {text}\n", parent_hash=parent, origin="seed")


def test_a_round_of_candidates_is_two_statements_and_idempotent(store: Store) -> None:
    seed = _kernel("seed")
    with store.session() as s:
        ensure_task(s, "rmsnorm")
        run_id = create_run(s, task="rmsnorm", language="triton", strategy="offline").id
        RunWriter.of(s).candidates(s, run_id, [(seed, 0, 0, "inherited")])  # stored before the round
    children = [_kernel(f"child {i}", seed.source_hash) for i in range(3)]
    placed = [(seed, 1, 9, "produced")] + [(c, 1, i, "produced") for i, c in enumerate(children)]
    placed.append((children[0], 1, 7, "produced"))  # the same kernel twice in one batch
    statements: list[str] = []

    def count(conn, cursor, statement, *rest) -> None:  # noqa: ANN001
        statements.append(statement.split()[0].upper())

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        with store.session() as s:
            RunWriter.of(s).candidates(s, run_id, placed)
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert statements.count("INSERT") == 2
    with store.session() as s:  # again: nothing changes
        RunWriter.of(s).candidates(s, run_id, placed)
    with store.session() as s:
        hashes = set(s.scalars(select(CandidateRow.source_hash)))
        links = {row.source_hash: (row.round_index, row.position, row.relation)
                 for row in s.scalars(select(RunCandidateRow).where(RunCandidateRow.run_id == run_id))}
    assert hashes == {seed.source_hash, *(c.source_hash for c in children)}
    assert links[seed.source_hash] == (0, 0, "inherited")  # the first link wins
    assert links[children[0].source_hash] == (1, 0, "produced")
    assert [links[c.source_hash][1] for c in children] == [0, 1, 2]
