"""An evolution run's population and archive, as the store returns them.

Owns: `PopulationMember` (a candidate in one island of one task's population: the generation it
joined, how it joined, its algorithm kind label and, once measured, its MAP-Elites cell and
status) and `ArchiveCell` (one cell of a task's archive after one generation, with its elite).
Does not own: the tables and queries (warpsmith.store.population) or what a cell means and who
is an elite (warpsmith.search). Imports nothing of ours but records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PopulationRole = Literal["seed", "inherited", "offspring", "repair", "migrant"]


class PopulationMember(BaseModel):
    """A candidate in one island of one task's population in an evolution run."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    run_id: str
    task: str
    island: int
    generation: int = Field(description="The generation it joined this island (0: seeding).")
    source_hash: str
    role: PopulationRole
    from_island: int | None = Field(default=None, description="A migrant's island of origin.")
    kind: str = Field(default="", description="Algorithm kind: a label from the plan.")
    cell: str | None = Field(default=None, description="MAP-Elites cell of its measured result.")
    status: str | None = Field(default=None, description="Its evaluation's status, once measured.")
    created_at: datetime


class ArchiveCell(BaseModel):
    """One cell of one task's archive after one generation, and its elite."""

    model_config = ConfigDict(from_attributes=True)

    run_id: str
    task: str
    generation: int
    cell: str
    source_hash: str
    time_us: float | None = Field(default=None, description="Sum of per-shape medians (same mode only).")
    floor_fraction: float | None = Field(default=None, description="Of the bytes floor, large shapes; device only.")
    created_at: datetime
