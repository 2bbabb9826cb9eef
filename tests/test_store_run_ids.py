"""Naming, deleting and exporting runs: whole ids, unique prefixes and `latest` (one-line errors,
LIKE wildcards escaped), `delete_run` keeping what other runs use, `export_run`, and the CLI's
`runs show|delete|export` on top of them. SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from _store_helpers import HW, eval_result, seed_task_and_hardware
from sqlalchemy import func, select, text, update

from warpsmith.store import (
    RunNotFoundError,
    Store,
    add_candidate,
    create_run,
    get_run,
    link_candidate,
    mark_run_status,
    open_store,
    record_llm_call,
    update_run_progress,
)
from warpsmith.store.schema import CandidateRow, EvaluationRow, RunEvaluationRow, RunRow

# HOME, XDG_DATA_HOME and WARPSMITH_DB point into tmp (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("isolated_user_dirs")


@pytest.fixture
def seeded(store: Store) -> Store:
    seed_task_and_hardware(store)
    return store


def _new_run(store: Store) -> str:
    with store.session() as s:
        return create_run(s, task="rmsnorm", language="triton", strategy="llm", model="openai/x").id


def _named_run(store: Store, run_id: str, minutes_ago: int = 0) -> str:
    from warpsmith.store.schema import utcnow

    with store.session() as s:
        create_run(s, task="rmsnorm", language="triton", strategy="offline", run_id=run_id)
        s.execute(
            update(RunRow)
            .where(RunRow.id == run_id)
            .values(created_at=utcnow() - timedelta(minutes=minutes_ago))
        )
    return run_id


def test_a_run_is_named_by_its_id_a_unique_prefix_or_latest(seeded: Store) -> None:
    from warpsmith.store.runs import resolve_run_id

    _named_run(seeded, "r-20261130-090000-aaaaaa", minutes_ago=10)
    _named_run(seeded, "r-20261130-090000-aabbbb", minutes_ago=5)
    newest = _named_run(seeded, "r-20261130-100000-cccccc")
    with seeded.session() as s:
        assert resolve_run_id(s, "r-20261130-090000-aaaaaa") == "r-20261130-090000-aaaaaa"
        assert resolve_run_id(s, "r-20261130-090000-aab") == "r-20261130-090000-aabbbb"
        assert resolve_run_id(s, "r-20261130-1") == newest
        assert resolve_run_id(s, "latest") == resolve_run_id(s, " LATEST ") == newest


def test_an_ambiguous_prefix_lists_at_most_five_matches_in_one_line(seeded: Store) -> None:
    from warpsmith.store.runs import AmbiguousRunIdError, resolve_run_id

    for k in range(7):
        _named_run(seeded, f"r-20261130-090000-ab{k:04d}", minutes_ago=k)
    with seeded.session() as s, pytest.raises(AmbiguousRunIdError) as caught:
        resolve_run_id(s, "r-20261130-090000-ab")
    message = str(caught.value)
    assert (
        "\n" not in message
        and message.count("r-20261130-090000-ab0") == 5
        and message.endswith("type more of the id")
    )
    assert "r-20261130-090000-ab0000" in message, "newest first"


@pytest.mark.parametrize("typed", ["r-%", "r-_0261130", "%", "_", "r-\\", "x" * 50_000, "", "r-2026 11"])
def test_unknown_or_malformed_ids_are_one_line_errors_and_wildcards_match_only_themselves(
    seeded: Store, typed: str
) -> None:
    from warpsmith.store.runs import resolve_run_id

    _named_run(seeded, "r-20261130-090000-aaaaaa")
    with seeded.session() as s, pytest.raises(RunNotFoundError) as caught:
        resolve_run_id(s, typed)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200


def test_latest_in_an_empty_store_says_there_are_no_runs(seeded: Store) -> None:
    from warpsmith.store.runs import RunIdError, resolve_run_id

    with seeded.session() as s, pytest.raises(RunIdError, match="no runs in the store"):
        resolve_run_id(s, "latest")


def _evaluated(
    store: Store, run_id: str, source: str, round_index: int = 0, parent: str | None = None
) -> tuple[str, int]:
    from warpsmith.store import record_evaluation

    with store.session() as s:
        digest = add_candidate(
            s, task="rmsnorm", language="triton", source=source, parent_hash=parent
        ).source_hash
        link_candidate(s, run_id, digest, round_index)
        evaluation = record_evaluation(
            s, source_hash=digest, hardware_fingerprint=HW, evaluator_version="1", suite="bench",
            mode="device", status="correct", result=eval_result(digest), speedup=1.0, run_id=run_id,
        )  # fmt: skip
        return digest, evaluation.id


def test_deleting_a_run_keeps_what_other_runs_use(seeded: Store) -> None:
    from warpsmith.store import add_lessons, link_evaluation, record_verdict
    from warpsmith.store.runs import delete_run

    keep, doomed = _new_run(seeded), _new_run(seeded)
    shared, shared_eval = _evaluated(seeded, doomed, "shared kernel")
    own, own_eval = _evaluated(seeded, doomed, "only the doomed run's", parent=shared)
    with seeded.session() as s:
        link_candidate(s, keep, shared, 0, relation="inherited")
        link_evaluation(s, keep, shared_eval)
        record_llm_call(s, doomed, role="coder", model="m", messages=[], response="x")
        record_verdict(s, doomed, own, {"feedback": "ok"})
        add_lessons(s, "rmsnorm", HW, ["tiles of 128 win"], source_run_id=doomed)
        update_run_progress(s, doomed, best_candidate_hash=own, best_speedup=1.0)
        mark_run_status(s, doomed, "completed")
    with seeded.session() as s:
        counts = delete_run(s, doomed)
    assert counts == {
        "run_evaluations": 2,
        "run_candidates": 2,
        "llm_calls": 1,
        "verdicts": 1,
        "evaluations": 1,
        "candidates": 1,
    }
    with seeded.session() as s:
        assert get_run(s, doomed) is None and get_run(s, keep) is not None
        assert s.get(CandidateRow, shared) is not None and s.get(CandidateRow, own) is None
        kept = s.get(EvaluationRow, shared_eval)
        assert kept is not None and kept.run_id is None, "seen by another run: kept, unattributed"
        assert s.get(EvaluationRow, own_eval) is None
        assert s.scalar(select(func.count()).select_from(RunEvaluationRow).filter_by(run_id=keep)) == 1
        assert s.scalar(text("SELECT source_run_id FROM lessons")) is None


def test_a_running_or_replayed_run_is_not_deleted(seeded: Store) -> None:
    from warpsmith.store.runs import delete_run

    live = _new_run(seeded)  # written by this very process: alive
    with seeded.session() as s, pytest.raises(ValueError, match="still running"):
        delete_run(s, live)
    with seeded.session() as s:
        mark_run_status(s, live, "completed")
        create_run(s, task="rmsnorm", language="triton", strategy="replay", parent_run_id=live)
    with seeded.session() as s, pytest.raises(ValueError, match="replayed by"):
        delete_run(s, live)


def test_an_export_holds_the_whole_run(seeded: Store) -> None:
    import json

    from warpsmith.store.runs import export_run

    run_id = _new_run(seeded)
    digest, _ = _evaluated(seeded, run_id, "kernel source\n")
    with seeded.session() as s:
        record_llm_call(
            s, run_id, role="coder", model="m", messages=[{"role": "user", "content": "hi"}], response="ok"
        )
        document = json.loads(json.dumps(export_run(s, run_id)))
    assert document["run"]["id"] == run_id and document["run"]["created_at"].startswith("20")
    assert (
        document["candidates"][0]["source"] == "kernel source\n"
        and document["candidates"][0]["round_index"] == 0
    )
    assert document["evaluations"][0]["source_hash"] == digest
    assert document["llm_calls"][0]["messages"] == [{"role": "user", "content": "hi"}]


@pytest.mark.slow  # eight CLI processes
def test_the_cli_takes_prefixes_and_latest_and_deletes_and_exports(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`warpsmith runs show|export|delete` in a subprocess, over a SQLite store."""
    import json

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    with open_store(url) as store:
        seed_task_and_hardware(store)
        older = _named_run(store, "r-20261130-090000-aaaaaa", minutes_ago=5)
        newest = _named_run(store, "r-20261130-090000-abbbbb")
        _evaluated(store, older, "a kernel\n")
        with store.session() as s:
            mark_run_status(s, older, "completed")
            mark_run_status(s, newest, "completed")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "warpsmith.cli", *args, "--db", url],
            capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip

    shown = json.loads(cli("runs", "show", "latest", "--json").stdout)
    assert shown["run"]["id"] == newest
    assert json.loads(cli("runs", "show", "r-20261130-090000-aa", "--json").stdout)["run"]["id"] == older
    ambiguous = cli("runs", "show", "r-2026")
    assert (
        ambiguous.returncode == 2 and newest in ambiguous.stderr and len(ambiguous.stderr.splitlines()) == 1
    )
    exported = tmp_path / "run.json"
    assert cli("runs", "export", "r-20261130-090000-aa", "--out", str(exported)).returncode == 0
    assert json.loads(exported.read_text())["candidates"][0]["source"] == "a kernel\n"
    again = cli("runs", "export", older, "--out", str(exported))
    assert again.returncode == 2 and "exists" in again.stderr
    unconfirmed = cli("runs", "delete", older)
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    deleted = cli("runs", "delete", "r-20261130-090000-aa", "--yes")
    assert deleted.returncode == 0 and f"deleted run {older}" in deleted.stdout
    gone = cli("runs", "show", older)
    assert gone.returncode == 2 and "no run" in gone.stderr
