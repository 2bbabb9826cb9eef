"""The `warpsmith` command: one typer app; each subcommand lives in its own module.

Owns: wiring subcommands together, `--version`, and the entry point (warpsmith.cli.output.run_app:
a closed pipe exits 0). Heavy imports (torch, triton, litellm) happen inside commands, never at
import, so `warpsmith --help` is instant. Every command's `--help` ends with its exit codes.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer

from warpsmith.cli.output import run_app

EXIT_CODES = "Exit codes: 0 success, 1 a command's own failure (see each command's --help), 2 a usage error."

class _Warpsmith(typer.Typer):
    """The app; calling it (the installed `warpsmith` script does) goes through run_app."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return run_app(lambda: super(_Warpsmith, self).__call__(*args, **kwargs))


app = _Warpsmith(
    name="warpsmith",
    help="Make GPU kernels faster with LLM agents and a sandboxed evaluator you can trust.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("warpsmith")
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"warpsmith {_version()}")
        raise typer.Exit(0)


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Make GPU kernels faster with LLM agents and a sandboxed evaluator you can trust."""


# Each module defines `register(app)`. Order here is the order in --help.
_COMMAND_MODULES = [
    "optimize_cmd",
    "evolve",
    "eval_cmd",
    "runs_cmd",
    "replay_cmd",
    "dashboard_cmd",
    "tasks_cmd",
    "doctor_cmd",
    "config_cmd",
    "export_cmd",
    "mcp_cmd",
    "bench_kernelbench",
]

for _name in _COMMAND_MODULES:
    importlib.import_module(f"warpsmith.cli.{_name}").register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
