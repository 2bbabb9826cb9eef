"""Several processes writing one store: LLM-call sequence numbers stay unique, nothing is lost.

Real processes, a real SQLite file (and a real PostgreSQL server where one can start: the
`postgres` marker). Also: the strategy column is an open name, not a closed list.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from _store_helpers import HW, seed_task_and_hardware
from sqlalchemy import select

from warpsmith.store import Store, create_run, open_store
from warpsmith.store.schema import LLMCallRow, RunRow

# HOME, XDG_DATA_HOME and WARPSMITH_DB point into tmp (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("isolated_user_dirs")

CALLS_PER_WRITER = 40
WRITERS = 2

# Waits for a shared start time, then appends calls to one run as fast as it can, each call in
# its own session (as the coordinator does), with tokens that identify the writer and the call.
WRITER = """
import sys, time
from warpsmith.store import open_store, record_llm_call

url, run_id, writer, count, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
store = open_store(url)
time.sleep(max(0.0, start - time.time()))
for i in range(count):
    with store.session() as s:
        record_llm_call(s, run_id, role="coder", model=f"w{writer}", messages=[{"role": "user", "content": str(i)}],
                        response=f"{writer}:{i}", prompt_tokens=1, completion_tokens=writer * 1000 + i)
store.close()
print("done", flush=True)
"""


def _new_run(store: Store) -> str:
    seed_task_and_hardware(store)
    with store.session() as s:
        return create_run(s, task="rmsnorm", language="triton", strategy="offline", hardware_fingerprint=HW).id


def test_two_processes_appending_calls_to_one_run_get_unique_gapless_seqs(store_url: str) -> None:
    store = open_store(store_url)
    run_id = _new_run(store)
    start = time.time() + 3.0  # both children are up and connected before either writes
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, store_url, run_id, str(w), str(CALLS_PER_WRITER), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(1, WRITERS + 1)
    ]
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0 and "done" in out, err[-2000:]
    with store.session() as s:
        rows = list(s.scalars(select(LLMCallRow).where(LLMCallRow.run_id == run_id).order_by(LLMCallRow.seq)))
        run = s.get(RunRow, run_id)
    store.close()
    total = WRITERS * CALLS_PER_WRITER
    assert [r.seq for r in rows] == list(range(total)), "a sequence number was lost or given twice"
    assert sorted(r.response for r in rows) == sorted(
        f"{w}:{i}" for w in range(1, WRITERS + 1) for i in range(CALLS_PER_WRITER)
    )
    for w in range(1, WRITERS + 1):  # each writer's calls keep their own order within the run's sequence
        mine = [int(r.response.split(":")[1]) for r in rows if r.model == f"w{w}"]
        assert mine == list(range(CALLS_PER_WRITER))
    assert run.prompt_tokens == total  # the run's totals count every call exactly once
    assert run.completion_tokens == sum(w * 1000 + i for w in range(1, WRITERS + 1) for i in range(CALLS_PER_WRITER))


# Each child writes, through its process's one RunWriter, a candidate, its evaluation and the LLM call that
# produced it, over and over, into the same run as the other child (an evolve run's workers, or two
# machines on one Postgres store).
RECORD_WRITER = """
import sys, time
from warpsmith.records.agents import LLMCall
from warpsmith.records.evaluation import Candidate, EvalResult
from warpsmith.records.scope import EvalScope
from warpsmith.store import open_store
from warpsmith.store.writer import RunWriter
url, run_id, writer_no, count, start, hw = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
store = open_store(url)
writer = RunWriter.of(store)
assert RunWriter.of(store) is writer  # one writer per store in a process
scope = EvalScope(hardware_fingerprint=hw, evaluator_version="1", suite="smoke")
time.sleep(max(0.0, start - time.time()))
for i in range(count):
    candidate = Candidate(task="rmsnorm", language="triton", source=f"# writer {writer_no} kernel {i}", origin="offline")
    result = EvalResult(task="rmsnorm", language="triton", source_hash=candidate.source_hash, status="correct", mode="none")
    with store.session() as s:
        call_id = writer.llm_call(s, run_id, LLMCall(role="coder", model=f"w{writer_no}", messages=[], response=str(i)), 1)
    with store.session() as s:
        writer.candidate(s, run_id, candidate, round_index=1, position=writer_no * 1000 + i)
        writer.link_llm_call(s, call_id, candidate.source_hash)
        writer.evaluation(s, run_id, scope, result)
        writer.progress(s, run_id, rounds_done=1)
store.close()
print("done", flush=True)
"""


def test_two_processes_writing_records_to_one_run_lose_nothing(store_url: str) -> None:
    from sqlalchemy import func

    from warpsmith.store.schema import RunCandidateRow, RunEvaluationRow

    store = open_store(store_url)
    run_id = _new_run(store)
    count, start = 15, time.time() + 3.0
    children = [
        subprocess.Popen(
            [sys.executable, "-c", RECORD_WRITER, store_url, run_id, str(w), str(count), str(start), HW],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for w in (1, 2)
    ]
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0 and "done" in out, err[-2000:]
    with store.session() as s:
        calls = list(s.scalars(select(LLMCallRow).where(LLMCallRow.run_id == run_id).order_by(LLMCallRow.seq)))
        linked = s.scalar(select(func.count()).select_from(RunCandidateRow).filter_by(run_id=run_id))
        seen = s.scalar(select(func.count()).select_from(RunEvaluationRow).filter_by(run_id=run_id))
        run = s.get(RunRow, run_id)
    store.close()
    assert [c.seq for c in calls] == list(range(2 * count)), "a sequence number was lost or given twice"
    assert all(c.candidate_hash for c in calls), "every call is tied to the candidate it produced"
    assert linked == seen == 2 * count and run.rounds_done == 1


@pytest.mark.parametrize("name", ["evolve", "offline", "island-evolve_2", "a", "x" * 20])
def test_any_strategy_name_is_stored(store: Store, name: str) -> None:
    seed_task_and_hardware(store)
    with store.session() as s:
        run_id = create_run(s, task="rmsnorm", language="triton", strategy=name).id
    with store.session() as s:
        assert s.get(RunRow, run_id).strategy == name


@pytest.mark.parametrize("name", ["Evolve", "1st", "", "has space", "x" * 21, "evolve;drop"])
def test_a_strategy_that_is_not_a_name_is_refused(tmp_path: Path, name: str) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    seed_task_and_hardware(store)
    with pytest.raises(ValueError, match="is not a strategy name"), store.session() as s:
        create_run(s, task="rmsnorm", language="triton", strategy=name)
    store.close()
