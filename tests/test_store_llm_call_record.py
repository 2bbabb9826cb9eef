"""Adding a field to the LLM-call record either reaches llm_calls or fails loudly (issue 10).

The writer stores every LLMCall field that has a column (store/writer.py); a field with no column
and no NOT_STORED entry would be dropped silently, so importing the writer refuses it.
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


def test_a_field_added_to_the_record_without_a_column_stops_the_writer_import() -> None:
    # a real interpreter that adds a field to LLMCall before the writer is imported
    script = textwrap.dedent("""
        from pydantic import Field
        from warpsmith.records import agents
        agents.LLMCall.model_fields["finish_reason"] = Field(default="")
        import warpsmith.store.writer
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=Path(__file__).parent.parent, timeout=120)
    assert done.returncode != 0
    assert "LLMCall field(s) finish_reason have no llm_calls column" in done.stderr


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
