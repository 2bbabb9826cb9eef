"""What `warpsmith optimize` shows: a live progress display on stderr and the final summary.

Owns: turning the loop's `Progress` events into a progress display (`ProgressView`) and a
`RunSummary` into tables (best kernel, its per-shape times with the timing mode, the run id).
The display always shows the round (1-based; "seeding" before round 1), evaluated / planned,
the best with its claim (warpsmith.agents.ranking.claim: interval and verdict, never a bare
wall-clock ratio), cost, elapsed time, and what the run waits on ("planner on <model>: 41 s",
fed by `waiting`, which warpsmith.cli.llm_setup's watched model calls around every request).
On a terminal it is a rich Live block redrawn twice a second that wraps at any width (no
columns dropped, nothing cut); when stderr is not a terminal it is a plain log, one line per
event, and no bar is ever drawn. Every evaluated candidate gets a line with its status and its
median time on the largest shape. Does not own: running anything (warpsmith.search: the generation step).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from warpsmith.cli.eval_cmd import demangled
from warpsmith.cli.output import cell, table
from warpsmith.records.evaluation import EvalResult, ShapeTiming
from warpsmith.records.runs import Progress as RunProgress
from warpsmith.records.runs import RunSummary

MODE_LABEL = {
    "device": "GPU device timing",
    "interpreter": "Triton interpreter on CPU (wall-clock, not a GPU timing)",
    "none": "not timed",
}
REFRESH_PER_SECOND = 2


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def round_label(round_index: int, rounds_total: int) -> str:
    """1-based, as the loop counts: round 1 of 3 is 'round 1/3'; before round 1 the seed is evaluated."""
    if round_index > 0:
        return f"round {round_index}/{rounds_total}"
    return f"seeding, then {rounds_total} round{'s' if rounds_total != 1 else ''}"


def largest_shape_timing(result: EvalResult, shape_bytes: dict[str, int]) -> ShapeTiming | None:
    """The timing of the largest shape (most bytes moved, per the task's cost model; else the last)."""
    if not result.timings:
        return None
    return max(result.timings, key=lambda t: shape_bytes.get(t.shape, -1)) if shape_bytes else result.timings[-1]


def candidate_line(result: EvalResult, shape_bytes: dict[str, int]) -> str:
    """`<hash> <status>: <median> us on <largest shape> (<mode>)` for one evaluation; a native
    kernel adds its registers and spills."""
    timing = largest_shape_timing(result, shape_bytes) if result.ok else None
    timed = f": {timing.median_us:,.1f} us median on {timing.shape} ({result.mode})" if timing else ""
    built = "".join(f"; {r.registers} registers, {r.spill_stores_bytes or 0}/{r.spill_loads_bytes or 0} B spilled"
                    for r in result.resources[:1])  # native: the compiler's report of its (first) kernel
    return f"  {result.source_hash[:12]} {result.status}{timed}{built}"


class LiveBlock:
    """A display that is a rich Live on a terminal (`self.live`) and None elsewhere: started by `with`,
    stopped when the block ends."""

    live: Live | None = None

    def __enter__(self) -> Self:
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.live is not None:
            self.live.stop()


class ProgressView(LiveBlock):
    """A run's progress: a Live block on a terminal, one line per event in a log.

    Call it with each `Progress`; wrap each model request in `waiting(...)`."""

    def __init__(self, console: Console, rounds: int, *, planned: int | None = None,
                 shape_bytes: dict[str, int] | None = None) -> None:
        self.console = console
        self.rounds = rounds
        self.planned = planned
        self.shape_bytes = shape_bytes or {}
        self.started = time.monotonic()
        self.last: RunProgress | None = None
        self.last_at = self.started
        self.said_best = ""
        self._waits: dict[int, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.live = (Live(self, console=console, refresh_per_second=REFRESH_PER_SECOND, transient=False)
                     if console.is_terminal else None)

    # --- what it shows ----------------------------------------------------------------------
    def status_line(self) -> str:
        """Round, evaluated / planned, cost and elapsed: the first line of the display and every log prefix."""
        event = self.last
        rounds_total = event.rounds_total if event else self.rounds
        where = round_label(event.round_index if event else 0, rounds_total)
        done = event.evaluated if event else 0
        if self.planned is None:
            counted = f"{done} evaluated"
        elif done <= self.planned:
            counted = f"{done}/{self.planned} evaluated"
        else:
            counted = f"{done} evaluated ({self.planned} planned; repairs and re-checks add more)"
        cost = f"${event.cost_usd:.4f}" if event else "$0.0000"
        return f"{where} | {counted} | {cost} | {_clock(time.monotonic() - self.started)} elapsed"

    def waiting_line(self) -> str | None:
        """What the run waits on now (the longest-running model request), or None."""
        with self._lock:
            waits = sorted(self._waits.values(), key=lambda w: w[1])
        if not waits:
            return None
        what, since = waits[0]
        more = f" (and {len(waits) - 1} more request{'s' if len(waits) > 2 else ''})" if len(waits) > 1 else ""
        return f"waiting: {what}: {time.monotonic() - since:.0f} s{more}"

    def best_line(self) -> str:
        event = self.last
        if event is None or not event.best_hash:
            return "best: none yet"
        return f"best {event.best_hash[:12]}: {event.best_claim}"

    def __rich__(self) -> Text:
        """The Live block, rebuilt at every refresh so the clocks move even when no event comes."""
        lines = [self.status_line(), self.best_line()]
        waiting = self.waiting_line()
        step = self.last.message if self.last else "starting"
        lines.append(waiting or f"now: {step} ({time.monotonic() - self.last_at:.0f} s)")
        return Text("\n".join(lines), style="dim")

    # --- events -----------------------------------------------------------------------------
    def _log(self, message: str) -> None:
        """One line above the Live block (terminal) or in the log; never wrapped mid-line in a log."""
        self.console.print(message, markup=False, highlight=False, soft_wrap=not self.console.is_terminal)

    def __call__(self, event: RunProgress) -> None:
        self.last, self.last_at = event, time.monotonic()
        if self.live is None:
            self._log(f"[{self.status_line()}] {event.message}")
        if event.result is not None:
            self._log(candidate_line(event.result, self.shape_bytes))
        best = self.best_line() if event.best_hash else ""
        if best and best != self.said_best:  # the best and how it stands, each time that changes
            self._log(f"  {best}")
            self.said_best = best
        if self.live is not None:
            self.live.refresh()

    @contextmanager
    def waiting(self, what: str) -> Iterator[None]:
        """Around one model request: `what` is e.g. 'planner on openai/gpt-4.1'."""
        key = threading.get_ident()
        with self._lock:
            self._waits[key] = (what, time.monotonic())
        if self.live is None:
            self._log(f"[{self.status_line()}] waiting: {what}")
        outcome = "failed"
        try:
            yield
            outcome = "answered"
        finally:
            with self._lock:
                _, since = self._waits.pop(key, (what, time.monotonic()))
            if self.live is None:
                self._log(f"[{self.status_line()}] {what}: {outcome} after {time.monotonic() - since:.0f} s")


def hardware_text(summary: RunSummary, language: str) -> str:
    """The device; for CUDA/HIP on a machine without that GPU, the target the candidates were built for."""
    hardware = summary.hardware
    if language != "triton" and hardware.backend == "cpu":
        from warpsmith.evaluator.build_toolchain import default_arch

        return f"built for {default_arch(language)} (no {language} GPU here, nothing run) ({hardware.fingerprint})"
    return f"{hardware.device_name} ({hardware.fingerprint})"


def summary_table(summary: RunSummary, language: str = "triton") -> Table:
    rows = [
        ("status", summary.status + (f": {summary.message}" if summary.message else "")),
        ("strategy", summary.strategy),
        ("rounds", f"{summary.rounds_done}/{summary.rounds_total}"),
        *([("stop rules", summary.stop_rules + (f" ({summary.stopped})" if summary.stopped else ": none fired"))]
          if summary.stop_rules else []),
        ("evaluations", str(summary.evaluated)),
        ("hardware", hardware_text(summary, language)),
        ("cost", f"${summary.cost_usd:.4f}, {summary.prompt_tokens + summary.completion_tokens} tokens"),
    ]
    best = summary.best
    if best is None:
        rows.append(("best", "no correct kernel"))
    else:
        is_seed = best.candidate.source_hash == summary.seed_hash
        about = "the shipped seed: no candidate beat it" if is_seed else best.candidate.origin
        if best.candidate.plan_item and not is_seed:
            about += f"; {best.candidate.plan_item}"
        rows.append(("best kernel", f"{best.candidate.source_hash[:12]} ({about})"))
        if best.result is not None:
            rows.append(("timing mode", MODE_LABEL.get(best.result.mode, best.result.mode)))
            names = demangled([r.kernel for r in best.result.resources])
            rows += [("registers", f"{names.get(r.kernel, r.kernel)}: {r.registers} registers, {r.shared_bytes} B shared, spills "
                                   f"{r.spill_stores_bytes}/{r.spill_loads_bytes} B") for r in best.result.resources]
        rows.append(("result", summary.claim))
    made = table(f"warpsmith optimize {summary.task}: run {summary.run_id}", ["", ""], show_header=False)
    for key, value in rows:
        made.add_row(key, cell(value))
    return made


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
    columns = ["shape", "median us", "spread us", "reference us", "speedup", "% peak BW"]
    made = table(f"best kernel per shape ({MODE_LABEL.get(result.mode, result.mode)})", columns,
                 right=tuple(columns[1:]))
    for t in result.timings:
        made.add_row(
            cell(t.shape),
            f"{t.median_us:,.1f}",
            f"{t.spread_us:,.1f}",
            f"{t.reference_median_us:,.1f}" if t.reference_median_us is not None else "-",
            cell(_speedup_cell(t)),
            f"{t.pct_peak_bandwidth:.1f}" if t.pct_peak_bandwidth is not None else "-",
        )
    return made
