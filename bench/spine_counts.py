"""How much one offline run costs the store: SQL statements and sha256 computations.

Runs, in this process against a fresh SQLite file, one of:

- `optimize` (default): `warpsmith optimize --kernel rmsnorm --offline --device cpu --shapes smoke
  --rounds 3 --width 3` (the seed plus 9 candidates = 10);
- `evolve`: `warpsmith evolve --kernels rmsnorm --islands 1 --population 3 --generations 3 --offline
  --device cpu --shapes smoke` (the seed plus 3 x 3 = 10 candidates, one task, one island);

and counts every statement SQLAlchemy sends to the database (a `before_cursor_execute` listener on
every engine; an executemany is one statement) and every `hashlib.sha256` object made in this
process (the evaluator's child processes are not counted: they are the candidate's). Prints a
table: statements by kind, statements per candidate, sha256 computations. Issue 10's target: at
most 5 statements per candidate. Usage:

    python bench/spine_counts.py [optimize|evolve|both] [--rounds 3] [--width 3] [--kernel rmsnorm] [--json]
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


def _argv(command: str, args: argparse.Namespace, db: str, folder: Path) -> list[str]:
    if command == "optimize":
        return ["optimize", "--kernel", args.kernel, "--offline", "--device", "cpu", "--suite", "smoke",
                "--rounds", str(args.rounds), "--width", str(args.width), "--db", db,
                "--out", str(folder / "best.py")]
    return ["evolve", "--kernels", args.kernel, "--islands", "1", "--population", str(args.width),
            "--generations", str(args.rounds), "--offline", "--device", "cpu", "--shapes", "smoke", "--db", db]


def measure(command: str, args: argparse.Namespace, statements: Counter[str]) -> dict:
    """Run `command` once against a fresh store; what it cost."""
    from warpsmith.cli.main import app
    from warpsmith.store import open_store

    with tempfile.TemporaryDirectory() as folder:
        db = f"sqlite:///{Path(folder) / 'bench.db'}"
        # migrations are part of any first run: count them apart
        open_store(db).engine.dispose()
        opening = sum(statements.values())
        statements.clear()
        sha_before = SHA256_CALLS["sha256"]
        try:
            app(_argv(command, args, db, Path(folder)), standalone_mode=False)
        except SystemExit as stop:
            if stop.code not in (0, None):
                raise RuntimeError(f"{command} exited {stop.code}") from None
        sha = SHA256_CALLS["sha256"] - sha_before
        counted = Counter(statements)
        from sqlalchemy import create_engine, text

        engine = create_engine(db)
        with engine.connect() as conn:
            candidates = conn.execute(text("SELECT count(*) FROM run_candidates")).scalar_one()
            evaluations = conn.execute(text("SELECT count(*) FROM evaluations")).scalar_one()
        engine.dispose()
        statements.clear()
    total = sum(counted.values())
    return {
        "command": command,
        "candidates": candidates,
        "evaluations": evaluations,
        "statements": total,
        "by_kind": dict(counted.most_common()),
        "statements_per_candidate": round(total / max(candidates, 1), 1),
        "sha256": sha,
        "opening_statements": opening,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="optimize", choices=["optimize", "evolve", "both"])
    parser.add_argument("--kernel", default="rmsnorm")
    parser.add_argument("--rounds", type=int, default=3, help="optimize rounds / evolve generations")
    parser.add_argument("--width", type=int, default=3, help="optimize width / evolve population")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    hashlib.sha256 = _counting_sha256  # before warpsmith is imported: every module calls hashlib.sha256
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements: Counter[str] = Counter()

    @event.listens_for(Engine, "before_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ARG001
        statements[statement.lstrip().split(None, 1)[0].upper()] += 1

    commands = ["optimize", "evolve"] if args.command == "both" else [args.command]
    try:
        reports = [measure(command, args, statements) for command in commands]
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(reports if len(reports) > 1 else reports[0], indent=2))
        return 0
    for report in reports:
        print(f"{report['command']:<32}{'value':>10}")
        print(f"{'candidates in the run':<32}{report['candidates']:>10}")
        print(f"{'evaluations stored':<32}{report['evaluations']:>10}")
        print(f"{'SQL statements':<32}{report['statements']:>10}")
        for kind, count in report["by_kind"].items():
            print(f"{'  ' + kind:<32}{count:>10}")
        print(f"{'statements per candidate':<32}{report['statements_per_candidate']:>10}")
        print(f"{'sha256 computations':<32}{report['sha256']:>10}")
        print(f"{'(store creation, apart)':<32}{report['opening_statements']:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
