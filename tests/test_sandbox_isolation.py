"""Sandbox isolation: what the child can see, reach, read, write and signal.

Most tests run the shipped observer probe (warpsmith.sandbox.probe:observe), which tries the
forbidden thing and reports what happened.
"""

from __future__ import annotations

import os
import socket

import pytest
from _sandbox_helpers import probe, run

from warpsmith.sandbox.isolation import host_support


def test_environment_is_scrubbed_of_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-planted-openai")
    monkeypatch.setenv("WARPSMITH_DB", "sqlite:////secret/store.db")
    monkeypatch.setenv("SOME_TOKEN", "planted-token")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@h/db")
    monkeypatch.setenv("LANG", "C.UTF-8")
    extra = {"ANTHROPIC_API_KEY": "sk-planted-anthropic", "TRITON_INTERPRET": "1"}
    result = probe({}, tmp_path, timeout_s=30, env_extra=extra)
    assert result.status == "ok", result
    env = result.value["env"]
    for name in ("OPENAI_API_KEY", "WARPSMITH_DB", "SOME_TOKEN", "DATABASE_URL", "ANTHROPIC_API_KEY"):
        assert name not in env
    assert not any("planted" in value for value in env.values())
    assert env["TRITON_INTERPRET"] == "1" and env["LANG"] == "C.UTF-8"
    assert "dropped secret-looking env_extra ['ANTHROPIC_API_KEY']" in "\n".join(result.isolation)


def test_cwd_home_and_tmpdir_are_the_workdir(tmp_path):
    result = probe({}, tmp_path, timeout_s=30)
    seen = result.value
    assert seen["cwd"] == str(tmp_path.resolve()) == seen["workdir"]
    assert seen["env"]["HOME"] == seen["env"]["TMPDIR"] == str(tmp_path.resolve())


def test_stdin_is_closed(tmp_path):
    seen = probe({}, tmp_path, timeout_s=30).value
    assert seen["stdin"] == "/dev/null"
    assert seen["stdin_read"] == ""


def test_workdir_files_cannot_shadow_modules(tmp_path):
    (tmp_path / "json.py").write_text("raise SystemExit('shadowed stdlib json')\n")
    (tmp_path / "pathlib.py").write_text("raise SystemExit('shadowed pathlib')\n")
    result = probe({}, tmp_path, timeout_s=30)
    assert result.status == "ok", result
    assert result.value["sys_path_has_cwd"] is False


def test_network_is_unreachable(tmp_path):
    if not host_support().network_namespace and not (host_support().landlock_abi or 0) >= 4:
        pytest.skip("neither a network namespace nor landlock TCP rules on this host")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        result = probe({"connect": ["127.0.0.1", server.getsockname()[1]]}, tmp_path, timeout_s=30)
    assert result.status == "ok", result
    assert result.value["connect"] != "ok"


def test_network_true_allows_loopback(tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        result = probe({"connect": ["127.0.0.1", server.getsockname()[1]]}, tmp_path, timeout_s=30, network=True)
    assert result.value["connect"] == "ok"


@pytest.fixture
def fake_store(tmp_path_factory):
    store = tmp_path_factory.mktemp("userdata") / "warpsmith.db"
    store.write_text("SQLite format 3 -- pretend")
    return store


def test_store_file_outside_workdir_is_unreadable_and_unwritable(tmp_path, fake_store):
    if host_support().landlock_abi is None:
        pytest.skip("landlock unavailable on this kernel: " + host_support().notes.get("filesystem", ""))
    inside = tmp_path / "mine.txt"
    inside.write_text("mine")
    payload = {"read": [str(fake_store), str(inside)],
               "write": [str(fake_store), str(fake_store.parent / "new.txt"), str(tmp_path / "out.txt")]}
    result = probe(payload, tmp_path, timeout_s=30)
    seen = result.value
    assert seen["read"][str(fake_store)] == "PermissionError [errno 13]"
    assert seen["read"][str(inside)] == "ok"
    assert seen["write"][str(fake_store)].startswith("PermissionError")
    assert seen["write"][str(fake_store.parent / "new.txt")].startswith("PermissionError")
    assert seen["write"][str(tmp_path / "out.txt")] == "ok"
    assert fake_store.read_text() == "SQLite format 3 -- pretend"


def test_writable_paths_are_writable(tmp_path, tmp_path_factory):
    if host_support().landlock_abi is None:
        pytest.skip("landlock unavailable on this kernel")
    shared = tmp_path_factory.mktemp("shared_cache")
    result = probe({"write": [str(shared / "k.bin")]}, tmp_path, timeout_s=30, writable_paths=[shared])
    assert result.value["write"][str(shared / "k.bin")] == "ok"


def test_capabilities_are_dropped(tmp_path):
    if host_support().setpriv_flags is None:
        pytest.skip("setpriv unavailable: " + host_support().notes.get("privileges", ""))
    assert int(probe({}, tmp_path, timeout_s=30).value["cap_eff"], 16) == 0


def test_child_cannot_signal_the_parent(tmp_path):
    result = run("signal_pid", {"pid": os.getpid()}, tmp_path, timeout_s=30)
    assert result.status == "ok", result
    assert result.value["kill"] in ("ProcessLookupError", "PermissionError")


def test_only_its_own_processes_are_visible(tmp_path):
    if host_support().unshare_flags is None:
        pytest.skip("no pid namespace on this host")
    seen = probe({}, tmp_path, timeout_s=30).value
    assert os.getpid() not in seen["visible_pids"] or len(seen["visible_pids"]) < 5
    assert min(seen["visible_pids"]) == 1


def test_gpus_hidden_unless_pinned(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    hidden = probe({}, tmp_path, timeout_s=30).value["env"]
    assert hidden["CUDA_VISIBLE_DEVICES"] == hidden["HIP_VISIBLE_DEVICES"] == ""
    pinned = probe({}, tmp_path, timeout_s=30, gpu_index=1).value["env"]
    assert pinned["CUDA_VISIBLE_DEVICES"] == pinned["HIP_VISIBLE_DEVICES"] == "5"


def test_proc_is_read_only_without_a_gpu(tmp_path):
    if host_support().landlock_abi is None:
        pytest.skip("landlock unavailable on this kernel")
    seen = probe({"write": ["/proc/self/comm"]}, tmp_path, timeout_s=30).value
    assert seen["write"]["/proc/self/comm"].startswith("PermissionError")


def test_sysctls_stay_read_only_when_a_gpu_run_may_write_proc(tmp_path):
    support = host_support()
    if not (support.proc_read_only and support.network_namespace and support.landlock_abi):
        pytest.skip("needs the read-only /proc mounts, a network namespace and landlock")
    # A per-network-namespace sysctl: harmless even if the defence failed.
    sysctl = "/proc/sys/net/ipv4/ip_default_ttl"
    seen = probe({"write": ["/proc/self/comm", sysctl]}, tmp_path, timeout_s=30, gpu_index=0).value
    assert seen["write"]["/proc/self/comm"] == "ok"  # what CUDA needs
    assert seen["write"][sysctl] == "OSError [errno 30]"  # EROFS: the mount, not the permission


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "MY_SERVICE_TOKEN", "DB_PASSWORD", "AWS_REGION",
                                  "DATABASE_URL", "WARPSMITH_DB", "GITHUB_PAT_SECRET", "HF_HOME", "PGPASSWORD"])
def test_secret_looking_names_never_pass_even_via_env_extra(name, tmp_path):
    from warpsmith.sandbox.config import SandboxConfig
    from warpsmith.sandbox.environment import child_environment

    env, dropped = child_environment(SandboxConfig(env_extra={name: "v"}), tmp_path, parent_env={name: "v"})
    assert name not in env and dropped == [name]
