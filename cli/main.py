"""The `warpsmith` command: one typer app; each subcommand lives in its own module.

Owns: wiring subcommands together. Heavy imports (torch, triton, litellm) happen inside
commands, never at import, so `warpsmith --help` is instant.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="warpsmith",
    help="Make GPU kernels faster with LLM agents and a sandboxed evaluator you can trust.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each module defines `register(app)`. Order here is the order in --help.
_COMMAND_MODULES = [
    "optimize_cmd",
    "eval_cmd",
    "runs_cmd",
    "replay_cmd",
    "dashboard_cmd",
    "tasks_cmd",
    "doctor_cmd",
]

for _name in _COMMAND_MODULES:
    importlib.import_module(f"warpsmith.cli.{_name}").register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
