"""The dashboard reads typed records: every section of a page renders from them, a renamed field fails.

A store filled through the store's own write API with every part a page can show (timings, failed
checks, violations, resources, profile, compile log, a suspicious verdict with lessons, a linked LLM
call), served by the real app: each part must appear. The templates run under StrictUndefined, so a
template that reads a field a record no longer has raises instead of rendering a blank.
"""

from __future__ import annotations

import pytest
from _store_helpers import HW, seed_task_and_hardware
from fastapi.testclient import TestClient
from jinja2 import UndefinedError

from warpsmith.dashboard.app import create_app
from warpsmith.dashboard.deps import templates
from warpsmith.records.agents import Verdict
from warpsmith.records.evaluation import (
    EvalResult,
    ResourceReport,
    ShapeCorrectness,
    ShapeTiming,
    Violation,
)
from warpsmith.store import (
    add_candidate,
    create_run,
    link_candidate,
    open_store,
    record_evaluation,
    record_llm_call,
    record_verdict,
    set_llm_call_candidate,
)


@pytest.fixture
def client(tmp_path) -> tuple[TestClient, str]:  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    seed_task_and_hardware(store)
    result_fields = dict(
        task="rmsnorm", language="triton", status="incorrect", mode="device", suite="bench",
        message="incorrect: 1 of 2 checks failed", compile_log="ptxas info: used 42 registers",
        timings=[ShapeTiming(shape="T=7 H=96", median_us=12.5, spread_us=0.5, reps=20, speedup=1.25,
                             reference_median_us=15.6, pct_peak_bandwidth=61.0)],
        correctness=[ShapeCorrectness(shape="T=1 H=96", ok=True),
                     ShapeCorrectness(shape="T=3 H=130", ok=False, trial=2, max_abs_err=0.75, details="row 2 off")],
        violations=[Violation(rule="no-reference-call", severity="review", message="calls torch.rsqrt", line=3)],
        resources=[ResourceReport(kernel="rms_kernel", registers=42, shared_bytes=1024)],
        profile={"dram_throughput_pct": 71.5}, isolation=["network: namespace"],
    )  # fmt: skip
    with store.session() as s:
        run_id = create_run(s, task="rmsnorm", language="triton", strategy="llm", hardware_fingerprint=HW).id
        digest = add_candidate(s, task="rmsnorm", language="triton", source="def kernel(x):\n    return x\n").source_hash
        link_candidate(s, run_id, digest, 1)
        result = EvalResult(source_hash=digest, **result_fields)  # type: ignore[arg-type]
        record_evaluation(
            s, source_hash=digest, hardware_fingerprint=HW, evaluator_version="1", suite="bench", mode="device",
            status=result.status, message=result.message, result=result.model_dump(mode="json"), speedup=1.25,
            run_id=run_id,
        )  # fmt: skip
        verdict = Verdict(source_hash=digest, bottleneck="DRAM bandwidth", feedback="fuse the two passes",
                          lessons=["one pass over x is enough"], suspicious=True, suspicion_reason="too quick")
        record_verdict(s, run_id, digest, verdict.model_dump(mode="json"), bottleneck=verdict.bottleneck,
                       feedback=verdict.feedback, suspicious=True, round_index=1)  # fmt: skip
        call = record_llm_call(s, run_id, role="coder", model="openai/test", round_index=1,
                               messages=[{"role": "user", "content": "make it fast"}], response="```python\n...```")
        set_llm_call_candidate(s, call.id, digest)
    store.close()
    reader = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield TestClient(create_app(reader), base_url="http://127.0.0.1"), digest
    reader.close()


def test_every_section_of_the_candidate_page_renders_from_records(client: tuple[TestClient, str]) -> None:
    app, digest = client
    page = app.get(f"/candidates/{digest}")
    assert page.status_code == 200, page.text[:500]
    for shown in [
        "T=7 H=96", "61.0%", "1 of 2 checks passed", "T=3 H=130", "row 2 off", "no-reference-call", "line",
        "rms_kernel", "dram_throughput_pct", "ptxas info", "network: namespace", "too quick", "DRAM bandwidth",
        "fuse the two passes", "one pass over x is enough", "make it fast",
    ]:  # fmt: skip
        assert shown in page.text, f"{shown!r} missing from the candidate page"
    detail = app.get(f"/api/candidates/{digest}").json()
    assert detail["evaluations"][0]["result"]["timings"][0]["shape"] == "T=7 H=96"
    assert detail["verdicts"][0]["verdict"]["lessons"] == ["one pass over x is enough"]


def test_a_field_a_record_does_not_have_fails_the_render() -> None:
    template = templates.env.from_string("{{ r.timings_renamed }}")
    result = EvalResult(task="rmsnorm", language="triton", source_hash="0" * 64, status="correct", mode="none")
    with pytest.raises(UndefinedError):
        template.render(r=result)
