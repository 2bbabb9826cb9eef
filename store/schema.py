"""The store's tables, as SQLAlchemy 2.x typed ORM classes.

Owns: table and column definitions, keys, indexes and the UTC timestamp type. Does not own:
how the schema reaches a database (warpsmith.store.migrate and migrations/versions/, which
must be changed together with this module), sessions (warpsmith.store.db) or queries
(warpsmith.store.writes / runs / reads). Imports nothing of warpsmith: the coordinator in
warpsmith.agents maps its pydantic records (Candidate, EvalResult, Hardware, LLMCall,
Verdict) onto these rows and keeps each whole record in a JSON column beside the key
columns that are queried.

Identity decisions:
- candidates are content-addressed: `source_hash` (sha256 of the exact UTF-8 source) is the
  primary key, so identical text is stored once however many runs produce it (under the task
  and origin it first came with).
- `candidates.parent_hash` and `llm_calls.candidate_hash` are indexed but NOT foreign keys:
  imports and replays may bring a child before its parent.
- runs have readable string ids, `r-YYYYMMDD-HHMMSS-xxxxxx` (UTC time + 6 random hex digits):
  sortable, unique across machines sharing one Postgres store, short enough to type.
- evaluations are history, appended and never updated. An evaluation's identity is
  (candidate, task definition hash, hardware fingerprint incl. toolchain, evaluator version,
  suite, stage); the cache serves the newest row of an identity (several rows: re-evaluations).
  `task_definition_hash` NULL = measured before definitions were hashed (migration 0002): unknown,
  never served for a task whose hash is known. `run_evaluations` links a run to each evaluation
  it saw (measured or served from the cache), so a run's page shows what that run saw; an
  evaluation's own run is linked by a trigger in the statement that stores it (migration 0008).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, get_args, get_origin

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text  # the lessons table has a column named text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from warpsmith.records.agents import LLMCall

# The strategies warpsmith ships. The column is open: any name matching STRATEGY_NAME is stored
# (a new strategy such as `evolve` needs no migration). At most 20 characters: the column's width
# since revision 0001 (widening it would rebuild `runs` on SQLite; no CHECK constraint ever existed).
STRATEGIES = ("offline", "llm", "replay")
STRATEGY_NAME = r"^[a-z][a-z0-9_-]{0,19}$"

# Explicit constraint names: Alembic needs them to alter constraints later, on every dialect.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every dialect (SQLite keeps no zone; we restore it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps timezone-aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class TaskRow(Base):
    __tablename__ = "tasks"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    signature: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HardwareRow(Base):
    __tablename__ = "hardware"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_name: Mapped[str] = mapped_column(String(300))
    backend: Mapped[str] = mapped_column(String(20))
    arch: Mapped[str | None] = mapped_column(String(50))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="The whole Hardware record.")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    task: Mapped[str] = mapped_column(ForeignKey("tasks.name"), index=True)
    language: Mapped[str] = mapped_column(String(20))
    strategy: Mapped[str] = mapped_column(String(20), doc="a name matching STRATEGY_NAME, e.g. offline | llm | replay")
    model: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(30), default="running", index=True)
    status_message: Mapped[str] = mapped_column(Text, default="")
    config: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="rounds, width, budget, ...")
    hardware_fingerprint: Mapped[str | None] = mapped_column(ForeignKey("hardware.fingerprint"), index=True)
    parent_run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"), doc="A replay's original run.")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, doc="Heartbeat: bumped by every step.")
    finished_at: Mapped[datetime | None]
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    rounds_done: Mapped[int] = mapped_column(Integer, default=0)
    best_candidate_hash: Mapped[str | None] = mapped_column(ForeignKey("candidates.source_hash"))
    best_speedup: Mapped[float | None] = mapped_column(Float)
    host: Mapped[str | None] = mapped_column(String(255), doc="Where the writer process runs.")
    pid: Mapped[int | None] = mapped_column(
        Integer, doc="The writer process, to tell a dead run from a live one."
    )


class CandidateRow(Base):
    __tablename__ = "candidates"

    source_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    task: Mapped[str] = mapped_column(ForeignKey("tasks.name"), index=True)
    language: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(Text)
    parent_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    origin: Mapped[str] = mapped_column(String(20), default="user")
    plan_item: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunCandidateRow(Base):
    """Which run produced (or inherited as a parent) which candidate, in which round."""

    __tablename__ = "run_candidates"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    source_hash: Mapped[str] = mapped_column(
        ForeignKey("candidates.source_hash"), primary_key=True, index=True
    )
    round_index: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0, doc="Order within the round.")
    relation: Mapped[str] = mapped_column(String(20), default="produced", doc="produced | inherited")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvaluationRow(Base):
    __tablename__ = "evaluations"
    __table_args__ = (
        Index(
            "ix_evaluations_identity",
            "source_hash",
            "hardware_fingerprint",
            "evaluator_version",
            "suite",
            "task_definition_hash",
            "stage",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_hash: Mapped[str] = mapped_column(ForeignKey("candidates.source_hash"), index=True)
    hardware_fingerprint: Mapped[str] = mapped_column(ForeignKey("hardware.fingerprint"))
    evaluator_version: Mapped[str] = mapped_column(String(40))
    suite: Mapped[str] = mapped_column(String(40))
    task_definition_hash: Mapped[str | None] = mapped_column(
        String(64), doc="The task's definition measured against; NULL: unknown (before migration 0002)."
    )
    stage: Mapped[str] = mapped_column(String(10), default="full", server_default="full", doc="screen | full")
    mode: Mapped[str] = mapped_column(String(20), doc="device | interpreter | none")
    status: Mapped[str] = mapped_column(String(30), index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    speedup: Mapped[float | None] = mapped_column(Float, doc="Geometric mean over the timed shapes.")
    speedup_min: Mapped[float | None] = mapped_column(Float)
    speedup_max: Mapped[float | None] = mapped_column(Float)
    median_us_total: Mapped[float | None] = mapped_column(Float, doc="Sum of per-shape medians.")
    result: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="The whole EvalResult.")
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"), doc="The run that measured it.")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunEvaluationRow(Base):
    """Which evaluations a run saw: those it measured and those the cache served it."""

    __tablename__ = "run_evaluations"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LLMCallRow(Base):
    """An LLM call: the store's keys here, then one column per `records.agents.LLMCall` field
    (derived below: adding a field to the record adds its column; its migration is the one other
    file, and tests/test_store_open.py's models-vs-migrations check fails until it exists)."""

    __tablename__ = "llm_calls"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    seq: Mapped[int] = mapped_column(Integer, doc="Order within the run, from 0: replay serves calls in it.")
    round_index: Mapped[int | None] = mapped_column(Integer)
    candidate_hash: Mapped[str | None] = mapped_column(String(64), index=True, doc="What the call produced.")


LLM_CALL_NOT_STORED = {
    "attempt": "a retry's number: the stored calls are the tries themselves, in seq order",
    "truncated": "the answer as stored shows the cut; the finish reason has no column yet",
    "replayed": "a replay run stores its own calls; its parent_run_id says where they came from",
}
"""LLMCall fields with no llm_calls column, each with why."""
TEXT_WIDTHS = {"role": 20, "model": 200}
"""Record fields stored as a bounded String (their width since revision 0001); other text is Text."""


def record_column(name: str, field: FieldInfo) -> Column[Any]:
    """The column of one record field: its type from the annotation (Optional: nullable), its default the field's."""
    args = [a for a in get_args(field.annotation) if a is not type(None)]
    nullable = len(args) < len(get_args(field.annotation)) and get_origin(field.annotation) is not Literal
    kind = args[0] if nullable and len(args) == 1 else field.annotation
    origin = get_origin(kind)
    column_type: Any
    if kind is bool:
        column_type = Boolean()
    elif kind is int:
        column_type = Integer()
    elif kind is float:
        column_type = Float()
    elif kind is datetime:
        column_type = UTCDateTime()
    elif kind in (list, dict) or origin in (list, dict):
        column_type = JSON()
    elif kind is str or origin is Literal:
        column_type = String(TEXT_WIDTHS[name]) if name in TEXT_WIDTHS else Text()
    else:
        raise TypeError(f"LLMCall.{name}: no column type for {field.annotation!r} (store/schema.py record_column)")
    default = field.default_factory if field.default_factory is not None else (
        None if field.default is PydanticUndefined else field.default)
    return Column(name, column_type, nullable=nullable, default=default)


for _name, _field in LLMCall.model_fields.items():
    if _name not in LLM_CALL_NOT_STORED:
        setattr(LLMCallRow, _name, record_column(_name, _field))


class VerdictRow(Base):
    __tablename__ = "verdicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    source_hash: Mapped[str] = mapped_column(ForeignKey("candidates.source_hash"), index=True)
    round_index: Mapped[int | None] = mapped_column(Integer)
    bottleneck: Mapped[str] = mapped_column(Text, default="")
    feedback: Mapped[str] = mapped_column(Text, default="")
    matches_prediction: Mapped[bool | None] = mapped_column(Boolean)
    suspicious: Mapped[bool] = mapped_column(Boolean, default=False)
    verdict: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="The whole Verdict.")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LessonRow(Base):
    __tablename__ = "lessons"
    # Uniqueness on a hash of the text: a btree index on long TEXT fails on Postgres.
    __table_args__ = (UniqueConstraint("task", "hardware_fingerprint", "text_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(ForeignKey("tasks.name"))
    hardware_fingerprint: Mapped[str] = mapped_column(ForeignKey("hardware.fingerprint"))
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(String(64))
    source_run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # migration 0006: what a lesson is about and what backs it (store/lessons.py writes and reads them)
    language: Mapped[str | None] = mapped_column(String(20), doc="triton | cuda | hip; NULL: unknown.")
    origin: Mapped[str] = mapped_column(String(20), default="llm", server_default="llm",
                                        doc="llm (a judge's) | offline (the tuner's notes, never shown to a model).")
    evidence: Mapped[list[Any]] = mapped_column(default=list, server_default=sql_text("'[]'"),
                                                 doc="[{source_hash, change, run_id}], newest last.")
    seen: Mapped[int] = mapped_column(Integer, default=1, server_default="1",
                                      doc="How often it was taught (near-duplicates merged into it).")
