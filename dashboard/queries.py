"""The dashboard's reads: store rows in, views.py models out. SELECT only.

Owns: which evaluation stands for a candidate within a run (the run's hardware, the run's
suite when its config names one, the run's own evaluation first, else the newest), the
per-round speedup series, and task leaderboards. Does not own: writes of any kind, or
presentation (render.py, templates/). Each function returns None when the id is unknown.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from warpsmith.dashboard.views import (
    CandidateDetail,
    CandidateNode,
    EvaluationView,
    HardwareBoard,
    LeaderboardEntry,
    LLMCallView,
    RoundPoint,
    RunDetail,
    RunLink,
    RunSummary,
    TaskDetail,
    VerdictView,
)
from warpsmith.store.schema import (
    CandidateRow,
    EvaluationRow,
    HardwareRow,
    LLMCallRow,
    RunCandidateRow,
    RunRow,
    TaskRow,
    VerdictRow,
)

RUNS_LISTED = 200
LEADERBOARD_SIZE = 10
MIN_HASH_PREFIX = 8


def _hardware_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(HardwareRow.fingerprint, HardwareRow.device_name)).all())


def _summaries(session: Session, rows: Iterable[RunRow]) -> list[RunSummary]:
    rows = list(rows)
    counts = dict(
        session.execute(
            select(RunCandidateRow.run_id, func.count())
            .where(RunCandidateRow.run_id.in_([r.id for r in rows]))
            .group_by(RunCandidateRow.run_id)
        )
        .tuples()
        .all()
    )
    names = _hardware_names(session)
    return [
        RunSummary(
            id=r.id,
            task=r.task,
            language=r.language,
            strategy=r.strategy,
            model=r.model,
            status=r.status,
            status_message=r.status_message,
            best_speedup=r.best_speedup,
            best_candidate_hash=r.best_candidate_hash,
            cost_usd=r.cost_usd,
            prompt_tokens=r.prompt_tokens,
            completion_tokens=r.completion_tokens,
            rounds_done=r.rounds_done,
            rounds_total=r.config.get("rounds") if isinstance(r.config.get("rounds"), int) else None,
            candidates=counts.get(r.id, 0),
            hardware_fingerprint=r.hardware_fingerprint,
            hardware_name=names.get(r.hardware_fingerprint or ""),
            parent_run_id=r.parent_run_id,
            created_at=r.created_at,
            updated_at=r.updated_at,
            finished_at=r.finished_at,
        )
        for r in rows
    ]


def list_runs(session: Session, task: str | None = None, limit: int = RUNS_LISTED) -> list[RunSummary]:
    """The newest runs first (of one task when given)."""
    query = select(RunRow).order_by(RunRow.created_at.desc(), RunRow.id.desc()).limit(limit)
    if task is not None:
        query = query.where(RunRow.task == task)
    return _summaries(session, session.scalars(query))


def run_summary(session: Session, run_id: str) -> RunSummary | None:
    run = session.get(RunRow, run_id)
    return _summaries(session, [run])[0] if run is not None else None


def _call_view(row: LLMCallRow) -> LLMCallView:
    return LLMCallView(
        seq=row.seq,
        round_index=row.round_index,
        role=row.role,
        model=row.model,
        messages=row.messages,
        response=row.response,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cost_usd=row.cost_usd,
        latency_s=row.latency_s,
        error=row.error,
        candidate_hash=row.candidate_hash,
        run_id=row.run_id,
        created_at=row.created_at,
    )


def _run_evaluation(evaluations: list[EvaluationRow], run: RunRow) -> EvaluationRow | None:
    """The evaluation that stands for a candidate in `run` (see the module docstring)."""
    suite = run.config.get("suite")
    mine = [e for e in evaluations if e.hardware_fingerprint == run.hardware_fingerprint] or evaluations
    if not mine:
        return None
    return max(mine, key=lambda e: (e.run_id == run.id, e.suite == suite, e.created_at, e.id))


def run_candidates(session: Session, run_id: str) -> list[CandidateNode] | None:
    run = session.get(RunRow, run_id)
    if run is None:
        return None
    links = (
        session.execute(
            select(RunCandidateRow, CandidateRow)
            .join(CandidateRow, CandidateRow.source_hash == RunCandidateRow.source_hash)
            .where(RunCandidateRow.run_id == run_id)
            .order_by(RunCandidateRow.round_index, RunCandidateRow.position, RunCandidateRow.created_at)
        )
        .tuples()
        .all()
    )
    links = list(links)
    by_hash: dict[str, list[EvaluationRow]] = defaultdict(list)
    hashes = [c.source_hash for _, c in links]
    for evaluation in session.scalars(select(EvaluationRow).where(EvaluationRow.source_hash.in_(hashes))):
        by_hash[evaluation.source_hash].append(evaluation)
    nodes = []
    for link, candidate in links:
        chosen = _run_evaluation(by_hash[candidate.source_hash], run)
        nodes.append(
            CandidateNode(
                source_hash=candidate.source_hash,
                parent_hash=candidate.parent_hash,
                round_index=link.round_index,
                position=link.position,
                relation=link.relation,
                origin=candidate.origin,
                language=candidate.language,
                plan_item=candidate.plan_item,
                status=chosen.status if chosen else None,
                mode=chosen.mode if chosen else None,
                speedup=chosen.speedup if chosen else None,
                message=chosen.message if chosen else "",
            )
        )
    return nodes


def _rounds(nodes: list[CandidateNode]) -> list[RoundPoint]:
    points = []
    best_so_far: float | None = None
    for round_index in sorted({n.round_index for n in nodes}):
        in_round = [n for n in nodes if n.round_index == round_index]
        speedups = [n.speedup for n in in_round if n.status == "correct" and n.speedup is not None]
        best = max(speedups, default=None)
        if best is not None:
            best_so_far = best if best_so_far is None else max(best_so_far, best)
        points.append(
            RoundPoint(
                round_index=round_index,
                candidates=len(in_round),
                correct=sum(n.status == "correct" for n in in_round),
                best_speedup=best,
                best_so_far=best_so_far,
            )
        )
    return points


def run_detail(session: Session, run_id: str) -> RunDetail | None:
    run = session.get(RunRow, run_id)
    nodes = run_candidates(session, run_id)
    if run is None or nodes is None:
        return None
    calls = session.scalars(select(LLMCallRow).where(LLMCallRow.run_id == run_id).order_by(LLMCallRow.seq))
    replays = session.scalars(
        select(RunRow.id).where(RunRow.parent_run_id == run_id).order_by(RunRow.created_at)
    )
    return RunDetail(
        run=_summaries(session, [run])[0],
        config=run.config,
        rounds=_rounds(nodes),
        candidates=nodes,
        llm_calls=[_call_view(c) for c in calls],
        replays=list(replays),
    )


def resolve_candidate_hash(session: Session, hash_or_prefix: str) -> str | None:
    """The full hash for a full hash or a unique prefix of at least 8 hex digits."""
    if session.get(CandidateRow, hash_or_prefix) is not None:
        return hash_or_prefix
    if len(hash_or_prefix) < MIN_HASH_PREFIX:
        return None
    found = list(
        session.scalars(
            select(CandidateRow.source_hash)
            .where(CandidateRow.source_hash.startswith(hash_or_prefix))
            .limit(2)
        )
    )
    return found[0] if len(found) == 1 else None


def _diff(parent: str, child: str, parent_name: str, child_name: str) -> str:
    lines = difflib.unified_diff(
        parent.splitlines(keepends=True), child.splitlines(keepends=True), parent_name, child_name, n=3
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def candidate_detail(session: Session, hash_or_prefix: str) -> CandidateDetail | None:
    source_hash = resolve_candidate_hash(session, hash_or_prefix)
    candidate = session.get(CandidateRow, source_hash) if source_hash else None
    if candidate is None:
        return None
    parent = session.get(CandidateRow, candidate.parent_hash) if candidate.parent_hash else None
    names = _hardware_names(session)
    evaluations = session.scalars(
        select(EvaluationRow)
        .where(EvaluationRow.source_hash == candidate.source_hash)
        .order_by(EvaluationRow.created_at)
    )
    verdicts = session.scalars(
        select(VerdictRow)
        .where(VerdictRow.source_hash == candidate.source_hash)
        .order_by(VerdictRow.created_at)
    )
    links = session.scalars(
        select(RunCandidateRow)
        .where(RunCandidateRow.source_hash == candidate.source_hash)
        .order_by(RunCandidateRow.created_at)
    )
    children = session.scalars(
        select(CandidateRow.source_hash)
        .where(CandidateRow.parent_hash == candidate.source_hash)
        .order_by(CandidateRow.created_at)
    )
    calls = session.scalars(
        select(LLMCallRow)
        .where(LLMCallRow.candidate_hash == candidate.source_hash)
        .order_by(LLMCallRow.created_at, LLMCallRow.seq)
    )
    return CandidateDetail(
        source_hash=candidate.source_hash,
        task=candidate.task,
        language=candidate.language,
        origin=candidate.origin,
        parent_hash=candidate.parent_hash,
        parent_known=parent is not None,
        plan_item=candidate.plan_item,
        source=candidate.source,
        created_at=candidate.created_at,
        diff_from_parent=(
            _diff(
                parent.source,
                candidate.source,
                f"parent {parent.source_hash[:12]}",
                f"this {candidate.source_hash[:12]}",
            )
            if parent is not None
            else None
        ),
        runs=[
            RunLink(run_id=link.run_id, round_index=link.round_index, relation=link.relation)
            for link in links
        ],
        children=list(children),
        evaluations=[
            EvaluationView(
                id=e.id,
                hardware_fingerprint=e.hardware_fingerprint,
                hardware_name=names.get(e.hardware_fingerprint),
                evaluator_version=e.evaluator_version,
                suite=e.suite,
                mode=e.mode,
                status=e.status,
                message=e.message,
                speedup=e.speedup,
                speedup_min=e.speedup_min,
                speedup_max=e.speedup_max,
                run_id=e.run_id,
                created_at=e.created_at,
                result=e.result,
            )
            for e in evaluations
        ],
        verdicts=[
            VerdictView(
                run_id=v.run_id,
                round_index=v.round_index,
                bottleneck=v.bottleneck,
                feedback=v.feedback,
                matches_prediction=v.matches_prediction,
                suspicious=v.suspicious,
                verdict=v.verdict,
                created_at=v.created_at,
            )
            for v in verdicts
        ],
        llm_calls=[_call_view(c) for c in calls],
    )


def task_detail(session: Session, name: str) -> TaskDetail | None:
    task = session.get(TaskRow, name)
    if task is None:
        return None
    rows = (
        session.execute(
            select(EvaluationRow, CandidateRow)
            .join(CandidateRow, CandidateRow.source_hash == EvaluationRow.source_hash)
            .where(
                CandidateRow.task == name,
                EvaluationRow.status == "correct",
                EvaluationRow.speedup.is_not(None),
            )
        )
        .tuples()
        .all()
    )
    best: dict[tuple[str, str], dict[str, LeaderboardEntry]] = defaultdict(dict)
    for evaluation, candidate in rows:
        board = best[(evaluation.hardware_fingerprint, evaluation.mode)]
        known = board.get(candidate.source_hash)
        assert evaluation.speedup is not None
        if known is None or evaluation.speedup > known.speedup:
            board[candidate.source_hash] = LeaderboardEntry(
                source_hash=candidate.source_hash,
                language=candidate.language,
                origin=candidate.origin,
                speedup=evaluation.speedup,
                evaluator_version=evaluation.evaluator_version,
                suite=evaluation.suite,
                run_id=evaluation.run_id,
                created_at=evaluation.created_at,
            )
    names = _hardware_names(session)
    boards = [
        HardwareBoard(
            hardware_fingerprint=fingerprint,
            hardware_name=names.get(fingerprint),
            mode=mode,
            entries=sorted(entries.values(), key=lambda e: -e.speedup)[:LEADERBOARD_SIZE],
        )
        for (fingerprint, mode), entries in sorted(best.items())
    ]
    return TaskDetail(
        name=task.name,
        description=task.description,
        signature=task.signature,
        boards=boards,
        runs=list_runs(session, task=name, limit=50),
    )


def task_names(session: Session) -> list[str]:
    return list(session.scalars(select(TaskRow.name).order_by(TaskRow.name)))
