"""Rows -> records: the one place the store turns what SQLAlchemy loaded into warpsmith.records.

Owns: reading a row's loaded columns (a column deferred on purpose stays unread: reading it
would be an error or a query) and building the stored records from them. Does not own: the
records (warpsmith.records.stored) or any query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
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

R = TypeVar("R", bound=BaseModel)


def loaded(row: Any) -> dict[str, Any]:
    """The row's columns that are loaded (deferred ones left out, never fetched)."""
    state = inspect(row)
    unloaded = state.unloaded
    return {prop.key: getattr(row, prop.key) for prop in state.mapper.column_attrs if prop.key not in unloaded}


def _as(record: type[R]) -> Callable[[Any], R]:
    """The converter of one row class to its record: the row's loaded columns, validated."""
    return lambda row: record.model_validate(loaded(row))


run: Callable[[RunRow], StoredRun] = _as(StoredRun)
candidate: Callable[[CandidateRow], StoredCandidate] = _as(StoredCandidate)


def evaluation(row: EvaluationRow) -> StoredEvaluation:
    """The evaluation; a stored result this warpsmith cannot read as an EvalResult (written by another
    version or by hand) is left out, so the row's own columns (status, mode, speedup, ...) still show
    instead of the whole page failing."""
    fields = loaded(row)
    try:
        return StoredEvaluation.model_validate(fields)
    except ValidationError:
        return StoredEvaluation.model_validate({**fields, "result": None})


verdict: Callable[[VerdictRow], StoredVerdict] = _as(StoredVerdict)
link: Callable[[RunCandidateRow], RunLink] = _as(RunLink)
lesson: Callable[[LessonRow], Lesson] = _as(Lesson)
task: Callable[[TaskRow], StoredTask] = _as(StoredTask)


def llm_call(row: LLMCallRow) -> StoredLLMCall:
    fields = loaded(row)
    included = "messages" in fields
    return StoredLLMCall.model_validate({"messages": [], **fields, "messages_included": included})
