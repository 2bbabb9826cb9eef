"""`warpsmith export RUN|HASH --as torch-op|module --out DIR`: a stored winner as a Python package.

Owns: the command's options, its one-line errors and its summary. Does not own: choosing the
candidate or writing the package (warpsmith.export; docs/export.md).
"""

from __future__ import annotations

from pathlib import Path

import typer

from warpsmith.cli.errors import usage_error
from warpsmith.cli.output import stdout_console

EXIT_CODES = (
    "Exit codes: 0 the package was written, 2 a usage error (unknown run or hash, a candidate that is "
    "not correct in the store, DIR exists without --force, a store that cannot be opened)."
)


def export(
    ref: str = typer.Argument(..., help="A run (id, unique prefix or `latest`: its best kernel) or a source hash."),
    kind: str = typer.Option("torch-op", "--as", help="torch-op (registers the op on import) or module."),
    out: Path = typer.Option(..., "--out", help="The folder to write the package into."),
    db: str | None = typer.Option(None, "--db", help="SQLAlchemy URL of the store (or WARPSMITH_DB)."),
    force: bool = typer.Option(False, "--force", help="Replace DIR if it exists."),
) -> None:
    """Write a self-contained, pip-installable package that registers torch.ops.warpsmith.<task>."""
    from warpsmith.cli.runs_cmd import _open
    from warpsmith.export import ExportError, find_target, write_package
    from warpsmith.export.schema import SchemaError
    from warpsmith.tasklib import UnknownTaskError, get_task

    store = _open(db)
    try:
        with store.session() as session:
            target = find_target(session, ref)
            task = get_task(target.candidate.task)
            written = write_package(target, task, out.expanduser().resolve(), kind, force)
    except (ExportError, SchemaError, UnknownTaskError) as error:
        raise usage_error(str(error)) from None
    finally:
        store.close()
    console = stdout_console()
    console.print(
        f"exported {target.candidate.source_hash[:12]} ({target.candidate.language}, task {task.name}) "
        f"as {written.package} ({kind}) to {written.path}",
        markup=False, highlight=False, soft_wrap=True,
    )
    console.print(f"op: torch.ops.warpsmith.{task.name}  {written.schema.schema}", markup=False, highlight=False)
    console.print(
        f"use: pip install {written.path}  (or PYTHONPATH={written.path}); test: cd {written.path} && python -m pytest tests",
        markup=False, highlight=False, soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("export", epilog=EXIT_CODES)(export)
