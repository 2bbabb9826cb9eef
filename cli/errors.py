"""The one way a command reports a user error: one red line on stderr, exit code 2.

Owns: `usage_error`, `resolved_device` (--device auto|cpu|cuda resolved, or that one line) and
`opened_store` (a write command's store, or the one line saying why not). One line whatever the terminal: rich wraps at 80 columns when stderr
is not a terminal, so the line is printed with soft wrapping, and line breaks inside the
message (a driver's multi-line error) are folded into spaces. Does not own: deciding what
is a user error (each command catches what it can explain).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from warpsmith.cli.output import stderr_console

if TYPE_CHECKING:
    from warpsmith.store.db import Store

err = stderr_console()


def usage_error(message: str) -> typer.Exit:
    """Print `message` as one 'error: ...' line on stderr; returns the Exit(2) to raise."""
    one_line = " ".join(message.split())
    err.print(f"[red]error:[/red] {escape(one_line)}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def resolved_device(requested: str) -> str:
    """'auto' becomes cuda when torch sees a GPU (CUDA or ROCm), else cpu; cuda without one is a usage error."""
    from warpsmith.evaluator.evaluate import resolve_device

    try:
        return resolve_device(requested)  # type: ignore[arg-type]
    except ValueError:
        raise usage_error("--device cuda: torch sees no GPU on this machine (use --device cpu)") from None


def opened_store(db: str) -> Store:
    """open_store(db) for a command that writes (creating or migrating it), or the one line saying why not."""
    from warpsmith.store.db import StoreError, open_store  # here: `--help` loads no SQLAlchemy

    try:
        return open_store(db)
    except StoreError as error:
        raise usage_error(str(error)) from None
