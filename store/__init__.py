"""warpsmith.store: everything warpsmith remembers, in SQL (SQLite by default, Postgres to share).

Owns: the tables (schema), opening a store with its migrations applied (db, migrate), and
small explicit queries (writes, runs, reads). Imports nothing else of warpsmith: the
coordinator in warpsmith.agents maps its pydantic records to these rows; the dashboard
only reads. Typical use, one short transaction per step of a run:

    store = open_store()                      # WARPSMITH_DB, else the user data dir
    with store.session() as s:
        ensure_task(s, task.name, task.description, task.signature)
        ensure_hardware(s, hw.fingerprint, hw.device_name, hw.backend, hw.arch, hw.model_dump())
        run = create_run(s, task=task.name, language="triton", strategy="offline",
                         hardware_fingerprint=hw.fingerprint)
    with store.session() as s:
        add_candidate(s, task=..., language=..., source=..., origin="seed")
        link_candidate(s, run.id, source_hash, round_index=0)

Evaluations are history: `record_evaluation` appends (never updates); the store links the row to
the run that measured it; `find_evaluation` serves the newest row of an evaluation's identity.
"""

# tables owned by their own modules (bench_reports; evolution runs' population and archive): imported
# so that the shared metadata always holds them
from warpsmith.store import bench_reports as _bench_reports  # noqa: F401
from warpsmith.store import population as _population  # noqa: F401
from warpsmith.store.db import (
    ENV_VAR,
    Store,
    StoreError,
    default_data_dir,
    default_database_url,
    json_dumps,
    mask_url,
    open_store,
)
from warpsmith.store.listing import list_runs, llm_calls_of_run
from warpsmith.store.reads import (
    candidate_detail,
    find_evaluation,
    get_run,
    lessons_for,
    list_tasks,
    newest_of_identity,
    run_candidates,
    run_contents,
)
from warpsmith.store.runs import (
    RunNotFoundError,
    create_run,
    heartbeat,
    mark_run_status,
    mark_stale_runs,
    new_run_id,
    resume_run,
    update_run_progress,
)
from warpsmith.store.schema import (
    STRATEGIES,  # the tables' row classes stay in schema: the store returns records
)
from warpsmith.store.writes import (
    add_candidate,
    add_lessons,
    ensure_hardware,
    ensure_task,
    link_candidate,
    link_evaluation,
    record_evaluation,
    record_llm_call,
    record_verdict,
    set_llm_call_candidate,
)

__all__ = [
    "ENV_VAR",
    "STRATEGIES",
    "Store",
    "StoreError",
    "RunNotFoundError",
    "default_data_dir",
    "default_database_url",
    "mask_url",
    "json_dumps",
    "open_store",
    "ensure_task",
    "ensure_hardware",
    "add_candidate",
    "link_candidate",
    "link_evaluation",
    "record_evaluation",
    "record_llm_call",
    "set_llm_call_candidate",
    "record_verdict",
    "add_lessons",
    "new_run_id",
    "create_run",
    "heartbeat",
    "update_run_progress",
    "mark_run_status",
    "resume_run",
    "mark_stale_runs",
    "get_run",
    "list_tasks",
    "find_evaluation",
    "newest_of_identity",
    "lessons_for",
    "list_runs",
    "llm_calls_of_run",
    "run_candidates",
    "run_contents",
    "candidate_detail",
]
