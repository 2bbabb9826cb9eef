"""An evolve run's evolution page (`/runs/{run_id}/evolution`) and its JSON (`/api/runs/{run_id}/evolution`).

Owns: turning the store's evolution reads into EvolutionView (evolution_views.py): the MAP-Elites
grid of each task (the newest archive's cells and every measured cell, projected onto floor bucket x
language/kind; a square's colour is its best elite's speedup over eager on a device, else only
whether a correct kernel landed there: the CPU interpreter's wall clock compares nothing), the best
per generation (the chart's series: speedups from 0 with the 1.0x line, or on the CPU the cells
filled), the islands (candidates that joined each island per generation) and a page of migration
events. A run that is not an evolve run is a 404 that says so. Does not own: the queries
(warpsmith.store.evolution_reads), the lineage (lineage.py) or the markup (templates/evolution.html).
"""

from __future__ import annotations

import json
from collections import defaultdict

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from warpsmith.dashboard import queries
from warpsmith.dashboard.deps import not_found, read_session, run_id_of, templates
from warpsmith.dashboard.evolution_views import (
    CellView,
    EvolutionView,
    GenerationBest,
    Grid,
    GridRow,
    IslandRow,
    Square,
    TaskEvolution,
)
from warpsmith.store import evolution_reads as reads

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["api"])
MIGRATIONS_PAGE = 100
# The floor buckets of warpsmith.search.features, in reading order (the dashboard may not import search).
FLOOR_ORDER = ("f<25", "f25-50", "f50-75", "f75-90", "f>=90", "?")
# Speedup over eager -> colour class; below 1.0x (slower than eager) is its own colour.
HEAT_EDGES = ((1.0, "s0"), (1.25, "s1"), (1.5, "s2"), (2.0, "s3"), (3.0, "s4"))
HEAT_LEGEND = [("s0", "< 1.0×"), ("s1", "1.0–1.25×"), ("s2", "1.25–1.5×"), ("s3", "1.5–2×"), ("s4", "2–3×"),
               ("s5", "≥ 3×")]
NOTES = {
    "speedup": "Colour: the best elite's speedup over eager PyTorch (geometric mean over shapes, device timing).",
    "correctness": "No speed compares on this run (the Triton interpreter on a CPU times with a wall clock): "
    "the colour says only whether a correct kernel landed in the cell.",
}


def _heat(speedup: float | None, correct: int, kind: str) -> str:
    if kind == "speedup" and speedup is not None:
        return next((name for edge, name in HEAT_EDGES if speedup < edge), "s5")
    return "correct" if correct else "incorrect"


def _parts(cell: str) -> tuple[str, str]:
    """(floor bucket, 'language · kind') of a cell key floor|regime|regs|language|kind."""
    parts = cell.split("|")
    if len(parts) != 5:
        return "?", cell
    return parts[0], f"{parts[3]} · {parts[4]}"


def _grid(cells: list[CellView], kind: str) -> Grid:
    columns = sorted({_parts(c.cell)[0] for c in cells},
                     key=lambda f: (FLOOR_ORDER.index(f) if f in FLOOR_ORDER else len(FLOOR_ORDER), f))
    by_square: dict[tuple[str, str], list[CellView]] = defaultdict(list)
    for cell in cells:
        floor, label = _parts(cell.cell)
        by_square[(label, floor)].append(cell)
    rows = []
    for label in sorted({label for label, _ in by_square}):
        squares: list[Square | None] = []
        for floor in columns:
            members = by_square.get((label, floor))
            if not members:
                squares.append(None)
                continue
            elites = [c for c in members if c.elite_hash]
            best = max(elites, key=lambda c: c.speedup if c.speedup is not None else -1.0, default=None)
            correct = sum(c.correct for c in members)
            squares.append(Square(
                cells=[c.cell for c in members], measured=sum(c.measured for c in members), correct=correct,
                best_hash=best.elite_hash if best else None, best_speedup=best.speedup if best else None,
                heat=_heat(best.speedup if best else None, correct + len(elites), kind)))
        rows.append(GridRow(label=label, squares=squares))
    return Grid(columns=columns, rows=rows)


def _islands(entries: list[reads.IslandGeneration]) -> tuple[list[int], list[IslandRow]]:
    generations = sorted({e.generation for e in entries})
    by_island: dict[int, dict[int, reads.IslandGeneration]] = defaultdict(dict)
    for entry in entries:
        by_island[entry.island][entry.generation] = entry
    rows = []
    for island in sorted(by_island):
        seen = by_island[island]
        rows.append(IslandRow(
            island=island,
            joined=[seen[g].joined if g in seen else None for g in generations],
            correct=[seen[g].correct if g in seen else None for g in generations],
            migrants=[seen[g].migrants if g in seen else None for g in generations],
        ))
    return generations, rows


def _best_device(entries: list[reads.ArchiveEntry]) -> reads.ArchiveEntry | None:
    timed = [e for e in entries if e.measured and e.measured.mode == "device" and e.measured.speedup is not None]
    return max(timed, key=lambda e: e.measured.speedup or 0.0, default=None)  # type: ignore[union-attr]


def evolution_view(session: Session, run_id: str, migrations_offset: int = 0) -> EvolutionView | None:
    """The whole evolution of a run, or None when the run is unknown or not an evolve run."""
    if not reads.is_evolve_run(session, run_id):
        return None
    run = queries.run_summary(session, run_id)
    assert run is not None
    history = reads.archive_history(session, run_id)
    kind = "speedup" if _best_device(history) is not None else "correctness"
    snapshots: dict[str, dict[int, list[reads.ArchiveEntry]]] = defaultdict(lambda: defaultdict(list))
    for entry in history:
        snapshots[entry.task][entry.generation].append(entry)
    counts: dict[str, list[reads.CellCount]] = defaultdict(list)
    for count in reads.cell_counts(session, run_id):
        counts[count.task].append(count)
    islands: dict[str, list[reads.IslandGeneration]] = defaultdict(list)
    for island in reads.island_generations(session, run_id):
        islands[island.task].append(island)
    tasks = []
    for task in reads.evolution_tasks(session, run_id):
        by_generation = snapshots.get(task, {})
        newest = {e.cell: e for e in by_generation[max(by_generation)]} if by_generation else {}
        cells = []
        for count in counts.get(task, []):
            elite = newest.pop(count.cell, None)
            cells.append(_cell(count.cell, count.measured, count.correct, elite, kind))
        cells += [_cell(cell, 0, 0, elite, kind) for cell, elite in newest.items()]  # elites measured elsewhere
        generations = []
        for generation, entries in sorted(by_generation.items()):
            best = _best_device(entries) if kind == "speedup" else None
            generations.append(GenerationBest(
                generation=generation, cells=len(entries), best_hash=best.source_hash if best else None,
                best_speedup=best.measured.speedup if best and best.measured else None))
        island_columns, island_rows = _islands(islands.get(task, []))
        tasks.append(TaskEvolution(task=task, grid=_grid(cells, kind), cells=cells, generations=generations,
                                   island_generations=island_columns, islands=island_rows))
    return EvolutionView(
        run=run, kind=kind, note=NOTES[kind], tasks=tasks,
        migrations=reads.migrations(session, run_id, limit=MIGRATIONS_PAGE, offset=migrations_offset),
        migrations_total=reads.count_migrations(session, run_id), migrations_offset=migrations_offset,
    )


def _cell(cell: str, measured: int, correct: int, elite: reads.ArchiveEntry | None, kind: str) -> CellView:
    shown = elite.measured if elite else None
    return CellView(
        cell=cell, measured=measured, correct=correct, elite_hash=elite.source_hash if elite else None,
        mode=shown.mode if shown else None,
        speedup=shown.speedup if shown and kind == "speedup" and shown.mode == "device" else None,
        time_us=elite.time_us if elite else None, floor_fraction=elite.floor_fraction if elite else None,
    )


def chart_json(view: EvolutionView) -> Markup:
    """Best per task over generations for static/charts.js: speedups (from 0, the 1.0x line) on a
    device; on the CPU the number of archive cells filled (from 0), since no speed compares."""
    generations = sorted({g.generation for t in view.tasks for g in t.generations})
    series = []
    for task in view.tasks:
        by_generation = {g.generation: (g.best_speedup if view.kind == "speedup" else g.cells) for g in task.generations}
        series.append({"label": task.task, "values": [by_generation.get(g) for g in generations]})
    if view.kind == "speedup":
        label = ("best elite per task after each generation: speedup over eager PyTorch, × "
                 "(axis from 0; dashed line: 1.0× = eager; higher is better)")
        axis = "speedup ×"
    else:
        label = ("archive cells filled with a correct kernel per task after each generation (axis from 0); "
                 "no speed is charted: the CPU interpreter's wall clock compares nothing")
        axis = "cells filled"
    data = {"kind": "speedup" if view.kind == "speedup" else "count", "rounds": generations, "x": "generation",
            "label": label, "axis": axis, "series": series}
    return Markup(json.dumps(data).replace("<", "\\u003c"))


def _view_or_404(session: Session, run_id: str, migrations_offset: int) -> EvolutionView:
    view = evolution_view(session, run_id, migrations_offset)
    if view is None:
        raise not_found(f"run {run_id} is not an evolve run: it has no evolution (see /runs/{run_id})")
    return view


@router.get("/runs/{run_id}/evolution", response_class=HTMLResponse)
def evolution_page(
    run_id: str, request: Request, migrations_offset: int = 0, session: Session = Depends(read_session)
) -> Response:
    found = run_id_of(session, run_id)
    if found != run_id:  # a prefix or `latest`: the page lives at the whole id
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(f"/runs/{found}/evolution{query}", status_code=307)
    view = _view_or_404(session, found, max(migrations_offset, 0))
    chart = chart_json(view)
    return templates.TemplateResponse(request, "evolution.html", {
        "view": view, "run": view.run, "chart": chart, "chart_label": json.loads(str(chart))["label"],
        "legend": HEAT_LEGEND,
        "pager": {"offset": view.migrations_offset, "limit": MIGRATIONS_PAGE, "total": view.migrations_total,
                  "base": f"/runs/{found}/evolution", "param": "migrations_offset"},
    })


@api_router.get("/runs/{run_id}/evolution", response_model=EvolutionView,
                summary="An evolve run's archive grid, best per generation, islands and migrations")
def evolution_api(
    run_id: str,
    migrations_offset: int = Query(0, ge=0, description="Skip this many migration events (paged)."),
    session: Session = Depends(read_session),
) -> EvolutionView:
    return _view_or_404(session, run_id_of(session, run_id), migrations_offset)
