"""The baselines beside a kernel's time: eager, torch.compile and each vendor kernel, side by side.

Owns: the vendor columns of `eval`'s timing table, the per-shape baselines table `runs show` prints
for a run's best kernel, and the table of the task's vendor kernels with their state (timed,
skipped and why, disagrees and where, failed). Works on EvalResult records or on their stored JSON
(dicts), as `runs show` reads them from the store. Does not own: any measurement
(warpsmith.evaluator.reference_timing) or the rest of either command.
"""

from __future__ import annotations

from typing import Any

from warpsmith.cli.output import cell, table

STATE_COLOUR = {"timed": "green", "skipped": "dim", "disagrees": "red", "failed": "yellow"}


def _get(obj: Any, key: str, default: Any = None) -> Any:
    return obj.get(key, default) if isinstance(obj, dict) else getattr(obj, key, default)


def timed_vendors(timings: list[Any]) -> list[str]:
    """The vendor packages with a time on at least one shape, in first-seen order."""
    names: list[str] = []
    for t in timings:
        for name in _get(t, "vendor_median_us") or {}:
            if name not in names:
                names.append(name)
    return names


def versus_vendor(t: Any, name: str) -> str:
    """'3.10 us: 1.21x [1.1, 1.3] faster' (the candidate against the vendor kernel), '' if untimed."""
    median = (_get(t, "vendor_median_us") or {}).get(name)
    if median is None:
        return ""
    found = next((c for c in _get(t, "comparisons") or [] if _get(c, "baseline") == name), None)
    if found is None:
        return f"{median:.2f} us"
    low, high = _get(found, "low"), _get(found, "high")
    bounds = "" if low <= 0 and high == float("inf") else f" [{low:.3g}, {high:.3g}]"
    return f"{median:.2f} us: {_get(found, 'ratio'):.3g}x{bounds} {_get(found, 'verdict')}"


def vendor_table(vendors: list[Any]) -> Any:
    """The task's vendor kernels and what became of each; None when the task declares none."""
    if not vendors:
        return None
    listing = table("vendor baselines (checked against the reference before any time is shown)",
                    ["package", "op", "state", "why / where"], whole=("package", "state"))
    for v in vendors:
        state = _get(v, "state")
        shapes = _get(v, "shapes") or []
        why = _get(v, "reason") or ""
        if shapes and len(shapes) > 1:
            why += f" (and {len(shapes) - 1} more shape{'s' if len(shapes) > 2 else ''})"
        listing.add_row(cell(_get(v, "name")), cell(_get(v, "op")),
                        f"[{STATE_COLOUR.get(state, 'white')}]{state}[/]", cell(why))
    return listing


def side_by_side(timings: list[Any], title: str) -> Any:
    """Per shape: the kernel's device time, then every baseline's, in microseconds."""
    vendors = timed_vendors(timings)
    columns = ["shape", "kernel us", "eager us", "compile us", *(f"{name} us" for name in vendors)]
    rows = table(title, columns, right=tuple(columns[1:]))
    for t in timings:
        medians = _get(t, "vendor_median_us") or {}
        values = [_get(t, "median_us"), _get(t, "reference_median_us"), _get(t, "compile_median_us"),
                  *(medians.get(name) for name in vendors)]
        rows.add_row(cell(_get(t, "shape")), *("-" if v is None else f"{v:.2f}" for v in values))
    return rows
