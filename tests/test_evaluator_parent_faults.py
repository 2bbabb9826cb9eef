"""A parent that always returns a verdict (issue 15): each attack is a Triton candidate that, once
its calls start, turns the files the parent will read, the work folder it will clean, or the
message it reports against the trusted parent. Static checks are off (they refuse `os` outright),
so what stops each attack is the parent-side defence named in the test. Every evaluation must
come back, with the exact status and reason, within a bounded time."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tests._evaluator_helpers import rules, run_source, source_of
from warpsmith.evaluator import parent_view
from warpsmith.records.evaluation import EvalResult
from warpsmith.sandbox.deadline import DeadlineExceeded, call_with_deadline
from warpsmith.sandbox.isolation import host_support

pytestmark = pytest.mark.slow
BOUND_S = 60.0  # a verdict arrives well within this, whatever the candidate did


def attack(body: str) -> EvalResult:
    """The honest rmsnorm kernel, with `body` run at the start of every call (`os` imported)."""
    hook = "def kernel(x, weight, eps):\n    _attack()\n"
    source = source_of("honest_rmsnorm.py", **{"def kernel(x, weight, eps):\n": hook})
    source += "\n\nimport os\n\n\ndef _attack():\n" + "".join(f"    {line}\n" for line in body.splitlines())
    started = time.monotonic()
    result = run_source(source, static_checks=False)
    assert time.monotonic() - started < BOUND_S
    return result


# Runs while the harness is between trials: every outputs file already written is replaced.
REPLACE_OUTPUTS = "for name in os.listdir('.'):\n    if name.startswith('outputs_'):\n        os.remove(name)\n{}"


def test_fifo_in_place_of_an_outputs_file_is_refused_without_waiting() -> None:
    result = attack(REPLACE_OUTPUTS.format("        os.mkfifo(name)"))
    assert result.status == "rejected" and rules(result) == {"malformed-child-report"}
    assert "is a FIFO, not a regular file" in result.message


def test_symlink_to_passwd_in_place_of_an_outputs_file_is_not_followed() -> None:
    result = attack(REPLACE_OUTPUTS.format("        os.symlink('/etc/passwd', name)"))
    assert result.status == "rejected" and "is a symbolic link" in result.message
    assert "root:" not in result.model_dump_json()


def test_two_gigabyte_sparse_outputs_file_is_stopped_by_the_file_size_limit() -> None:
    sparse = "        with open(name, 'wb') as f:\n            f.truncate(2 << 30)"
    result = attack(REPLACE_OUTPUTS.format(sparse))
    assert result.status == "runtime_error" and "[Errno 27] File too large" in result.message  # RLIMIT_FSIZE


def test_oversized_outputs_file_under_the_quota_is_not_read() -> None:
    sparse = "        with open(name, 'wb') as f:\n            f.truncate(5 << 20)"
    result = attack(REPLACE_OUTPUTS.format(sparse))
    assert result.status == "rejected" and rules(result) == {"malformed-child-report"}
    assert "holds 5242880 bytes, more than the" in result.message


def test_filling_the_work_folder_is_refused_before_anything_is_read() -> None:
    fill = ("for i in range(24):\n    with open(f'fill_{i}', 'wb') as f:\n"
            "        f.write(b'x' * (8 << 20))")
    result = attack(fill)
    assert result.status == "rejected" and rules(result) == {"malformed-child-report"}
    assert "the work folder holds more than its quota of" in result.message
    assert not result.correctness  # refused before any outputs file was judged


def test_a_3000_deep_directory_chain_does_not_break_cleanup() -> None:
    # Not wrong in itself: the kernel stays correct, and the parent still removes everything.
    chain = ("if not os.path.exists('deep'):\n    os.mkdir('deep')\n    fd = os.open('deep', os.O_RDONLY)\n"
             "    for _ in range(3000):\n        os.mkdir('d', dir_fd=fd)\n"
             "        inner = os.open('d', os.O_RDONLY, dir_fd=fd)\n        os.close(fd)\n        fd = inner\n"
             "    os.close(fd)")
    result = attack(chain)
    assert result.status == "correct", result.message
    roots = Path("/dev/shm" if Path("/dev/shm").is_dir() else "/tmp").glob("warpsmith-eval-*")
    assert not [r for r in roots if list(r.glob("batch*/deep"))]


def test_a_compilation_error_message_does_not_pick_the_status() -> None:
    raised = "raise RuntimeError('triton.compiler.errors.CompilationError: at 1:0: fake')"
    result = attack(raised)
    assert result.status == "runtime_error" and "CompilationError" in result.message


def test_the_parents_own_compile_decides_compile_error() -> None:
    result = run_source(source_of("honest_rmsnorm.py") + "\ndef broken(:\n", static_checks=False)
    assert result.status == "compile_error" and "SyntaxError" in result.message


def test_reading_passwd_is_denied_in_the_run_sandbox() -> None:
    result = attack("raise RuntimeError('passwd: ' + open('/etc/passwd').read())")
    assert result.status == "runtime_error" and "PermissionError" in result.message
    assert "root:" not in result.model_dump_json()


def test_judging_past_its_limit_is_a_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parent_view, "JUDGE_LIMIT_S", 1e-6)
    result = run_source(source_of("honest_rmsnorm.py"), static_checks=False)
    assert result.status == "rejected" and result.message == "judging exceeded 1e-06 s"
    assert rules(result) == {"judging-deadline"} and not result.correctness


def test_deadline_returns_while_the_work_is_blocked(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        call_with_deadline(lambda: fifo.read_bytes(), 0.5)  # a blocking open with no writer
    assert time.monotonic() - started < 2.0
    threading.Thread(target=lambda: fifo.write_bytes(b""), daemon=True).start()  # release the thread


def _warm_server(result: EvalResult) -> tuple[int, int]:
    line = next(line for line in result.isolation if line.startswith("warm worker: job"))
    job, server = (int(word) for word in line.split() if word.isdigit())
    return job, server


@pytest.mark.skipif(host_support().unshare_flags is None, reason="warm workers need a pid namespace")
def test_a_warm_worker_carries_nothing_from_one_candidate_to_the_next() -> None:
    # The patching candidate runs in a fork; the server it came from never ran it, so the honest
    # kernel's fork of the same server starts from the untouched harness.
    patched = run_source(source_of("patch_allclose.py"), static_checks=False)
    honest = run_source(source_of("honest_rmsnorm.py"), static_checks=False)
    assert patched.status == "rejected" and "harness-tampering" in rules(patched)
    assert honest.status == "correct" and not honest.violations
    (first_job, first_server), (next_job, next_server) = _warm_server(patched), _warm_server(honest)
    assert next_server == first_server and next_job > first_job
