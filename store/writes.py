"""Small, idempotent writes: tasks, hardware, candidates, evaluations, LLM calls, verdicts, lessons.

Owns: inserting rows so that repeating a step (a resumed run, two machines on one Postgres)
never duplicates or fails: content-addressed rows use INSERT ... ON CONFLICT DO NOTHING on
their natural key, then read back the stored row. Evaluations are the exception on purpose:
they are measurements, appended (each with its own id and time) and never updated. Does not own: run lifecycle
(warpsmith.store.runs), reads for the loop and the dashboard (warpsmith.store.reads), how a row
goes in on each dialect (warpsmith.store.inserts), or turning records into these arguments (the
store's one writer, warpsmith.store.writer).

Every function takes the caller's Session and does not commit: the caller's
`with store.session():` block is the transaction, one step of a run each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from warpsmith.records.evaluation import source_hash as source_hash_of
from warpsmith.records.vocab import STAGES
from warpsmith.store.inserts import insert_ignore, stored_text, upsert, valid_text, with_defaults
from warpsmith.store.schema import (
    CandidateRow,
    EvaluationRow,
    HardwareRow,
    LessonRow,
    LLMCallRow,
    RunCandidateRow,
    RunEvaluationRow,
    RunRow,
    TaskRow,
    VerdictRow,
    utcnow,
)


def _given_else_kept(column: str) -> Any:
    return lambda table, excluded: func.coalesce(func.nullif(excluded[column], ""), table.c[column])


def ensure_task(
    session: Session, name: str, description: str = "", signature: str = "", *, read_back: bool = True
) -> TaskRow | None:
    """The task's row, created if missing; description and signature updated to the latest given
    (`read_back=False`: one statement, None returned)."""
    values = with_defaults(TaskRow, {"name": name, "description": description, "signature": signature})
    if not read_back and upsert(session, TaskRow, values, ["name"], {
            "description": _given_else_kept("description"), "signature": _given_else_kept("signature")}):
        return None
    insert_ignore(
        session,
        TaskRow,
        with_defaults(TaskRow, {"name": name, "description": description, "signature": signature}),
        ["name"],
    )
    row = session.get(TaskRow, name, populate_existing=True)
    assert row is not None
    if (description and row.description != description) or (signature and row.signature != signature):
        row.description = description or row.description
        row.signature = signature or row.signature
    return row


def ensure_hardware(
    session: Session,
    fingerprint: str,
    device_name: str,
    backend: str,
    arch: str | None,
    details: dict[str, Any],
    *,
    read_back: bool = True,
) -> HardwareRow | None:
    """The hardware row (details = the whole Hardware record as JSON), refreshed to the latest details
    (`read_back=False`: one statement, None returned)."""
    values = {"fingerprint": fingerprint, "device_name": device_name, "backend": backend, "arch": arch}
    if not read_back and upsert(session, HardwareRow, with_defaults(HardwareRow, {**values, "details": details}),
                                 ["fingerprint"], {"details": lambda table, excluded: excluded.details}):
        return None
    insert_ignore(
        session, HardwareRow, with_defaults(HardwareRow, {**values, "details": details}), ["fingerprint"]
    )
    row = session.get(HardwareRow, fingerprint, populate_existing=True)
    assert row is not None
    if row.details != details:
        row.details = details
    return row


def candidate_values(
    *, task: str, language: str, source: str, origin: str = "user", parent_hash: str | None = None,
    plan_item: str | None = None, source_hash: str | None = None,
) -> dict[str, Any]:
    """A candidates row, checked: `source_hash`, when given, must equal sha256(source) (a mismatch is a
    caller bug); a source holding invalid Unicode cannot be stored."""
    if valid_text(source)[1]:
        raise ValueError(
            "the kernel source holds invalid Unicode (a lone surrogate): it cannot be hashed or stored"
        )
    digest = source_hash_of(source)
    if source_hash is not None and source_hash != digest:
        raise ValueError(
            f"source_hash {source_hash[:12]}... does not match the source (sha256 {digest[:12]}...)"
        )
    values = {"source_hash": digest, "task": task, "language": language, "source": source, "origin": origin,
              "parent_hash": parent_hash, "plan_item": plan_item}
    return with_defaults(CandidateRow, values)


def add_candidate(session: Session, *, read_back: bool = True, **fields: Any) -> CandidateRow | None:
    """Store a kernel once per distinct source text (`fields`: candidate_values'); returns the stored
    row (the first one wins), or None with `read_back=False` (no row needed: one statement fewer)."""
    values = candidate_values(**fields)
    insert_ignore(session, CandidateRow, values, ["source_hash"])
    if not read_back:
        return None
    row = session.get(CandidateRow, values["source_hash"])
    assert row is not None
    return row


def add_candidates(session: Session, rows: list[dict[str, Any]]) -> set[str] | None:
    """Store several candidate_values rows in one statement (each once per distinct source); returns the
    hashes this call inserted (None where the dialect cannot say in the same statement)."""
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        insert_ignore(session, CandidateRow, rows, ["source_hash"])
        return None
    session.flush()  # pending ORM rows first
    table = CandidateRow.__table__
    statement = ((sqlite if dialect == "sqlite" else postgresql).insert(table)
                 .on_conflict_do_nothing(index_elements=["source_hash"]).returning(table.c.source_hash))
    return set(session.scalars(statement, rows))


def link_candidates(session: Session, run_id: str, links: list[tuple[str, int, int, str]]) -> None:
    """link_candidate for several (source_hash, round_index, position, relation): one statement."""
    rows = [with_defaults(RunCandidateRow, {"run_id": run_id, "source_hash": h, "round_index": r,
                                             "position": p, "relation": rel}) for h, r, p, rel in links]
    if rows:
        insert_ignore(session, RunCandidateRow, rows, ["run_id", "source_hash"])


def link_candidate(
    session: Session, run_id: str, source_hash: str, round_index: int, position: int = 0, relation: str = "produced"
) -> bool:
    """Record that `run_id` produced (or inherited, relation='inherited') a candidate in a round.

    Idempotent on (run, candidate): the first link wins; True when this call created it.
    """
    values = {"run_id": run_id, "source_hash": source_hash, "round_index": round_index, "position": position,
              "relation": relation}
    return insert_ignore(session, RunCandidateRow, with_defaults(RunCandidateRow, values), ["run_id", "source_hash"])


def record_evaluation(
    session: Session,
    *,
    source_hash: str,
    hardware_fingerprint: str,
    evaluator_version: str,
    suite: str,
    mode: str,
    status: str,
    result: dict[str, Any],
    task_definition_hash: str | None = None,
    stage: str = "full",
    message: str = "",
    speedup: float | None = None,
    speedup_min: float | None = None,
    speedup_max: float | None = None,
    median_us_total: float | None = None,
    run_id: str | None = None,
) -> EvaluationRow:
    """Append one evaluation (result = the whole EvalResult as JSON), linked to `run_id` by the store.

    Append-only: a re-evaluation of the same identity (candidate x task definition x hardware x
    evaluator version x suite x stage) is a new row with its own id and time; no row is ever
    updated, so what a run saw stays as it saw it. The cache serves the newest row
    (warpsmith.store.reads.find_evaluation).
    """
    if stage not in STAGES:
        raise ValueError(f"evaluation stage {stage!r} is not one of {', '.join(STAGES)}")
    message, result = (stored_text(v, f"evaluation of {source_hash[:12]}") for v in (message, result))
    row = EvaluationRow(
        source_hash=source_hash,
        hardware_fingerprint=hardware_fingerprint,
        evaluator_version=evaluator_version,
        suite=suite,
        task_definition_hash=task_definition_hash,
        stage=stage,
        mode=mode,
        status=status,
        message=message,
        speedup=speedup,
        speedup_min=speedup_min,
        speedup_max=speedup_max,
        median_us_total=median_us_total,
        result=result,
        run_id=run_id,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()  # one statement: the store links it to `run_id` itself (migration 0008's trigger)
    return row


def link_evaluation(session: Session, run_id: str, evaluation_id: int) -> bool:
    """Record that `run_id` saw this evaluation (measured it, or was served it); idempotent."""
    values = with_defaults(RunEvaluationRow, {"run_id": run_id, "evaluation_id": evaluation_id})
    return insert_ignore(session, RunEvaluationRow, values, ["run_id", "evaluation_id"])


def record_llm_call(
    session: Session,
    run_id: str,
    *,
    role: str,
    model: str,
    messages: list[dict[str, Any]],
    response: str | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cost_usd: float = 0.0,
    latency_s: float = 0.0,
    error: str | None = None,
    round_index: int | None = None,
    candidate_hash: str | None = None,
    created_at: datetime | None = None,
    **columns: Any,
) -> LLMCallRow:
    """Append a call to the run with the next `seq` (0, 1, ...) and add its tokens and cost to the run.

    `columns`: any other column of llm_calls (a field added to the LLMCall record and its table
    reaches the row without a change here).

    Invalid Unicode in the messages, the answer or the error is stored as U+FFFD (a warning
    says so): an odd character in a model's answer never ends a run.
    """
    where = f"LLM call of run {run_id} ({role})"
    messages, response, error = (stored_text(v, where) for v in (messages, response, error))
    # Lock the run's row first (the UPDATE): on Postgres a row lock, on SQLite the database's
    # write lock, so concurrent writers to one run take turns and MAX(seq) below sees every
    # committed call: numbers stay unique without a retry. (On SQLite, a session that already
    # read before this call could not upgrade to writing: callers give each call its own session.)
    session.execute(
        update(RunRow)
        .where(RunRow.id == run_id)
        .values(
            cost_usd=RunRow.cost_usd + cost_usd,
            prompt_tokens=RunRow.prompt_tokens + prompt_tokens,
            completion_tokens=RunRow.completion_tokens + completion_tokens,
            updated_at=utcnow(),
        )
    )
    last = session.scalar(select(func.max(LLMCallRow.seq)).where(LLMCallRow.run_id == run_id))
    row = LLMCallRow(
        run_id=run_id,
        seq=0 if last is None else last + 1,
        round_index=round_index,
        role=role,
        model=model,
        messages=messages,
        response=response,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=cost_usd,
        latency_s=latency_s,
        error=error,
        candidate_hash=candidate_hash,
        created_at=created_at or utcnow(),
        **columns,
    )
    session.add(row)
    session.flush()
    return row


def set_llm_call_candidate(session: Session, call_id: int, candidate_hash: str) -> None:
    """Remember which candidate a call produced (known only after the coder's answer is parsed)."""
    session.execute(update(LLMCallRow).where(LLMCallRow.id == call_id).values(candidate_hash=candidate_hash))


def verdict_values(
    run_id: str,
    source_hash: str,
    verdict: dict[str, Any],
    *,
    bottleneck: str = "",
    feedback: str = "",
    suspicious: bool = False,
    matches_prediction: bool | None = None,
    round_index: int | None = None,
) -> dict[str, Any]:
    """A verdicts row: the whole Verdict as JSON, plus the columns that are queried."""
    where = f"verdict of run {run_id}"
    verdict, bottleneck, feedback = (stored_text(v, where) for v in (verdict, bottleneck, feedback))
    return {"run_id": run_id, "source_hash": source_hash, "round_index": round_index, "bottleneck": bottleneck,
            "feedback": feedback, "suspicious": suspicious, "matches_prediction": matches_prediction,
            "verdict": verdict, "created_at": utcnow()}


def record_verdict(session: Session, run_id: str, source_hash: str, verdict: dict[str, Any], **columns: Any) -> VerdictRow:
    """Store the judge's verdict (`columns`: verdict_values'); returns its row."""
    row = VerdictRow(**verdict_values(run_id, source_hash, verdict, **columns))
    session.add(row)
    session.flush()
    return row


def record_verdicts(session: Session, rows: list[dict[str, Any]]) -> None:
    """Several verdict_values rows in one statement."""
    if rows:
        session.flush()  # pending ORM rows first (the run, the candidates)
        session.execute(insert(VerdictRow.__table__), rows)


def add_lessons(
    session: Session, task: str, hardware_fingerprint: str, texts: list[str], source_run_id: str | None = None
) -> int:
    """Store lessons for (task, hardware), skipping ones already known (exact text, trimmed); returns how many are new."""
    added = 0
    texts = stored_text(list(texts), f"lessons for {task}")
    for text in dict.fromkeys(t.strip() for t in texts if t.strip()):
        values = {
            "task": task,
            "hardware_fingerprint": hardware_fingerprint,
            "text": text,
            "text_hash": source_hash_of(text),  # the one text hash (records.evaluation.source_hash)
            "source_run_id": source_run_id,
        }
        added += insert_ignore(
            session,
            LessonRow,
            with_defaults(LessonRow, values),
            ["task", "hardware_fingerprint", "text_hash"],
        )
    return added
