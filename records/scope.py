"""What a store question is about: the scope records every query takes.

Owns: `EvalScope` (an evaluation's identity minus the candidate: which measurements count) and
`CandidateScope` (which candidates: a task, a language, some runs, an island). Batch evolution asks
"the best of island 3" by filling `island`, not by writing SQL elsewhere. Does not own: the
queries (warpsmith.store) or how a scope is derived from a task and this machine (the loop's
mapping). Imports nothing of ours but records.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from warpsmith.records.evaluation import LanguageName
from warpsmith.records.vocab import Stage


class EvalScope(BaseModel):
    """Hardware (incl. toolchain) x evaluator version x suite x task definition x stage.

    `task_definition_hash=None` stands for an unknown definition: it matches only rows stored
    before definitions were hashed, and a known hash never matches those."""

    hardware_fingerprint: str
    evaluator_version: str
    suite: str
    task_definition_hash: str | None = None
    stage: Stage = "full"


class CandidateScope(BaseModel):
    """Which candidates a question is about."""

    task: str
    language: LanguageName | None = Field(default=None, description="None: every language.")
    run_ids: list[str] | None = Field(default=None, description="Only candidates these runs produced or inherited.")
    island: str | None = Field(
        default=None, description="Reserved for batch evolution: the store keeps no islands yet, so a scope naming "
        "one is refused (ValueError) rather than silently answered for every island.",
    )
