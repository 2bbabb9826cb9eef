"""Benchmark reports in the dashboard: `/bench/kernelbench` (every `warpsmith bench kernelbench`
report, newest first) and `/bench/kernelbench/ID` (one report), with the same data as JSON under
`/api/bench/kernelbench`.

Owns: these routes and the page views: each KernelBench metric with a line saying what it means,
and per problem its status, speedups vs eager and vs torch.compile (each with the low end of its
95% interval), fraction of the bytes floor, dollars and minutes. A problem measured under the Triton
interpreter (a CPU run) shows "interpreter: not comparable" in place of every speed number: its wall
clock compares nothing. Does not own: the reports (warpsmith.records.bench, written by the CLI and
read through warpsmith.store.bench_reports) or the metrics' arithmetic (warpsmith.cli).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from warpsmith.dashboard.deps import not_found, page_of, read_session, templates
from warpsmith.records.bench import NOT_COMPARABLE, Metric, ProblemRow, StoredBenchReport
from warpsmith.store.bench_reports import count_bench_reports, get_bench_report, list_bench_reports

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["api"])
PAGE = 50

MEANINGS = {
    "fast_0": "fraction of problems correct",
    "fast_1_eager": "correct and faster than eager PyTorch (ratio of medians > 1)",
    "fast_2_eager": "correct and more than 2x faster than eager PyTorch",
    "fast_1_compile": "correct and faster than torch.compile",
    "fast_2_compile": "correct and more than 2x faster than torch.compile",
    "fast_1_eager_significant": "as fast_1_eager, counting only speedups whose whole 95% interval clears 1",
    "fast_2_eager_significant": "as fast_2_eager, counting only speedups whose whole 95% interval clears 2",
    "fast_1_compile_significant": "as fast_1_compile, whole 95% interval above 1",
    "fast_2_compile_significant": "as fast_2_compile, whole 95% interval above 2",
    "geomean_speedup_eager": "geometric mean speedup over eager, over correct problems",
    "geomean_speedup_compile": "geometric mean speedup over torch.compile, over correct problems",
    "mean_fraction_of_floor": "mean fraction of the bytes floor (at peak bandwidth) reached by correct problems",
    "mean_dollars": "mean LLM dollars per problem",
    "mean_minutes": "mean wall-clock minutes per problem",
}


class MetricLine(BaseModel):
    name: str
    value: str
    meaning: str


class ProblemLine(BaseModel):
    row: ProblemRow
    vs_eager: str
    vs_compile: str
    of_floor: str


class ReportPage(BaseModel):
    stored: StoredBenchReport
    metrics: list[MetricLine]
    problems: list[ProblemLine]
    interpreter: bool  # some problem ran under the interpreter: its speed numbers do not exist


class ReportListing(BaseModel):
    total: int
    offset: int
    limit: int
    reports: list[StoredBenchReport]


def _metric(value: Metric) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _speed(ratio: float | None, low: float | None) -> str:
    if ratio is None:
        return "–"
    nbsp = "\u00a0"  # a speedup and its interval read as one (no class can be styled inline under the CSP)
    return f"{ratio:.2f}×{nbsp}" + (f"(≥{nbsp}{low:.2f})" if low is not None else f"(no{nbsp}interval)")


def _problem(row: ProblemRow) -> ProblemLine:
    if row.mode == "interpreter":
        return ProblemLine(row=row, vs_eager=NOT_COMPARABLE, vs_compile=NOT_COMPARABLE, of_floor=NOT_COMPARABLE)
    floor = "–" if row.fraction_of_floor is None else f"{row.fraction_of_floor:.1%}"
    return ProblemLine(row=row, vs_eager=_speed(row.speedup_eager, row.speedup_eager_low),
                       vs_compile=_speed(row.speedup_compile, row.speedup_compile_low), of_floor=floor)


def report_page(stored: StoredBenchReport) -> ReportPage:
    summary = stored.report.summary
    metrics = [MetricLine(name=name, value=_metric(getattr(summary, name)), meaning=meaning)
               for name, meaning in MEANINGS.items() if getattr(summary, name) is not None]
    return ReportPage(stored=stored, metrics=metrics, problems=[_problem(r) for r in stored.report.problems],
                      interpreter=any(r.mode == "interpreter" for r in stored.report.problems))


def _listing(session: Session, offset: int, limit: int) -> ReportListing:
    offset, limit = page_of(offset, limit, PAGE)
    return ReportListing(total=count_bench_reports(session), offset=offset, limit=limit,
                         reports=list_bench_reports(session, limit=limit, offset=offset))


def _one(session: Session, report_id: int) -> StoredBenchReport:
    stored = get_bench_report(session, report_id) if 0 < report_id < 2**63 else None
    if stored is None:
        raise not_found(f"no KernelBench report {report_id} in this store")
    return stored


@router.get("/bench/kernelbench", response_class=HTMLResponse)
def reports_page(request: Request, offset: int = 0, limit: int = 0,
                 session: Session = Depends(read_session)) -> HTMLResponse:
    return templates.TemplateResponse(request, "bench_reports.html", {"listing": _listing(session, offset, limit)})


@router.get("/bench/kernelbench/{report_id}", response_class=HTMLResponse)
def report_html(request: Request, report_id: int, session: Session = Depends(read_session)) -> HTMLResponse:
    return templates.TemplateResponse(request, "bench_report.html", {"page": report_page(_one(session, report_id))})


@api_router.get("/bench/kernelbench", response_model=ReportListing, summary="KernelBench reports, newest first")
def reports_api(offset: int = 0, limit: int = 0, session: Session = Depends(read_session)) -> ReportListing:
    return _listing(session, offset, limit)


@api_router.get("/bench/kernelbench/{report_id}", response_model=StoredBenchReport, summary="One KernelBench report")
def report_api(report_id: int, session: Session = Depends(read_session)) -> StoredBenchReport:
    return _one(session, report_id)
