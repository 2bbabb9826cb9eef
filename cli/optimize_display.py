"""What `warpsmith optimize` shows: a live progress line on stderr and the final summary.

Owns: turning the loop's `Progress` events into a rich progress display and a `RunSummary`
into a table (best kernel, its per-shape times with the timing mode, where its source was
written, the run id). The best is always shown with its claim (warpsmith.agents.ranking.claim):
speedup with its interval and the verdict against the seed, "no candidate beat the seed (all
within noise)", or on the CPU "interpreter: wall clock not comparable; correctness only";
never a bare wall-clock ratio. Lines stay readable at 80 columns (rich wraps table cells; log
lines put the claim on a line of its own). Does not own: running anything
(warpsmith.agents.coordinator).
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
from warpsmith.evaluator.records import ShapeTiming

WIDE = 120  # below this many columns the bar drops its progress bar and shortens the step
MODE_LABEL = {
    "device": "GPU device timing",
    "interpreter": "Triton interpreter on CPU (wall-clock, not a GPU timing)",
    "none": "not timed",
}


def _best_text(event: RunProgress) -> str:
    """The progress bar's short form; the claim itself gets a line of its own when it changes."""
    return f"best {event.best_hash[:8]}" if event.best_hash else "best: none yet"


class ProgressView:
    """A rich progress bar over the rounds, with the latest step and the best so far.

    Whenever the best or how it stands changes, a line "best <hash>: <claim>" is printed above
    the bar (in a log, after the step's line), so the interval and verdict are never cut off."""

    def __init__(self, console: Console, rounds: int) -> None:
        self.console = console
        wide = console.width >= WIDE
        self.step_chars = 70 if wide else max(12, console.width - 62)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]round"),
            MofNCompleteColumn(),
            *([BarColumn(bar_width=20)] if wide else []),
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
        self.said_best = ""

    def __enter__(self) -> ProgressView:
        self.progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.progress.stop()

    def __call__(self, event: RunProgress) -> None:
        done = (
            event.round_index - 1
            if event.round_index > 0 and "done" not in event.message and not event.message.startswith("run ")
            else event.round_index
        )
        self.progress.update(
            self.task_id,
            completed=max(0, done),
            total=event.rounds_total,
            evaluated=event.evaluated,
            best=_best_text(event),
            cost=event.cost_usd,
            step=event.message[: self.step_chars],
        )
        where = f"[round {event.round_index}/{event.rounds_total}]"
        if not self.console.is_terminal:  # a log, one line per step, when stderr is not a terminal
            self.console.print(escape(f"{where} {event.message}"), highlight=False)
        best = f"  best {event.best_hash[:8]}: {event.best_claim}" if event.best_hash else ""
        if best and best != self.said_best:  # the best and how it stands, each time that changes
            self.progress.console.print(escape(best), highlight=False)
            self.said_best = best


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
    table.add_row("result", summary.claim)
    return table


def _speedup_cell(t: ShapeTiming) -> str:
    """Speedup over eager with its interval when the evaluator gave one; noisy shapes say so."""
    eager = next((c for c in t.comparisons if c.baseline == "eager"), None)
    if eager is not None:
        text = f"{eager.ratio:.3g}x [{eager.low:.3g}, {eager.high:.3g}]"
    else:
        text = f"{t.speedup:.3g}x" if t.speedup is not None else "-"
    return text + (" noisy" if t.noisy else "")


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
            _speedup_cell(t),
            f"{t.pct_peak_bandwidth:.1f}" if t.pct_peak_bandwidth is not None else "-",
        )
    return table
