"""Adding a field to the LLM-call record adds its column, and nothing is dropped silently (issue 10).

store/schema.py derives llm_calls' record columns from `records.agents.LLMCall`; the writer stores
every field that has one. Adding a field therefore touches the record and its migration: without
the migration, the models-vs-migrations comparison (tests/test_store_open.py) reports the column.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from warpsmith.records.agents import LLMCall
from warpsmith.store.schema import LLMCallRow
from warpsmith.store.writer import NOT_STORED, unstored_llm_call_fields

COLUMNS = set(LLMCallRow.__table__.columns.keys())


def test_every_record_field_is_a_column_or_says_why_not() -> None:
    assert unstored_llm_call_fields(set(LLMCall.model_fields), COLUMNS) == set()
    assert set(NOT_STORED) <= set(LLMCall.model_fields), "NOT_STORED names a field the record no longer has"
    assert not set(NOT_STORED) & COLUMNS, "a NOT_STORED field has a column: take it off the list"


def test_a_field_added_to_the_record_gets_a_column_and_a_missing_migration_shows(tmp_path: Path) -> None:
    # a real interpreter adds a field to LLMCall (as an edit of records/agents.py would) before the
    # schema is imported: the table has its column, typed from the annotation, and a store migrated
    # to head lacks it: the models-vs-migrations comparison names it (a migration is the one other file)
    script = textwrap.dedent(f"""
        from pydantic.fields import FieldInfo
        from warpsmith.records import agents
        agents.LLMCall.model_fields["finish_reason"] = FieldInfo(annotation=str | None, default=None)
        agents.LLMCall.model_rebuild(force=True)
        from alembic.autogenerate import compare_metadata
        from alembic.runtime.migration import MigrationContext
        from warpsmith.store import open_store
        from warpsmith.store.schema import Base, LLMCallRow
        column = LLMCallRow.__table__.c.finish_reason
        print("column", column.type, column.nullable)
        store = open_store("sqlite:///{tmp_path / 'added.db'}")
        with store.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection, opts={{"compare_type": True}}), Base.metadata)
        print("diff", [(d[0], d[3].name) for d in diff if d[0] == "add_column"])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=Path(__file__).parent.parent, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "column TEXT True" in done.stdout
    assert "diff [('add_column', 'finish_reason')]" in done.stdout


def test_a_field_with_a_column_is_stored(tmp_path: Path) -> None:
    from warpsmith.store import create_run, ensure_task, open_store
    from warpsmith.store.writer import RunWriter

    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    call = LLMCall(role="coder", model="m", messages=[{"role": "user", "content": "hi"}], response="ok",
                   prompt_tokens=3, completion_tokens=4, cost_usd=0.5, latency_s=1.5, error=None)
    with store.session() as s:
        ensure_task(s, "rmsnorm")
        run_id = create_run(s, task="rmsnorm", language="triton", strategy="llm").id
        call_id = RunWriter.of(s).llm_call(s, run_id, call, 1)
    with store.session() as s:
        row = s.get(LLMCallRow, call_id)
        stored = {name: getattr(row, name) for name in set(LLMCall.model_fields) & COLUMNS if name != "created_at"}
    assert stored == call.model_dump(include=set(stored))
    store.close()
