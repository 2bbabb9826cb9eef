"""The JSON API under /api/: the same data as the pages, typed for /openapi.json.

Owns: the API routes and their response models (from views.py). Does not own: queries.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from warpsmith.dashboard import candidates, leaderboard, queries
from warpsmith.dashboard.deps import not_found, read_session
from warpsmith.dashboard.views import CandidateDetail, CandidateNode, RunDetail, RunSummary, TaskDetail

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/runs", response_model=list[RunSummary], summary="Runs, newest first")
def runs(task: str | None = None, session: Session = Depends(read_session)) -> list[RunSummary]:
    return queries.list_runs(session, task=task)


@router.get("/runs/{run_id}", response_model=RunDetail, summary="One run: rounds, candidates, LLM calls")
def run(run_id: str, session: Session = Depends(read_session)) -> RunDetail:
    detail = queries.run_detail(session, run_id)
    if detail is None:
        raise not_found(f"no run {run_id!r}")
    return detail


@router.get("/runs/{run_id}/candidates", response_model=list[CandidateNode], summary="A run's candidates")
def run_candidates(run_id: str, session: Session = Depends(read_session)) -> list[CandidateNode]:
    nodes = queries.run_candidates(session, run_id)
    if nodes is None:
        raise not_found(f"no run {run_id!r}")
    return nodes


@router.get(
    "/candidates/{source_hash}",
    response_model=CandidateDetail,
    summary="One candidate (hash or unique prefix)",
)
def candidate(source_hash: str, session: Session = Depends(read_session)) -> CandidateDetail:
    detail = candidates.candidate_detail(session, source_hash)
    if detail is None:
        raise not_found(f"no candidate {source_hash!r}")
    return detail


@router.get("/tasks", response_model=list[str], summary="Task names in the store")
def tasks(session: Session = Depends(read_session)) -> list[str]:
    return leaderboard.task_names(session)


@router.get(
    "/tasks/{name}", response_model=TaskDetail, summary="A task's leaderboards per hardware and its runs"
)
def task(name: str, session: Session = Depends(read_session)) -> TaskDetail:
    detail = leaderboard.task_detail(session, name)
    if detail is None:
        raise not_found(f"no task {name!r}")
    return detail
