"""How much one offline optimize costs the store: SQL statements and sha256 computations.

Runs `warpsmith optimize --kernel rmsnorm --offline --device cpu --suite smoke --rounds 3
--width 3` (the seed plus 9 candidates = 10) in this process against a fresh SQLite file, and
counts every statement SQLAlchemy sends to the database (a `before_cursor_execute` listener on
every engine) and every `hashlib.sha256` object made in this process (the evaluator's child
processes are not counted: they are the candidate's). Prints a table: statements by kind,
statements per candidate, sha256 computations. Issue 10's target: at most 5 statements per
candidate. Usage:

    python bench/spine_counts.py [--rounds 3] [--width 3] [--kernel rmsnorm] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

_sha256 = hashlib.sha256
SHA256_CALLS = Counter()


def _counting_sha256(*args, **kwargs):  # noqa: ANN002, ANN003 - hashlib's own signature
    SHA256_CALLS["sha256"] += 1
    return _sha256(*args, **kwargs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", default="rmsnorm")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--width", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    hashlib.sha256 = _counting_sha256  # before warpsmith is imported: every module calls hashlib.sha256
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements: Counter[str] = Counter()

    @event.listens_for(Engine, "before_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ARG001
        statements[statement.lstrip().split(None, 1)[0].upper()] += 1

    from warpsmith.cli.main import app

    with tempfile.TemporaryDirectory() as folder:
        db = f"sqlite:///{Path(folder) / 'bench.db'}"
        # migrations and the task's first open are part of any first run: count them apart
        from warpsmith.store import open_store

        open_store(db).engine.dispose()
        opening, statements_before = dict(statements), sum(statements.values())
        statements.clear()
        sha_before = SHA256_CALLS["sha256"]
        argv = [
            "optimize", "--kernel", args.kernel, "--offline", "--device", "cpu", "--suite", "smoke",
            "--rounds", str(args.rounds), "--width", str(args.width), "--db", db,
            "--out", str(Path(folder) / "best.py"),
        ]
        try:
            app(argv, standalone_mode=False)
        except SystemExit as stop:
            if stop.code not in (0, None):
                print(f"optimize exited {stop.code}", file=sys.stderr)
                return 1
        from sqlalchemy import create_engine, text

        engine = create_engine(db)
        with engine.connect() as conn:
            candidates = conn.execute(text("SELECT count(*) FROM run_candidates")).scalar_one()
            evaluations = conn.execute(text("SELECT count(*) FROM run_evaluations")).scalar_one()
        engine.dispose()
    total = sum(statements.values()) - 2  # the two counts just above
    statements["SELECT"] -= 2
    sha = SHA256_CALLS["sha256"] - sha_before
    report = {
        "candidates": candidates,
        "evaluations": evaluations,
        "statements": total,
        "by_kind": dict(statements.most_common()),
        "statements_per_candidate": round(total / max(candidates, 1), 1),
        "sha256": sha,
        "opening_statements": statements_before,
        "opening_by_kind": opening,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{'measure':<32}{'value':>10}")
    print(f"{'candidates in the run':<32}{candidates:>10}")
    print(f"{'evaluations linked':<32}{evaluations:>10}")
    print(f"{'SQL statements (optimize)':<32}{total:>10}")
    for kind, count in statements.most_common():
        print(f"{'  ' + kind:<32}{count:>10}")
    print(f"{'statements per candidate':<32}{report['statements_per_candidate']:>10}")
    print(f"{'sha256 computations':<32}{sha:>10}")
    print(f"{'(store creation, apart)':<32}{statements_before:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
