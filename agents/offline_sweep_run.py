"""What an offline run does with the sweep: whether it sweeps by default, and where its table is kept.

Owns: `sweep_by_default` (an offline run sweeps when its starting kernel, the task's Triton seed,
declares tunables and the run times on a device; under the CPU interpreter times are not comparable,
so a sweep there only checks correctness: it runs only when asked with --sweep), `sweep_document`
(the sweep's line, its per-bucket table and per-config rows, or the notes saying why it did not run,
for `optimize --json`) and `store_sweep` (the same line and per-bucket table appended to the run's stored
status message, which `runs show` prints). Does not own: the sweep (offline_sweep.py), the offline
search (offline.py) or the command's options (warpsmith.cli.optimize_cmd).
"""

from __future__ import annotations

from typing import Any

from warpsmith.agents import mapping
from warpsmith.agents.offline_config import read_triton
from warpsmith.records.evaluation import Hardware


def sweep_by_default(task: Any, language: str, hardware: Hardware) -> bool:
    """True when an offline run should sweep without being asked: a Triton seed with a SEARCH_SPACE, on a device."""
    if language != "triton" or hardware.backend == "cpu":
        return False
    path = task.seed_path("triton") if hasattr(task, "seed_path") else None
    if path is None or not path.exists():
        return False
    try:
        return bool(read_triton(path.read_text()).space)
    except (SyntaxError, ValueError):
        return False


def sweep_setting(flag: bool | None, sweep_max: int, stored: dict[str, Any], offline: bool, task: Any,
                  language: str, hardware: Hardware) -> int:
    """RunSettings.sweep (at most this many configs; 0: no sweep): --sweep / --no-sweep when given, else what
    a resumed run stored, else `sweep_by_default` for an offline run."""
    if flag is not None:
        return sweep_max if flag else 0
    if stored:
        return int(stored.get("sweep", 0))
    return sweep_max if offline and sweep_by_default(task, language, hardware) else 0


def sweep_document(strategy: Any) -> dict[str, object] | None:
    """The sweep's part of `optimize --json`: its report, or only the notes that say why there is none."""
    report, notes = getattr(strategy, "sweep_report", None), list(getattr(strategy, "notes", []))
    if report is None and not notes:
        return None
    document: dict[str, object] = report.document() if report is not None else {}
    return {**document, "notes": [n for n in notes if "\n" not in n]}


def sweep_message(strategy: Any) -> str:
    """The line and per-bucket table a run's stored message carries ('' when the run did not sweep)."""
    report = getattr(strategy, "sweep_report", None)
    if report is not None:
        return f"{report.summary()}\n{report.bucket_table()}"
    return "; ".join(n for n in getattr(strategy, "notes", []) if n.startswith("sweep") and "\n" not in n)


def store_sweep(store: Any, run_id: str, strategy: Any) -> None:
    """Append the sweep's line and per-bucket table to the run's stored status message (kept by the store
    with the run: `runs show` prints it)."""
    said = sweep_message(strategy)
    if not said:
        return
    from warpsmith.store.reads import get_run

    with store.session() as session:
        row = get_run(session, run_id)
        if row is None or said in (row.status_message or ""):
            return
        message = f"{row.status_message}; {said}" if row.status_message else said
        mapping.finish_run(session, run_id, row.status, message)
