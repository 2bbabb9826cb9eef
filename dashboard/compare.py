"""The compare page: two or more runs side by side (`/compare?runs=A&runs=B`, and `/api/compare`).

Owns: reading the runs named (whole ids, unique prefixes or `latest`; repeated `runs=` or one
comma-separated list), and the comparison: per run its status, best kernel with its speedup
over eager and that speedup's 95% interval, cost and candidates; per (task, shape) each run's
best time (one unit for the whole table) and speedup with its interval; the best so far per
round of every run on one chart. Runs timed on different hardware or in different modes are
shown, with a line that says their times do not compare; the chart is drawn only when every
run has the same kind of number (speedups on a device, else times). Does not own: the queries
(warpsmith.store.dashboard_reads, queries.py) or the markup (templates/compare.html).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from warpsmith.dashboard.deps import read_session, run_id_of, templates
from warpsmith.dashboard.live import LiveRound, live_context
from warpsmith.dashboard.numbers import Interval, TimeUnit, speedup_over, time_unit, timings_of
from warpsmith.dashboard.views import RunSummary
from warpsmith.store.dashboard_reads import best_evaluation

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["api"])
MAX_RUNS = 8  # side by side, a page stays readable; more is refused in one line


class ComparedRun(BaseModel):
    run: RunSummary
    best_relation: str | None = Field(default=None, description="produced | inherited")
    mode: str | None = Field(default=None, description="Timing mode of the best kernel's evaluation.")
    speedup: Interval | None = Field(default=None, description="Best kernel over eager, with its 95% interval.")
    time_us: float | None = None
    rounds: list[LiveRound]


class ShapeCell(BaseModel):
    time_us: float | None = None
    speedup: Interval | None = None


class ShapeRow(BaseModel):
    task: str
    shape: str
    cells: list[ShapeCell | None] = Field(description="One per compared run, in order; None: not timed there.")


class RunComparison(BaseModel):
    runs: list[ComparedRun]
    shapes: list[ShapeRow]
    unit: TimeUnit
    notes: list[str] = Field(default_factory=list, description="Why some numbers do not compare.")


def run_ids(values: list[str]) -> list[str]:
    """The runs as typed: `runs=a&runs=b` or `runs=a,b`; blanks dropped, order kept, duplicates once."""
    found: list[str] = []
    for value in values:
        for part in value.split(","):
            if part.strip() and part.strip() not in found:
                found.append(part.strip())
    if len(found) > MAX_RUNS:
        raise HTTPException(status_code=400, detail=f"compare at most {MAX_RUNS} runs at a time ({len(found)} given)")
    return found


def comparison(session: Session, typed: list[str]) -> RunComparison:
    ids: list[str] = []
    for text in typed:
        found = run_id_of(session, text)
        if found not in ids:
            ids.append(found)
    compared: list[ComparedRun] = []
    shapes: dict[tuple[str, str], list[ShapeCell | None]] = {}
    for index, run_id in enumerate(ids):
        live = live_context(session, run_id)
        assert live is not None  # run_id_of found it
        best = best_evaluation(session, run_id)
        device = best is not None and best.mode == "device"
        compared.append(
            ComparedRun(
                run=live.run,
                best_relation=live.best_relation,
                mode=best.mode if best else None,
                speedup=speedup_over(timings_of(best)) if device else None,
                time_us=best.median_us_total if best else None,
                rounds=live.rounds,
            )
        )
        for timing in timings_of(best):
            cells = shapes.setdefault((live.run.task, timing.shape), [None] * len(ids))
            cells[index] = ShapeCell(
                time_us=timing.median_us, speedup=speedup_over([timing]) if device else None
            )
    unit = time_unit([c.time_us for cells in shapes.values() for c in cells if c is not None])
    return RunComparison(
        runs=compared,
        shapes=[ShapeRow(task=task, shape=shape, cells=cells) for (task, shape), cells in shapes.items()],
        unit=unit,
        notes=_notes(compared),
    )


def _notes(runs: list[ComparedRun]) -> list[str]:
    notes = []
    if len({r.run.hardware_fingerprint for r in runs}) > 1:
        notes.append("these runs ran on different hardware: their times do not compare, only each one's speedup")
    if len({r.mode for r in runs if r.mode}) > 1:
        notes.append("the best kernels were timed in different modes (device / interpreter): times do not compare")
    if len({r.run.task for r in runs}) > 1:
        notes.append("these runs optimize different tasks: compare speedups, not times")
    if any(r.mode == "interpreter" for r in runs):
        notes.append("interpreter mode (Triton on a CPU) times with a wall clock: no speedups, no intervals")
    return notes


def chart_json(view: RunComparison) -> Markup | None:
    """Best so far per round, one series per run: speedups when every run has them, else times."""
    kinds = {"speedup" if any(r.speedup for r in run.rounds) else "time" for run in view.runs}
    if len(kinds) != 1 or not view.runs:
        return None
    kind = kinds.pop()
    rounds = sorted({r.round_index for run in view.runs for r in run.rounds})
    unit = time_unit(r.best_so_far for run in view.runs for r in run.rounds) if kind == "time" else None
    series = []
    for run in view.runs:
        by_round = {r.round_index: r.best_so_far for r in run.rounds}
        values = [by_round.get(i) for i in rounds]
        series.append({"label": run.run.id, "values": [unit.of(v) for v in values] if unit else values})
    label = (
        "best so far: speedup over eager PyTorch, × (axis from 0; dashed line: 1.0× = eager)"
        if kind == "speedup"
        else f"best so far: time, {unit.name if unit else ''} (from 0; lower is better)"
    )
    axis = "speedup ×" if kind == "speedup" else f"time, {unit.name if unit else ''}"
    data = {"kind": kind, "rounds": rounds, "label": label, "axis": axis, "series": series}
    return Markup(json.dumps(data).replace("<", "\\u003c"))


@router.get("/compare", response_class=HTMLResponse)
def compare_page(
    request: Request, runs: list[str] = Query(default=[]), session: Session = Depends(read_session)
) -> HTMLResponse:
    typed = run_ids(runs)
    view = comparison(session, typed)
    chart = chart_json(view) if len(view.runs) >= 2 else None
    caption = json.loads(str(chart))["label"] if chart is not None else ""  # \u003c is a JSON escape
    return templates.TemplateResponse(
        request, "compare.html", {"view": view, "chart": chart, "chart_label": caption, "typed": ", ".join(typed)}
    )


@api_router.get("/compare", response_model=RunComparison, summary="Two or more runs side by side")
def compare_api(runs: list[str] = Query(default=[]), session: Session = Depends(read_session)) -> RunComparison:
    return comparison(session, run_ids(runs))
