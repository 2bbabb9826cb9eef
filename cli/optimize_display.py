"""What `warpsmith optimize` shows: a live progress line on stderr and the final summary.

Owns: turning the loop's `Progress` events into a rich progress display and a `RunSummary`
into a table (best kernel, its per-shape times with the timing mode, where its source was
written, the run id). Does not own: running anything (warpsmith.agents.coordinator).
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from warpsmith.agents.coordinator_records import Progress as RunProgress
from warpsmith.agents.coordinator_records import RunSummary
from warpsmith.agents.offline import measured_time_us

MODE_LABEL = {
    "device": "GPU device timing",
    "interpreter": "Triton interpreter on CPU (wall-clock, not a GPU timing)",
    "none": "not timed",
}


def _best_text(event: RunProgress) -> str:
    if event.best_hash is None:
        return "best: none correct yet"
    parts = [f"best {event.best_hash[:10]}"]
    if event.best_time_us is not None:
        parts.append(f"{event.best_time_us:,.0f} us")
    if event.best_speedup is not None:
        parts.append(f"{event.best_speedup:.3g}x")
    if event.mode == "interpreter":
        parts.append("(interpreter)")
    return " ".join(parts)


class ProgressView:
    """A rich progress bar over the rounds, with the latest step and the best so far."""

    def __init__(self, console: Console, rounds: int) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]round"),
            MofNCompleteColumn(),
            BarColumn(bar_width=20),
            TextColumn("| {task.fields[evaluated]} evaluated |"),
            TextColumn("{task.fields[best]}"),
            TextColumn("${task.fields[cost]:.4f}"),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[step]}"),
            console=console,
            transient=False,
        )
        self.task_id = self.progress.add_task(
            "run", total=rounds, evaluated=0, best="", cost=0.0, step="starting"
        )

    def __enter__(self) -> ProgressView:
        self.progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.progress.stop()

    def __call__(self, event: RunProgress) -> None:
        done = (
            event.round_index - 1
            if event.round_index > 0 and "done" not in event.message
            else event.round_index
        )
        self.progress.update(
            self.task_id,
            completed=max(0, done),
            total=event.rounds_total,
            evaluated=event.evaluated,
            best=_best_text(event),
            cost=event.cost_usd,
            step=event.message[:70],
        )
        if not self.console.is_terminal:  # a log, one line per step, when stderr is not a terminal
            self.console.print(
                escape(f"[round {event.round_index}/{event.rounds_total}] {event.message}"), highlight=False
            )


def summary_table(summary: RunSummary) -> Table:
    table = Table(title=f"warpsmith optimize {summary.task}: run {summary.run_id}", title_justify="left")
    table.add_column("")
    table.add_column("")
    table.add_row("status", summary.status + (f": {summary.message}" if summary.message else ""))
    table.add_row("strategy", summary.strategy)
    table.add_row("rounds", f"{summary.rounds_done}/{summary.rounds_total}")
    table.add_row("evaluations", str(summary.evaluated))
    table.add_row("hardware", f"{summary.hardware.device_name} ({summary.hardware.fingerprint})")
    table.add_row(
        "cost", f"${summary.cost_usd:.4f}, {summary.prompt_tokens + summary.completion_tokens} tokens"
    )
    best = summary.best
    if best is None:
        table.add_row("best", "no correct kernel")
        return table
    result = best.result
    is_seed = best.candidate.source_hash == summary.seed_hash
    about = "the shipped seed: no candidate beat it" if is_seed else best.candidate.origin
    if best.candidate.plan_item and not is_seed:
        about += f"; {best.candidate.plan_item}"
    table.add_row("best kernel", f"{best.candidate.source_hash[:12]} ({about})")
    if result is not None:
        table.add_row("timing mode", MODE_LABEL.get(result.mode, result.mode))
        if result.speedup_geomean() is not None:
            table.add_row("speedup (geomean)", f"{result.speedup_geomean():.3g}x vs the PyTorch reference")
    mine, seed = measured_time_us(result), measured_time_us(summary.seed.result if summary.seed else None)
    same_mode = summary.seed is not None and summary.seed.result is not None and summary.seed.result.mode == result.mode
    if mine is not None and seed is not None and same_mode and not is_seed:
        table.add_row("vs the seed", f"{mine:,.1f} us vs {seed:,.1f} us total: {seed / mine:.2f}x")
    return table


def timings_table(summary: RunSummary) -> Table | None:
    if summary.best is None or summary.best.result is None or not summary.best.result.timings:
        return None
    result = summary.best.result
    table = Table(
        title=f"best kernel per shape ({MODE_LABEL.get(result.mode, result.mode)})", title_justify="left"
    )
    for name in ("shape", "median us", "spread us", "reference us", "speedup", "% peak BW"):
        table.add_column(name, justify="left" if name == "shape" else "right")
    for t in result.timings:
        table.add_row(
            t.shape,
            f"{t.median_us:,.1f}",
            f"{t.spread_us:,.1f}",
            f"{t.reference_median_us:,.1f}" if t.reference_median_us is not None else "-",
            f"{t.speedup:.3g}x" if t.speedup is not None else "-",
            f"{t.pct_peak_bandwidth:.1f}" if t.pct_peak_bandwidth is not None else "-",
        )
    return table
