"""`warpsmith eval`'s timing table: device and call time apart, both trusted baselines with intervals;
the interpreter's clock shown as a label with no speedup at all."""

from __future__ import annotations

from rich.console import Console

from warpsmith.cli.eval_cmd import _timing_table
from warpsmith.records.evaluation import Comparison, EvalResult, ShapeTiming


def _text(result: EvalResult) -> str:
    console = Console(width=240, record=True)
    console.print(_timing_table(result))
    return console.export_text()


def test_device_rows_show_device_and_call_time_and_both_baselines_with_intervals() -> None:
    timing = ShapeTiming(
        shape="qwen3 T=512", median_us=12.3, spread_us=0.4, reps=60, call_median_us=31.0, reference_median_us=96.1,
        compile_median_us=40.2, speedup=7.8, speedup_vs_compile=3.3, method="cuda_graph", pct_peak_bandwidth=71.0,
        comparisons=[Comparison(baseline="eager", ratio=7.8, low=7.5, high=8.1, verdict="faster"),
                     Comparison(baseline="compile", ratio=1.01, low=0.97, high=1.05, verdict="same")])
    text = _text(EvalResult(task="rmsnorm", language="triton", source_hash="x", status="correct", mode="device",
                            timings=[timing]))
    for expected in ("device us", "call us", "eager us", "compile us", "31.0", "96.10", "40.20",
                     "7.8x [7.5, 8.1] faster", "1.01x [0.97, 1.05] same", "cuda_graph", "71%"):
        assert expected in text, expected


def test_interpreter_rows_are_a_labelled_clock_without_speedups() -> None:
    timing = ShapeTiming(shape="tiny", median_us=58000.0, spread_us=3000.0, reps=3, method="wall_clock", noisy=True)
    text = _text(EvalResult(task="rmsnorm", language="triton", source_hash="x", status="correct",
                            mode="interpreter", timings=[timing]))
    assert "a label, not comparable" in text and "58000.0" in text
    assert "eager" not in text and "speedup" not in text and "vs " not in text
