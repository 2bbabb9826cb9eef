"""The sandbox does not break what the evaluator needs: torch and a Triton kernel run inside it.

A real @triton.jit kernel under TRITON_INTERPRET=1 with the default limits (Landlock, pids
cgroup, dropped capabilities). The Triton cache must land inside the workdir.
"""

from __future__ import annotations

from _sandbox_helpers import run


def test_torch_and_a_triton_kernel_run_confined(tmp_path):
    result = run("triton_add", {}, tmp_path, timeout_s=120, env_extra={"TRITON_INTERPRET": "1"})
    assert result.status == "ok", (result.error, result.log[-2000:])
    assert result.value["max_error"] == 0.0
    assert result.value["torch"].startswith("2.")
