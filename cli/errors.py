"""The one way a command reports a user error: one red line on stderr, exit code 2.

Owns: `usage_error`, and `resolved_device` (--device auto|cpu|cuda resolved, or that one line). One line whatever the terminal: rich wraps at 80 columns when stderr
is not a terminal, so the line is printed with soft wrapping, and line breaks inside the
message (a driver's multi-line error) are folded into spaces. Does not own: deciding what
is a user error (each command catches what it can explain).
"""

from __future__ import annotations

import typer
from rich.markup import escape

from warpsmith.cli.output import stderr_console

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
