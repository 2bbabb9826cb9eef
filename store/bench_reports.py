"""Benchmark reports (`warpsmith bench kernelbench`): the table, the write and the reads.

Owns: `bench_reports` (one row per report: its kind, when it was recorded and the whole report as
JSON), `record_bench_report` and the reads the dashboard pages use (`list_bench_reports`,
`get_bench_report`, `count_bench_reports`), each returning typed records (warpsmith.records.bench).
A report stands alone: it names problems, not runs or candidates, so no foreign key ties it to
other tables. Does not own: computing a report (warpsmith.cli.bench_kernelbench_report) or showing
it (warpsmith.dashboard.bench). Migration 0007 creates the table; warpsmith.store imports this
module so that the shared metadata always holds it.

Every function takes the caller's Session and does not commit (one transaction per step).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from warpsmith.records.bench import KernelBenchReport, StoredBenchReport
from warpsmith.store.schema import Base, utcnow

KINDS = ("kernelbench",)


class BenchReportRow(Base):
    """One benchmark harness report."""

    __tablename__ = "bench_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40), index=True, doc="kernelbench")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    report: Mapped[dict[str, Any]] = mapped_column(doc="The whole report (records.bench.KernelBenchReport).")


def record_bench_report(session: Session, report: KernelBenchReport) -> int:
    """Store a report; returns its id (flushed, not committed)."""
    row = BenchReportRow(kind=report.kind, report=report.model_dump(mode="json"))
    session.add(row)
    session.flush()
    return row.id


def _stored(row: BenchReportRow) -> StoredBenchReport:
    return StoredBenchReport(id=row.id, kind=row.kind, created_at=row.created_at,
                             report=KernelBenchReport.model_validate(row.report))


def list_bench_reports(session: Session, kind: str = "kernelbench", limit: int = 50,
                       offset: int = 0) -> list[StoredBenchReport]:
    """A page of a kind's reports, newest first."""
    rows = session.scalars(select(BenchReportRow).where(BenchReportRow.kind == kind)
                           .order_by(BenchReportRow.id.desc()).limit(limit).offset(offset))
    return [_stored(row) for row in rows]


def count_bench_reports(session: Session, kind: str = "kernelbench") -> int:
    return session.scalar(select(func.count()).select_from(BenchReportRow).where(BenchReportRow.kind == kind)) or 0


def get_bench_report(session: Session, report_id: int, kind: str = "kernelbench") -> StoredBenchReport | None:
    row = session.get(BenchReportRow, report_id)
    return _stored(row) if row is not None and row.kind == kind else None
