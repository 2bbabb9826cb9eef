"""The reads behind the dashboard's evolution page: an evolve run's archive, islands and migrations.

Owns: SELECTs over the `population` and `archive` tables (warpsmith.store.population) that return
typed dataclasses: every archive snapshot of a run (key columns only) with the measurement that
stands for each elite (the run's hardware, full stage; the run's own evaluation first, else the
newest), the measured cells of each task with how many candidates landed there and how many were
correct (counted in SQL), the candidates that joined each island per generation (counted in SQL)
and a page of migration events (population rows with a `from_island`). Whole evaluation results
are never loaded. Does not own: the tables or their writes (store/population.py), what a cell
means (warpsmith.search.features), the lineage (store/lineage.py) or presentation (dashboard/).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from warpsmith.store.population import ArchiveRow, PopulationRow
from warpsmith.store.schema import EvaluationRow, RunRow

_CHUNK = 500  # hashes per IN (...): well under every backend's parameter limit


@dataclass(frozen=True)
class Measurement:
    """The evaluation that stands for a candidate in a run: key columns only."""

    source_hash: str
    mode: str
    status: str
    speedup: float | None
    time_us: float | None


@dataclass(frozen=True)
class ArchiveEntry:
    """One cell of one task's archive after one generation, with its elite's measurement."""

    task: str
    generation: int
    cell: str
    source_hash: str
    time_us: float | None
    floor_fraction: float | None
    measured: Measurement | None


@dataclass(frozen=True)
class CellCount:
    """A measured cell of a task: how many of the run's candidates landed in it, how many correct."""

    task: str
    cell: str
    measured: int
    correct: int


@dataclass(frozen=True)
class IslandGeneration:
    """Candidates that joined one island of one task in one generation (by how they joined)."""

    task: str
    island: int
    generation: int
    joined: int
    correct: int
    migrants: int


@dataclass(frozen=True)
class MigrationEvent:
    task: str
    generation: int
    from_island: int
    to_island: int
    source_hash: str
    cell: str | None
    status: str | None


def is_evolve_run(session: Session, run_id: str) -> bool:
    return session.scalar(select(RunRow.strategy).where(RunRow.id == run_id)) == "evolve"


def evolution_tasks(session: Session, run_id: str) -> list[str]:
    """The tasks of an evolve run: its config's list in order, then any other task its population holds."""
    run = session.get(RunRow, run_id)
    if run is None:
        return []
    listed = [t for t in (run.config or {}).get("tasks") or [] if isinstance(t, str)]
    stored = session.scalars(
        select(PopulationRow.task).where(PopulationRow.run_id == run_id).distinct().order_by(PopulationRow.task)
    )
    return list(dict.fromkeys([*listed, *stored]))


def measurements(session: Session, run_id: str, source_hashes: list[str]) -> dict[str, Measurement]:
    """Per candidate, the evaluation that stands for it in the run (see the module docstring)."""
    run = session.get(RunRow, run_id)
    if run is None:
        return {}
    chosen: dict[str, tuple[tuple[bool, int], Measurement]] = {}
    for start in range(0, len(source_hashes), _CHUNK):
        chunk = source_hashes[start:start + _CHUNK]
        statement = select(
            EvaluationRow.id, EvaluationRow.source_hash, EvaluationRow.mode, EvaluationRow.status,
            EvaluationRow.speedup, EvaluationRow.median_us_total, EvaluationRow.run_id,
        ).where(EvaluationRow.source_hash.in_(chunk), EvaluationRow.stage == "full")
        if run.hardware_fingerprint is not None:
            statement = statement.where(EvaluationRow.hardware_fingerprint == run.hardware_fingerprint)
        for row in session.execute(statement):
            rank = (row.run_id == run_id, row.id)
            if row.source_hash not in chosen or rank > chosen[row.source_hash][0]:
                chosen[row.source_hash] = (rank, Measurement(
                    row.source_hash, row.mode, row.status, row.speedup, row.median_us_total))
    return {h: m for h, (_, m) in chosen.items()}


def archive_history(session: Session, run_id: str) -> list[ArchiveEntry]:
    """Every archive snapshot of the run (tasks x generations x cells: small next to its candidates),
    by task, generation and cell, each elite with its measurement."""
    rows = session.execute(
        select(ArchiveRow.task, ArchiveRow.generation, ArchiveRow.cell, ArchiveRow.source_hash,
               ArchiveRow.time_us, ArchiveRow.floor_fraction)
        .where(ArchiveRow.run_id == run_id)
        .order_by(ArchiveRow.task, ArchiveRow.generation, ArchiveRow.cell)
    ).all()
    measured = measurements(session, run_id, sorted({r.source_hash for r in rows}))
    return [ArchiveEntry(r.task, r.generation, r.cell, r.source_hash, r.time_us, r.floor_fraction,
                         measured.get(r.source_hash)) for r in rows]


def _correct() -> Any:
    return func.sum(case((PopulationRow.status == "correct", 1), else_=0))


def cell_counts(session: Session, run_id: str) -> list[CellCount]:
    """Per task and measured cell, the run's candidates in it and how many were correct (a candidate
    on several islands counts once)."""
    distinct = (
        select(PopulationRow.task, PopulationRow.cell, PopulationRow.source_hash, PopulationRow.status)
        .where(PopulationRow.run_id == run_id, PopulationRow.cell.is_not(None))
        .distinct()
        .subquery()
    )
    rows = session.execute(
        select(distinct.c.task, distinct.c.cell, func.count(),
               func.sum(case((distinct.c.status == "correct", 1), else_=0)))
        .group_by(distinct.c.task, distinct.c.cell)
        .order_by(distinct.c.task, distinct.c.cell)
    ).all()
    return [CellCount(task, cell, measured, int(correct or 0)) for task, cell, measured, correct in rows]


def island_generations(session: Session, run_id: str) -> list[IslandGeneration]:
    """Per task, island and generation: how many joined, how many of them correct, how many migrants."""
    rows = session.execute(
        select(PopulationRow.task, PopulationRow.island, PopulationRow.generation, func.count(), _correct(),
               func.sum(case((PopulationRow.role == "migrant", 1), else_=0)))
        .where(PopulationRow.run_id == run_id)
        .group_by(PopulationRow.task, PopulationRow.island, PopulationRow.generation)
        .order_by(PopulationRow.task, PopulationRow.island, PopulationRow.generation)
    ).all()
    return [IslandGeneration(task, island, generation, joined, int(correct or 0), int(migrants or 0))
            for task, island, generation, joined, correct, migrants in rows]


def _migrant_rows(run_id: str) -> tuple[Any, ...]:
    return (PopulationRow.run_id == run_id, PopulationRow.from_island.is_not(None))


def count_migrations(session: Session, run_id: str) -> int:
    return session.scalar(select(func.count()).select_from(PopulationRow).where(*_migrant_rows(run_id))) or 0


def migrations(session: Session, run_id: str, *, limit: int, offset: int = 0) -> list[MigrationEvent]:
    """A page of migration events, oldest generation first."""
    rows = session.scalars(
        select(PopulationRow).where(*_migrant_rows(run_id))
        .order_by(PopulationRow.generation, PopulationRow.task, PopulationRow.id)
        .limit(limit).offset(offset)
    )
    rows = list(rows)
    # A migrant's row is written after its outcome was recorded on its home island: read it from there.
    outcome = {(task, h): (cell, status) for task, h, cell, status in session.execute(
        select(PopulationRow.task, PopulationRow.source_hash, PopulationRow.cell, PopulationRow.status)
        .where(PopulationRow.run_id == run_id, PopulationRow.status.is_not(None),
               PopulationRow.source_hash.in_({r.source_hash for r in rows}))
    )} if rows else {}
    return [MigrationEvent(r.task, r.generation, r.from_island or 0, r.island, r.source_hash,
                           *(outcome.get((r.task, r.source_hash)) or (r.cell, r.status)))
            for r in rows]
