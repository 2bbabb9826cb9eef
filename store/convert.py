"""Rows -> records: the one place the store turns what SQLAlchemy loaded into warpsmith.records.

Owns: reading a row's loaded columns (a column deferred on purpose stays unread: reading it
would be an error or a query) and building the stored records from them. Does not own: the
records (warpsmith.records.stored) or any query.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from warpsmith.records.agents import Lesson
from warpsmith.records.stored import (
    RunLink,
    StoredCandidate,
    StoredEvaluation,
    StoredLLMCall,
    StoredRun,
    StoredTask,
    StoredVerdict,
)
from warpsmith.store.schema import (
    CandidateRow,
    EvaluationRow,
    LessonRow,
    LLMCallRow,
    RunCandidateRow,
    RunRow,
    TaskRow,
    VerdictRow,
)


def loaded(row: Any) -> dict[str, Any]:
    """The row's columns that are loaded (deferred ones left out, never fetched)."""
    state = inspect(row)
    unloaded = state.unloaded
    return {prop.key: getattr(row, prop.key) for prop in state.mapper.column_attrs if prop.key not in unloaded}


def run(row: RunRow) -> StoredRun:
    return StoredRun.model_validate(loaded(row))


def candidate(row: CandidateRow) -> StoredCandidate:
    return StoredCandidate.model_validate(loaded(row))


def evaluation(row: EvaluationRow) -> StoredEvaluation:
    return StoredEvaluation.model_validate(loaded(row))


def verdict(row: VerdictRow) -> StoredVerdict:
    return StoredVerdict.model_validate(loaded(row))


def llm_call(row: LLMCallRow) -> StoredLLMCall:
    fields = loaded(row)
    included = "messages" in fields
    return StoredLLMCall.model_validate({"messages": [], **fields, "messages_included": included})


def link(row: RunCandidateRow) -> RunLink:
    return RunLink.model_validate(loaded(row))


def lesson(row: LessonRow) -> Lesson:
    return Lesson.model_validate(loaded(row))


def task(row: TaskRow) -> StoredTask:
    return StoredTask.model_validate(loaded(row))
