"""Defence in depth: attacks the static checks refuse, run with the static layer switched off, so the
run-time layer (aten recorder, harness integrity, parent-side type checks) and the sandbox are each
shown to stop them on their own. `static_checks=False` exists for these tests only."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from tests._evaluator_helpers import rules, run_file, run_source, source_of

pytestmark = pytest.mark.slow


def test_getattr_hidden_op_is_caught_by_the_aten_recorder() -> None:
    result = run_file("getattr_hidden.py", static_checks=False)
    assert result.status == "rejected" and "torch-op-not-allowed" in rules(result)
    assert "aten.rsqrt" in result.message


@pytest.mark.parametrize(
    ("name", "op"),
    [
        ("redteam_tolist_python.py", "torch.Tensor.tolist"),  # no aten op: the torch-function guard sees it
        ("redteam_jit_body_tolist.py", "torch.Tensor.tolist"),
        ("redteam_jit_body_torch.py", "aten."),  # torch inside an interpreted jit body
        ("redteam_frame_escape.py", "aten."),  # refused ops never run, so clearing the record is too late
    ],
)
def test_python_level_escapes_are_refused_at_run_time(name: str, op: str) -> None:
    result = run_file(name, static_checks=False)
    assert result.status == "rejected" and "torch-op-not-allowed" in rules(result), result.message
    assert op in result.message


def test_tensor_subclass_output_is_refused() -> None:
    result = run_file("tensor_subclass.py", static_checks=False)
    assert result.status == "rejected" and rules(result) == {"output-not-plain-tensor"}
    assert "AlwaysEqual" in result.message


@pytest.mark.parametrize(
    "name", ["patch_allclose.py", "patch_perf_counter.py", "redteam_typing_escape.py", "redteam_module_indirection.py"]
)
def test_patched_functions_are_noticed(name: str) -> None:
    result = run_file(name, static_checks=False)
    assert result.status == "rejected" and "harness-tampering" in rules(result)


def test_fake_result_on_stdout_then_exit_is_not_a_result() -> None:
    result = run_file("fake_stdout_exit.py", static_checks=False)
    assert result.status == "runtime_error"
    assert "without a result" in result.message and not result.correctness


def test_api_key_is_not_in_the_childs_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-for-candidates")
    result = run_source(source_of("read_env_key.py"), static_checks=False)
    assert result.status == "runtime_error"
    assert "key=absent" in result.message
    assert "sk-test" not in result.model_dump_json()


def test_network_is_unreachable() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.2)
    got: list[bytes] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
                got.append(connection.recv(16))
            except OSError:
                continue

    stop = threading.Event()
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    result = run_source(source_of("network_socket.py", **{"PORT = 0": f"PORT = {port}"}), static_checks=False)
    stop.set()
    thread.join(2)
    listener.close()
    assert result.status == "runtime_error" and "connected" not in result.message
    assert got == []


def test_parents_files_are_out_of_reach(tmp_path: Path) -> None:
    store = Path.home() / ".warpsmith-test-store.db"  # outside the child's readable folders
    store.write_text("the store's secret rows")
    try:
        source = source_of("read_store.py", **{'"/nonexistent"': repr(str(store))})
        result = run_source(source, static_checks=False)
    finally:
        store.unlink()
    assert result.status == "runtime_error"
    assert "secret rows" not in result.model_dump_json()
    assert "PermissionError" in result.message or "Errno" in result.message


def test_no_process_outlives_the_evaluation() -> None:
    result = run_file("orphan_process.py", static_checks=False)
    assert result.status == "runtime_error"
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert "987.654" not in ps


def test_sigterm_ignoring_loop_is_killed() -> None:
    result = run_file("ignore_sigterm.py", static_checks=False, timeout_s=10.0)
    assert result.status == "timeout"
    assert result.durations_s["total"] < 45


def test_layers_agree_on_an_honest_kernel() -> None:
    assert run_file("honest_rmsnorm.py", static_checks=False).status == "correct"
    assert os.environ.get("TRITON_INTERPRET") in (None, "", "0")  # the parent never switches itself


def test_batches_run_in_ram_and_leave_nothing_behind() -> None:
    # Not an attack: the candidate reports where it runs (its cwd is the batch's work folder).
    source = source_of("raise_in_kernel.py").replace(
        'raise ValueError("unsupported hidden size")', "raise ValueError('cwd=' + __import__('os').getcwd())")
    result = run_source(source, static_checks=False)
    assert result.status == "runtime_error", result.message
    workdir = Path(result.message.split("cwd=")[1].split()[0])
    if Path("/dev/shm").is_dir():  # tensor files are memory copies there, not disk writes
        assert workdir.parts[:3] == ("/", "dev", "shm") and workdir.parent.name.startswith("warpsmith-eval-")
    assert not workdir.exists() and not workdir.parent.exists()
