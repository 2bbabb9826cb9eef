"""The warm worker's child side: `python -P -m warpsmith.sandbox.warm_server --control-fd N`.

Owns: a fork server that runs inside the same launch chain as a cold child (cgroup, pid /
network / mount namespaces, no capabilities), imports torch and triton once (never touching
CUDA, so forked jobs may still initialise it), then per job receives a launch spec and the
job's pipes over a unix socket (SCM_RIGHTS), forks, and in the fork becomes a normal sandbox
worker: new session, log pipe as stdout/stderr, the job's workdir as cwd, the job's scrubbed
environment, its rlimits and its own Landlock domain (see child.py). After the job it reports
how the job ended, kills every other process in the namespace and says "ready" again.

Does not own: deciding when a worker is spent (warm.py discards it after any fault or
timeout). Stdlib only. Modules the server imported are shared by every job it forks: only
trusted, side-effect-free preloads belong here (torch, triton and the trusted entry's module,
which the parent names with --preload; none of them may initialise CUDA at import).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

from warpsmith.sandbox import child
from warpsmith.sandbox.confine import apply_rlimits
from warpsmith.sandbox.spec import LaunchSpec

PRELOAD = ("torch", "triton")
_FD_FIELDS = ("channel_fd", "status_fd", "lifeline_fd")


def _preload(extra: list[str]) -> list[str]:
    loaded = []
    for name in [*PRELOAD, *extra]:
        try:
            __import__(name)
            loaded.append(name)
        except Exception as exc:  # a preload is an optimisation: the job imports it again
            print(f"warm worker: cannot preload {name}: {exc}", file=sys.stderr, flush=True)
    return loaded


def _run_job(spec: LaunchSpec, env: dict[str, str], log_fd: int) -> None:
    """In the forked job: become an ordinary sandbox worker, then never return."""
    os.setsid()
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    os.chdir(spec.workdir)
    os.environ.clear()
    os.environ.update(env)
    message: dict = {"kind": "error", "value": None, "error": None, "ready_at": None,
                     "confinement": [apply_rlimits(spec.rlimits), "process: warm worker (forked job)"]}
    channel_fd = os.dup(spec.channel_fd)
    os.close(spec.channel_fd)
    os.set_inheritable(channel_fd, False)
    child._work(spec, channel_fd, message)


def _kill_others() -> None:
    """Kill every process of the namespace but this server (pid 1), and reap them."""
    while others := [int(n) for n in os.listdir("/proc") if n.isdigit() and n != "1"]:
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break


def serve(control: socket.socket, extra: list[str]) -> None:
    control.send(json.dumps({"ready": True, "preloaded": _preload(extra)}).encode())
    while True:
        data, fds, _, _ = socket.recv_fds(control, 1 << 22, 4)
        if not data:
            return  # the parent closed its end (or died): the namespace goes with us
        job = json.loads(data)
        job["spec"].update(zip(_FD_FIELDS, fds[:3], strict=True))
        spec, log_fd = LaunchSpec(**job["spec"]), fds[3]
        pid = os.fork()
        if pid == 0:
            control.close()
            os.close(spec.status_fd)
            _run_job(spec, job["env"], log_fd)
        for fd in (spec.channel_fd, spec.lifeline_fd, log_fd):
            os.close(fd)
        child._send(spec.status_fd, child._reap(pid))
        _kill_others()
        control.send(b'{"ready": true}')


def main(argv: list[str]) -> None:
    if os.getpid() != 1:  # _kill_others is only safe as the init of our own pid namespace
        print("warm worker: not pid 1 of a private pid namespace; refusing", file=sys.stderr)
        os._exit(2)
    control = socket.socket(fileno=int(argv[argv.index("--control-fd") + 1]))
    extra = argv[argv.index("--preload") + 1].split(",") if "--preload" in argv else []
    serve(control, [name for name in extra if name])
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
