"""A run's live block: status, cost and best per round with its interval, polled while the run runs.

Owns: `live_context` (what the run page and its polled fragment show: the run's summary, per
round the best correct candidate with its speedup over eager and that speedup's interval, or
in interpreter mode its wall-clock time in one unit for the whole block, and the chart's series)
and the fragment route `/fragments/runs/{run_id}/live`. The fragment carries its own
`hx-trigger` only while the run is running with a fresh heartbeat: the first answer after the
run ends (or goes stale) has none, so htmx stops polling by itself. Does not own: the queries
(warpsmith.store.dashboard_reads), the run summary (queries.py) or the rest of the run page.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from pydantic import BaseModel
from sqlalchemy.orm import Session

from warpsmith.dashboard import queries
from warpsmith.dashboard.deps import not_found, read_session, run_id_of, templates
from warpsmith.dashboard.numbers import Interval, TimeUnit, speedup_over, time_unit, timings_of
from warpsmith.dashboard.views import RunSummary
from warpsmith.store.dashboard_reads import best_relations, round_bests

router = APIRouter(include_in_schema=False)
POLL_SECONDS = 3


class LiveRound(BaseModel):
    round_index: int
    candidates: int
    correct: int
    best_hash: str | None = None
    mode: str | None = None
    speedup: Interval | None = None  # over eager, with its interval (device mode only)
    time_us: float | None = None  # summed per-shape medians of the round's best
    best_so_far: float | None = None  # highest speedup so far (device), else lowest time so far


class LiveRun(BaseModel):
    run: RunSummary
    rounds: list[LiveRound]
    kind: str  # speedup | time | none
    unit: TimeUnit
    polling: bool
    best_relation: str | None = None  # produced | inherited: how this run holds its best candidate


def _rounds(session: Session, run_id: str) -> list[LiveRound]:
    found: list[LiveRound] = []
    for entry in round_bests(session, run_id):
        best = entry.best
        speedup = None
        if best is not None and best.mode == "device":  # interpreter wall clock: no speedups
            speedup = speedup_over(timings_of(best)) or (Interval(ratio=best.speedup) if best.speedup else None)
        found.append(
            LiveRound(
                round_index=entry.round_index,
                candidates=entry.candidates,
                correct=entry.correct,
                best_hash=best.source_hash if best is not None else None,
                mode=best.mode if best is not None else None,
                speedup=speedup,
                time_us=best.median_us_total if best is not None else None,
            )
        )
    return found


def _so_far(rounds: list[LiveRound], kind: str) -> None:
    """Best so far: the highest speedup on a device, else the lowest time (rounds with none keep the last)."""
    best: float | None = None
    for r in rounds:
        value = (r.speedup.ratio if r.speedup else None) if kind == "speedup" else r.time_us
        if value is not None:
            best = value if best is None else max(best, value) if kind == "speedup" else min(best, value)
        r.best_so_far = best


def live_context(session: Session, run_id: str) -> LiveRun | None:
    run = queries.run_summary(session, run_id)
    if run is None:
        return None
    rounds = _rounds(session, run_id)
    kind = "speedup" if any(r.speedup for r in rounds) else "time" if any(r.time_us for r in rounds) else "none"
    _so_far(rounds, kind)
    return LiveRun(
        run=run,
        rounds=rounds,
        kind=kind,
        unit=time_unit(r.time_us for r in rounds),
        polling=run.status == "running" and not run.stale,
        best_relation=best_relations(session, [(run.id, run.best_candidate_hash)]).get(run.id)
        if run.best_candidate_hash
        else None,
    )


def chart_caption(live: LiveRun) -> str:
    if live.kind == "speedup":
        return (
            "speedup over eager PyTorch, × (axis from 0; dashed line: 1.0× = eager; whiskers: 95% interval "
            "of the round's best; higher is better)"
        )
    return f"time of the round's best, {live.unit.name} (axis from 0; lower is better)"


def chart_json(live: LiveRun) -> Markup:
    """The series for static/charts.js: speedup over eager (with its interval band) on a device;
    the time in the block's unit (from zero) in interpreter mode."""
    data: dict[str, Any] = {"kind": live.kind, "rounds": [r.round_index for r in live.rounds]}
    if live.kind == "speedup":
        data.update(
            label=chart_caption(live),
            axis="speedup ×",
            unit="×",
            best=[r.speedup.ratio if r.speedup else None for r in live.rounds],
            low=[r.speedup.low if r.speedup and r.speedup.bounded else None for r in live.rounds],
            high=[r.speedup.high if r.speedup and r.speedup.bounded else None for r in live.rounds],
            best_so_far=[r.best_so_far for r in live.rounds],
        )
    else:
        data.update(
            label=chart_caption(live),
            axis=f"time, {live.unit.name}",
            unit=live.unit.name,
            best=[live.unit.of(r.time_us) for r in live.rounds],
            best_so_far=[live.unit.of(r.best_so_far) for r in live.rounds],
            low=[],
            high=[],
        )
    return Markup(json.dumps(data).replace("<", "\\u003c"))


@router.get("/fragments/runs/{run_id}/live", response_class=HTMLResponse)
def live_fragment(run_id: str, request: Request, session: Session = Depends(read_session)) -> HTMLResponse:
    found = run_id_of(session, run_id)
    live = live_context(session, found)
    if live is None:
        raise not_found(f"no run {run_id!r} in this store")
    return templates.TemplateResponse(
        request, "_run_live.html", {
            "live": live,
            "run": live.run,
            "chart": chart_json(live),
            "chart_label": chart_caption(live),
            "poll_seconds": POLL_SECONDS,
        },
    )
