"""`warpsmith tasks list` and `warpsmith tasks show NAME`: what the task library offers.

Owns: one plain document per task (`task_document`), shown as rich tables or, with --json, as
JSON on stdout. Does not own: the tasks themselves (warpsmith.tasklib). `--task-file PATH`
adds (list) or picks (show) a user's task file. An unknown task or a bad task file is one red
line on stderr and exit code 2. Off a terminal, tables print at their natural width (nothing
wrapped or cut); task data is never read as rich markup.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from warpsmith.cli import kernelbench_options as kb
from warpsmith.cli.optimize_cmd import usage_error
from warpsmith.cli.output import cell, print_table, stdout_console, table

out = stdout_console()
tasks_app = typer.Typer(help="List and inspect the kernel tasks.", no_args_is_help=True)

EXIT_CODES = "Exit codes: 0 success, 2 a usage error (unknown task, bad task file)."
TASK_FILE_HELP = "A Python file defining TASK (see docs/user_tasks.md); its seeds lie in seeds/ beside it."


def task_document(task: Any, detail: bool) -> dict[str, Any]:
    """A task as plain data; with `detail`, every shape with its bytes and flops."""
    from warpsmith.tasklib import SUITES

    doc: dict[str, Any] = {
        "name": task.name,
        "summary": task.description.strip().splitlines()[0] if task.description.strip() else "",
        "languages": sorted(task.seeds()),
        "shapes": {suite: len(task.shapes(suite)) for suite in SUITES},
    }
    if not detail:
        return doc
    doc.update(
        description=task.description,
        signature=task.signature,
        inputs=list(task.input_names),
        outputs=list(task.output_names),
        allowed_torch_ops=sorted(task.allowed_torch_ops),
        seeds={lang: str(path) for lang, path in task.seeds().items()},
        shapes={suite: [_shape_row(task, shape) for shape in task.shapes(suite)] for suite in SUITES},
    )
    return doc


def _shape_row(task: Any, shape: Any) -> dict[str, Any]:
    cost = task.cost(shape)
    return {"label": shape.label, "dims": shape.dims, "options": shape.options, "bytes": cost.bytes,
            "flops": cost.flops}


def _load(name: str | None, task_file: Path | None) -> list[Any]:
    from warpsmith.tasklib import TaskFileError, UnknownTaskError, get_task, load_task_file

    try:
        tasks = [get_task(name)] if name else []
        if task_file is not None:
            tasks.append(load_task_file(task_file))
    except (UnknownTaskError, TaskFileError) as error:
        raise usage_error(str(error)) from None
    return tasks


@tasks_app.command("list", epilog=EXIT_CODES)
def list_command(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array instead of a table."),
    task_file: Path | None = typer.Option(None, "--task-file", help=TASK_FILE_HELP),
) -> None:
    """Every built-in task (plus a user's task file): summary, seed languages, shapes per suite."""
    from warpsmith.tasklib import SUITES, list_tasks

    docs = [task_document(task, detail=False) for task in [*list_tasks(), *_load(None, task_file)]]
    if as_json:
        print(json.dumps(docs, indent=2))
        return
    listing = table("tasks", ["name", "description", "seeds", *SUITES], whole=("name",))
    for doc in docs:  # cells are data: a description's `x[t]` is not rich markup
        listing.add_row(cell(doc["name"]), cell(doc["summary"]), cell(", ".join(doc["languages"]) or "-"),
                        *(cell(doc["shapes"][suite]) for suite in SUITES))
    print_table(out, listing)


@tasks_app.command("show", epilog=EXIT_CODES)
@kb.options
def show_command(
    name: str | None = typer.Argument(None, help="A built-in task (see `warpsmith tasks list`)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document instead of tables."),
    task_file: Path | None = typer.Option(None, "--task-file", help=TASK_FILE_HELP),
    brought: kb.BroughtTask = kb.BroughtTask(),  # --kernelbench ... --workloads
) -> None:
    """One task: signature, inputs and outputs, allowed torch ops, shapes with bytes and flops, seeds."""
    from_kernelbench = brought.wanted()
    if (name is not None) + (task_file is not None) + from_kernelbench != 1:
        raise usage_error("name one task, either as NAME or with --task-file (or --kernelbench / --kernelbench-dir)")
    task = (brought.load() if from_kernelbench
            else _load(name, task_file)[0])
    doc = task_document(task, detail=True)
    if as_json:
        print(json.dumps(doc, indent=2))
        return
    out.print(doc["name"], style="bold", markup=False, highlight=False)
    out.print(f"{doc['description']}\n", markup=False, highlight=False)  # shapes like x[t] are not markup
    out.print("signature", style="bold")
    out.print(f"{doc['signature']}\n", markup=False, highlight=False, soft_wrap=True)
    out.print(f"[bold]inputs[/bold] {escape(', '.join(doc['inputs']))}   "
              f"[bold]outputs[/bold] {escape(', '.join(doc['outputs']))}", highlight=False)
    out.print(f"[bold]allowed torch ops[/bold] {escape(', '.join(doc['allowed_torch_ops']))}\n", highlight=False)
    for suite, rows in doc["shapes"].items():
        shapes = table(f"{suite} shapes", ["label", "dims", "bytes", "flops"], right=("bytes", "flops"))
        for row in rows:
            dims = ", ".join(f"{k}={v}" for k, v in {**row["dims"], **row["options"]}.items())
            shapes.add_row(cell(row["label"]), cell(dims), f"{row['bytes']:,}", f"{row['flops']:,}")
        print_table(out, shapes)
    seeds = table("seeds (the kernels a search starts from)", ["language", "path"])
    for lang, path in doc["seeds"].items():
        seeds.add_row(cell(lang), cell(path))
    if not doc["seeds"]:
        seeds.add_row("-", cell("this task ships no seed kernel"))
    print_table(out, seeds)


def register(app: typer.Typer) -> None:
    app.add_typer(tasks_app, name="tasks")
