"""Trusted probe entries that report what a sandboxed child can see and do, and a live check.

Owns: `nothing` (measures start-up), `observe` (environment, cwd, stdin, capabilities, and
attempts to connect / read / write what the payload names) and `live_check()`, which runs
`observe` in a real sandbox against a listening socket and a secret file the parent planted,
for `warpsmith doctor`. Does not own: enforcement. The probes only look; they never escape.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from pathlib import Path


def nothing(payload: dict, workdir: Path) -> dict:
    return {}


def _attempt(action) -> str:
    try:
        action()
        return "ok"
    except OSError as exc:
        return type(exc).__name__ + (f" [errno {exc.errno}]" if exc.errno else "")


def _connect(host: str, port: int) -> None:
    with socket.create_connection((host, port), timeout=2):
        pass


def observe(payload: dict, workdir: Path) -> dict:
    """What the child sees. payload: {"connect": [host, port], "read": [...], "write": [...]}."""
    status = Path("/proc/self/status").read_text()
    cap_eff = next(line.split()[1] for line in status.splitlines() if line.startswith("CapEff"))
    observed = {
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "workdir": str(workdir),
        "stdin": os.readlink("/proc/self/fd/0"),
        "stdin_read": sys.stdin.read(),
        "cap_eff": cap_eff,
        "visible_pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "sys_path_has_cwd": any(Path(p or ".").resolve() == Path.cwd() for p in sys.path),
    }
    if "connect" in payload:
        host, port = payload["connect"]
        observed["connect"] = _attempt(lambda: _connect(host, port))
    observed["read"] = {p: _attempt(lambda p=p: Path(p).read_bytes()) for p in payload.get("read", [])}
    observed["write"] = {p: _attempt(lambda p=p: Path(p).write_text("x")) for p in payload.get("write", [])}
    return observed


def live_check(timeout_s: float = 60.0) -> list[tuple[str, bool, str]]:
    """Run `observe` sandboxed: is the network, a file outside, a planted secret out of reach?"""
    from warpsmith.sandbox.config import SandboxConfig
    from warpsmith.sandbox.process import run_sandboxed

    with tempfile.TemporaryDirectory() as outside, tempfile.TemporaryDirectory() as workdir, \
            socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        secret = Path(outside) / "store.db"
        secret.write_text("secret")
        config = SandboxConfig(timeout_s=timeout_s, env_extra={"WARPSMITH_PROBE_TOKEN": "x"})
        payload = {"connect": ["127.0.0.1", server.getsockname()[1]], "read": [str(secret)]}
        result = run_sandboxed("warpsmith.sandbox.probe:observe", payload, Path(workdir), config)
    if result.status != "ok" or result.value is None:
        return [("live sandbox run", False, f"{result.status}: {(result.error or '').splitlines()[0:1]}")]
    seen = result.value
    return [
        ("live sandbox run", True, f"child started in {result.startup_s:.2f} s"),
        ("live: network", seen["connect"] != "ok", f"connect to the parent's 127.0.0.1 socket: {seen['connect']}"),
        ("live: file outside workdir", seen["read"][str(secret)] != "ok",
         f"read of a planted file: {seen['read'][str(secret)]}"),
        ("live: secrets in environment", "WARPSMITH_PROBE_TOKEN" not in seen["env"],
         "planted token " + ("absent" if "WARPSMITH_PROBE_TOKEN" not in seen["env"] else "VISIBLE")),
        ("live: capabilities", int(seen["cap_eff"], 16) == 0, f"CapEff {seen['cap_eff']}"),
    ]
