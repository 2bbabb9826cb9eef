"""The vocabularies every room spells the same way: languages, run statuses, stages, staleness.

Owns: the closed word lists (as Literal types and tuples) and the one staleness rule. Does not
own: the evaluation's own vocabularies (status, mode, origin: warpsmith.records.evaluation) or
how a word is shown (the CLI's and the dashboard's styles). Imports nothing of ours.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, get_args

from warpsmith.records.evaluation import LanguageName

LANGUAGES: tuple[str, ...] = get_args(LanguageName)
"""Kernel languages a candidate may be written in."""

RunStatus = Literal[
    "running", "completed", "failed", "interrupted", "budget_exhausted", "llm_unavailable", "diverged"
]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
# 'interrupted' = the writer stopped (Ctrl-C, SIGKILL, lost machine): resumable.
# 'llm_unavailable' = the model could not be reached (after retries): resumable once it is back.
# 'diverged' = a replay asked for something its recorded run did not (another role, more answers).
TERMINAL_RUN_STATUSES: tuple[str, ...] = RUN_STATUSES[1:]
GOOD_END_STATUSES = ("completed", "budget_exhausted")
"""How a run may end and still count as done (exit code 0)."""

Stage = Literal["screen", "full"]
STAGES: tuple[str, ...] = get_args(Stage)
"""screen: check + a few regime-spanning bench shapes; full: the whole suite. A screen never serves as full."""

Relation = Literal["produced", "inherited"]
"""How a run holds a candidate: it made it, or started from it."""

CANDIDATE_OUTCOMES = frozenset({"correct", "incorrect", "rejected", "compile_error", "compiled"})
"""Evaluation outcomes that belong to the candidate: cached for an evaluator version, and lessons.

A 'timeout' or 'runtime_error' may come from outside the candidate (warpsmith.evaluator
reports a child that failed to start, was killed by the OS or lost its pipe as
'runtime_error', a loaded machine as 'timeout'): such evaluations are stored (the run's
history shows them) but a later evaluation of the same candidate measures it again and
replaces them.
"""

STALE_AFTER = timedelta(minutes=30)
"""A 'running' run whose writer is on another machine is stale after this long without a heartbeat.

Longer than the slowest single step (one LLM request, 300 s by default, with its retries; or one
evaluation with its confirmation): every step bumps the heartbeat. A writer on this host is
judged by its pid instead. The dashboard shows a stale run as possibly dead; `runs list` marks it
'interrupted' (a write)."""


def is_stale(status: str, heartbeat: datetime, now: datetime, stale_after: timedelta = STALE_AFTER) -> bool:
    """True for a run that says 'running' but has not beaten for `stale_after`."""
    return status == "running" and now - heartbeat >= stale_after
