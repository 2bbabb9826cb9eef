"""An evolution run's population and archive: the tables and their small queries.

Owns: `population` (one row per candidate per island of one task of a run: the generation it
joined, how it joined (seed, inherited, offspring, repair, migrant and from which island), its
algorithm kind label and, once measured, its MAP-Elites cell and status) and `archive` (a
snapshot of each task's archive after every generation: cell -> elite), the writes that fill them
and the reads that resume a run, replay it or draw its evolution page (records.population
records, never rows). Does not own: candidates,
evaluations or runs (warpsmith.store.writes / runs), what a cell means or who is an elite
(warpsmith.search). Migration 0004 creates both tables; the ORM classes live here, on the shared
`Base`, and warpsmith.store imports this module so that the metadata always holds them. Their
foreign keys to the run and the candidate cascade on delete, so `warpsmith runs delete` (which
knows nothing of these tables) removes an evolve run's population and archive with it.

Every function takes the caller's Session and does not commit (one transaction per step).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Integer, String, UniqueConstraint, bindparam, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from warpsmith.records.population import ArchiveCell, PopulationMember, PopulationRole
from warpsmith.store.inserts import insert_ignore
from warpsmith.store.schema import Base, VerdictRow, utcnow

ROLES: tuple[PopulationRole, ...] = ("seed", "inherited", "offspring", "repair", "migrant")


class PopulationRow(Base):
    """A candidate in one island of one task's population in an evolution run."""

    __tablename__ = "population"
    __table_args__ = (UniqueConstraint("run_id", "task", "island", "source_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    task: Mapped[str] = mapped_column(ForeignKey("tasks.name"))
    island: Mapped[int] = mapped_column(Integer)
    generation: Mapped[int] = mapped_column(Integer, doc="The generation it joined this island (0: seeding).")
    source_hash: Mapped[str] = mapped_column(ForeignKey("candidates.source_hash", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20), doc="seed | inherited | offspring | repair | migrant")
    from_island: Mapped[int | None] = mapped_column(Integer, doc="A migrant's island of origin.")
    kind: Mapped[str] = mapped_column(String(60), default="", doc="Algorithm kind: a label from the plan.")
    cell: Mapped[str | None] = mapped_column(String(200), doc="MAP-Elites cell of its measured result.")
    status: Mapped[str | None] = mapped_column(String(30), doc="Its evaluation's status, once measured.")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArchiveRow(Base):
    """One cell of one task's archive after one generation, and its elite."""

    __tablename__ = "archive"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    task: Mapped[str] = mapped_column(ForeignKey("tasks.name"), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell: Mapped[str] = mapped_column(String(200), primary_key=True)
    source_hash: Mapped[str] = mapped_column(ForeignKey("candidates.source_hash", ondelete="CASCADE"))
    time_us: Mapped[float | None] = mapped_column(Float, doc="Sum of per-shape medians (same mode only).")
    floor_fraction: Mapped[float | None] = mapped_column(Float, doc="Of the bytes floor, large shapes; device only.")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- writes ------------------------------------------------------------------------------
def add_member(
    session: Session, run_id: str, task: str, island: int, generation: int, source_hash: str, role: str,
    kind: str = "", from_island: int | None = None,
) -> bool:
    """Put a candidate (already stored) into an island; False when it is there already (a repeat)."""
    if role not in ROLES:
        raise ValueError(f"population role {role!r} is not one of {', '.join(ROLES)}")
    there = session.scalar(select(PopulationRow.id).where(
        PopulationRow.run_id == run_id, PopulationRow.task == task, PopulationRow.island == island,
        PopulationRow.source_hash == source_hash))
    if there is not None:
        return False
    session.add(PopulationRow(run_id=run_id, task=task, island=island, generation=generation,
                              source_hash=source_hash, role=role, kind=kind[:60], from_island=from_island))
    session.flush()
    return True


def add_members(session: Session, run_id: str, task: str, generation: int, rows: list[dict[str, Any]]) -> None:
    """`add_member` for several (each dict: island, source_hash, role, and optionally kind, from_island), in one
    statement; a candidate already in its island stays as it was."""
    values = []
    for row in rows:
        if row["role"] not in ROLES:
            raise ValueError(f"population role {row['role']!r} is not one of {', '.join(ROLES)}")
        values.append({"run_id": run_id, "task": task, "generation": generation, "island": row["island"],
                       "source_hash": row["source_hash"], "role": row["role"], "kind": (row.get("kind") or "")[:60],
                       "from_island": row.get("from_island"), "cell": None, "status": None, "created_at": utcnow()})
    if values:
        insert_ignore(session, PopulationRow, values, ["run_id", "task", "island", "source_hash"])


def set_outcomes(session: Session, run_id: str, task: str, measured: list[tuple[str, str | None, str]]) -> None:
    """`set_outcome` for several (source_hash, cell, status), in one statement."""
    table = PopulationRow.__table__
    if measured:
        session.execute(
            update(table).where(table.c.run_id == bindparam("r"), table.c.task == bindparam("t"),
                                table.c.source_hash == bindparam("h")).values(cell=bindparam("c"), status=bindparam("s")),
            [{"r": run_id, "t": task, "h": h, "c": cell, "s": status} for h, cell, status in measured],
        )


def set_outcome(session: Session, run_id: str, task: str, source_hash: str, cell: str | None, status: str) -> None:
    """Record a measured candidate's cell and status on every island row of it."""
    session.execute(
        update(PopulationRow)
        .where(PopulationRow.run_id == run_id, PopulationRow.task == task, PopulationRow.source_hash == source_hash)
        .values(cell=cell, status=status)
    )


def snapshot_archive(session: Session, run_id: str, task: str, generation: int, cells: list[dict[str, Any]],
                     replace: bool = True) -> None:
    """Store the archive of `task` after `generation` (each dict: cell, source_hash, time_us, floor_fraction);
    a repeated snapshot of the same generation replaces the earlier one (`replace=False`: the caller knows
    there is none: one statement fewer)."""
    if replace:
        session.query(ArchiveRow).filter_by(run_id=run_id, task=task, generation=generation).delete()
    for entry in cells:
        session.add(ArchiveRow(run_id=run_id, task=task, generation=generation, **entry))
    session.flush()


# --- reads -------------------------------------------------------------------------------
def members(session: Session, run_id: str) -> list[PopulationMember]:
    """Every population member of a run, in the order they were written (what a resume replays)."""
    rows = session.scalars(select(PopulationRow).where(PopulationRow.run_id == run_id).order_by(PopulationRow.id))
    return [PopulationMember.model_validate(row) for row in rows]


def produced_hashes(session: Session, run_id: str) -> list[str]:
    """The candidates a run's generations produced (offspring and repairs), once each, in the order written."""
    rows = session.scalars(select(PopulationRow.source_hash).where(
        PopulationRow.run_id == run_id, PopulationRow.role.in_(("offspring", "repair"))).order_by(PopulationRow.id))
    return list(dict.fromkeys(rows))


def archive_at(session: Session, run_id: str, task: str, generation: int | None = None) -> list[ArchiveCell]:
    """The archive of `task` after `generation` (default: the newest snapshot)."""
    if generation is None:
        generation = session.scalar(select(func.max(ArchiveRow.generation)).where(
            ArchiveRow.run_id == run_id, ArchiveRow.task == task))
        if generation is None:
            return []
    rows = session.scalars(select(ArchiveRow).where(
        ArchiveRow.run_id == run_id, ArchiveRow.task == task, ArchiveRow.generation == generation
    ).order_by(ArchiveRow.cell))
    return [ArchiveCell.model_validate(row) for row in rows]


def verdict_flags(session: Session, source_hashes: list[str]) -> dict[str, list[tuple[bool, str | None]]]:
    """Per candidate, its stored verdicts as (suspicious, confirmation) (what scrutiny.excluded_reason reads)."""
    flags: dict[str, list[tuple[bool, str | None]]] = {}
    for start in range(0, len(source_hashes), 500):
        chunk = source_hashes[start:start + 500]
        for source_hash, suspicious, stored in session.execute(
            select(VerdictRow.source_hash, VerdictRow.suspicious, VerdictRow.verdict).where(
                VerdictRow.source_hash.in_(chunk))
        ):
            confirmation = stored.get("confirmation") if isinstance(stored, dict) else None
            flags.setdefault(source_hash, []).append((bool(suspicious), confirmation))
    return flags
