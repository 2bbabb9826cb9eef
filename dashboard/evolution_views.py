"""The evolution page's view models (also the JSON of /api/runs/{run_id}/evolution).

Owns: the typed shape of an evolve run's evolution: per task its MAP-Elites grid (the archive's
cells projected onto floor bucket x language/kind, each square coloured by its best speedup or, where
no speed compares, by correctness), every cell of the newest archive, the best per generation and
the islands; the run's migration events (the store's MigrationEvent, as read). Does not own: building
them (evolution.py) or queries.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from warpsmith.dashboard.views import RunSummary
from warpsmith.store.evolution_reads import MigrationEvent


class CellView(BaseModel):
    cell: str = Field(description="The archive's cell key: floor|regime|regs|language|kind ('?': not measured).")
    measured: int = Field(description="The run's candidates of this task measured into this cell.")
    correct: int
    elite_hash: str | None = Field(default=None, description="The cell's elite in the newest archive snapshot.")
    mode: str | None = None
    speedup: float | None = Field(default=None, description="The elite's speedup over eager (device mode only).")
    time_us: float | None = None
    floor_fraction: float | None = None


class Square(BaseModel):
    """One square of the grid: the cells with this floor bucket and this language/kind."""

    cells: list[str]
    measured: int
    correct: int
    best_hash: str | None = None
    best_speedup: float | None = None
    heat: str = Field(description="Colour class: s0..s5 by speedup, correct or incorrect.")


class GridRow(BaseModel):
    label: str = Field(description="language · kind")
    squares: list[Square | None] = Field(description="One per column; None: no candidate landed there.")


class Grid(BaseModel):
    columns: list[str] = Field(description="Floor buckets (fraction of the bytes floor reached), '?' unmeasured.")
    rows: list[GridRow]


class GenerationBest(BaseModel):
    generation: int
    cells: int = Field(description="Cells filled in the archive after this generation.")
    best_hash: str | None = None
    best_speedup: float | None = Field(default=None, description="Best elite's speedup (device mode only).")


class IslandRow(BaseModel):
    island: int
    joined: list[int | None] = Field(description="Per generation (the task's `generations`): candidates that joined.")
    correct: list[int | None]
    migrants: list[int | None]


class TaskEvolution(BaseModel):
    task: str
    grid: Grid
    cells: list[CellView]
    generations: list[GenerationBest]
    island_generations: list[int] = Field(description="The generations the island table has columns for.")
    islands: list[IslandRow]


class EvolutionView(BaseModel):
    run: RunSummary
    kind: str = Field(description="speedup: colours and chart by speedup over eager; correctness: no comparable speed")
    note: str = Field(description="What the colours mean on this run, in a sentence.")
    tasks: list[TaskEvolution]
    migrations: list[MigrationEvent] = Field(description="A page of migrations, oldest generation first.")
    migrations_total: int
    migrations_offset: int = 0
