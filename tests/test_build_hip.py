"""build_extension on HIP candidates with the real hipcc (gfx90a), where it is installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._build_helpers import VALID_KERNEL, needs_hipcc
from warpsmith.evaluator.build import build_extension

pytestmark = [needs_hipcc, pytest.mark.slow]


def test_hip_candidate_compiles_for_gfx90a_with_a_resource_report(tmp_path: Path) -> None:
    result = build_extension(VALID_KERNEL, "hip", cache_dir=tmp_path)
    assert result.ok, result.log
    assert result.arch == "gfx90a" and result.toolchain["compiler_version"].startswith("HIP version")
    assert result.object_path is not None and result.object_path.stat().st_size > 0
    (report,) = result.resources
    assert report.kernel == "_Z11scale_shiftPKfPfS1_llf"
    assert report.registers is not None and 1 <= report.registers <= 64
    assert report.shared_bytes == 0 and report.spill_stores_bytes == 0
    again = build_extension(VALID_KERNEL, "hip", cache_dir=tmp_path)
    assert again.cached and again.object_path == result.object_path
