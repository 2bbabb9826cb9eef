"""How every command writes: output that survives any width and pipes; a closed pipe is no error.

Owns: the consoles every command prints with (`stdout_console`, `stderr_console`); `table`
(columns that fold instead of eliding with "…"); `print_table` (on a terminal, the terminal's
width, and one record per row when the columns would fold into letter-wide stacks; off a
terminal, the table's natural width, so nothing wraps or is cut in a log or a pipe); `cell`
(data as plain text: `out[t] = x[t]` is never read as rich markup); `short` (a hash shortened
on a terminal only; piped, the whole hash); and `run_app` (around the app: `warpsmith tasks
show X | head -1` exits 0, not 1). Does not own: what any command prints.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

SHORT_HASH = 12  # on a terminal; `--json` (and any pipe) gives the full hash


class _Console(Console):
    """A rich Console whose closed pipe ends the command with 0 (rich's own answer is exit 1)."""

    def on_broken_pipe(self) -> None:
        _silence_stdout()
        raise SystemExit(0)


def stdout_console() -> Console:
    """Off a terminal, lines are not broken at 80 columns (a log line stays one line)."""
    return _Console(soft_wrap=not sys.stdout.isatty())


def stderr_console() -> Console:
    return _Console(stderr=True, soft_wrap=not sys.stderr.isatty())


def cell(value: object) -> Text:
    """A table cell holding data: printed as is, never interpreted as markup."""
    return Text("" if value is None else str(value))


def table(title: str | None, columns: list[str], *, right: tuple[str, ...] = (), whole: tuple[str, ...] = (),
          **kwargs: Any) -> Table:
    """A table whose every column folds (wraps, mid-word if it must) rather than eliding with '…'.

    Columns named in `whole` (ids, task names) keep each value on one line on a terminal as long
    as that leaves room for the others (print_table sizes them)."""
    made = Table(title=title, title_justify="left", **kwargs)
    for name in columns:
        made.add_column(name, overflow="fold", justify="right" if name in right else "left", no_wrap=name in whole)
    return made


def _as_text(value: Any) -> Text:
    return value if isinstance(value, Text) else Text.from_markup(str(value))


def _needed_width(rendered: Table) -> int:
    """Columns at their header's width or their longest word, whichever is wider, with borders."""
    widths = []
    for column in rendered.columns:
        words = [len(w) for c in column.cells for w in _as_text(c).plain.split()]
        header = len(str(column.header)) if rendered.show_header else 0
        widths.append(max([header, *words]) + 3 if column.no_wrap is False else
                      max([header, *(len(_as_text(c).plain) for c in column.cells)]) + 3)
    return sum(widths) + 1


def _print_records(console: Console, rendered: Table) -> None:
    """One record per row, `header value` pairs wrapped at the terminal's width: for tables that
    would otherwise fold every column into a letter-wide stack."""
    if rendered.title:
        console.print(_as_text(rendered.title), style="italic")
    columns = [(str(c.header), list(c.cells)) for c in rendered.columns]
    for row in range(rendered.row_count):
        fields = []
        for index, (header, cells) in enumerate(columns):
            value = _as_text(cells[row])
            if not value.plain.strip():
                continue
            field = Text(f"{header} " if header else "", style="dim")
            field.append_text(value)
            if index == 0:
                field.stylize("bold")
            fields.append(field)
        line, lines = Text(), []
        for field in fields:  # whole fields per line; a field longer than the width folds on its own
            if line.plain and len(line.plain) + 2 + len(field.plain) > console.width:
                lines.append(line)
                line = Text("  ")
            elif line.plain.strip():
                line.append("  ")
            line.append_text(field)
        lines.append(line)
        for text in lines:
            console.print(text, overflow="fold")


def _keep_whole(console: Console, rendered: Table) -> None:
    budget = console.width // 2  # the whole-value columns together never take more than half the width
    for column in rendered.columns:
        if column.no_wrap:
            longest = max((len(str(c)) for c in column.cells), default=0)
            column.min_width = min(longest, budget)
            budget -= column.min_width


def print_table(console: Console, rendered: Table) -> None:
    """On a terminal, fit the terminal; otherwise print at the table's natural width (nothing cut)."""
    if console.is_terminal:
        if _needed_width(rendered) > console.width:
            _print_records(console, rendered)
            return
        _keep_whole(console, rendered)
        console.print(rendered)
        return
    natural = Measurement.get(console, console.options.update(max_width=1_000_000), rendered).maximum
    natural = max(natural, len(_as_text(rendered.title).plain) if rendered.title else 0)
    # Console.print(width=) is capped at the console's width: a console as wide as the table is not
    wide = _Console(file=console.file, width=max(natural, console.width), color_system=console.color_system,
                    no_color=console.no_color, highlight=False)
    wide.print(rendered)


def short(source_hash: str | None, console: Console) -> str:
    """A candidate hash: its first 12 characters on a terminal, the whole hash anywhere else."""
    if not source_hash:
        return "-"
    return source_hash[:SHORT_HASH] if console.is_terminal else source_hash


def _silence_stdout() -> None:
    # Python's advice for SIGPIPE: point stdout at /dev/null so the flush at exit cannot fail again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run_app(app: Callable[[], Any]) -> Any:
    """Run the typer app; a reader that closed the pipe early (`| head`) ends the command with 0."""
    try:
        return app()
    except SystemExit:
        # click/typer answer EPIPE by wrapping stdout in PacifyFlushWrapper and exiting 1: that is no error.
        if type(sys.stdout).__name__.endswith("PacifyFlushWrapper"):  # typer vendors its own click
            _silence_stdout()
            raise SystemExit(0) from None
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _silence_stdout()
            raise SystemExit(0) from None
        raise
    except BrokenPipeError:
        _silence_stdout()
        raise SystemExit(0) from None
